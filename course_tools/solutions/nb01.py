"""Solutions for notebook 01 (convolution by hand)."""

import numpy as np


def my_conv2d(image, kernel, padding=0, stride=1):
    """Cross-correlation with zero padding and stride, as tf.nn.conv2d computes it."""
    x = np.pad(np.asarray(image, float), padding)
    kh, kw = kernel.shape
    oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    return np.array([[np.sum(x[i * stride : i * stride + kh, j * stride : j * stride + kw] * kernel)
                      for j in range(ow)] for i in range(oh)])


#: n=100, k=5, p=2, s=2
OUTPUT_SIZE = 50
