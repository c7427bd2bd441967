"""Solutions for notebook 01 (convolution by hand)."""

import numpy as np


def my_conv2d(image, kernel, padding=0, stride=1):
    """Cross-correlation with zero padding and stride, as tf.nn.conv2d computes it."""
    x = np.pad(np.asarray(image, float), padding)
    kh, kw = kernel.shape
    oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    return np.array(
        [
            [np.sum(x[i * stride : i * stride + kh, j * stride : j * stride + kw] * kernel) for j in range(ow)]
            for i in range(oh)
        ]
    )


#: n=100, k=5, p=2, s=2
OUTPUT_SIZE = 50


#: model answer to the open exercise
OPEN = """\
Exercise 3 (a diagonal edge detector). For an edge along the main diagonal (bright below-left, dark above-right),
compare the two sides of the diagonal:

    k = [[ 0, -1, -1],
         [ 1,  0, -1],
         [ 1,  1,  0]]

It sums to zero (no response on flat regions) and is antisymmetric across the diagonal. On np.tri(8) it responds
strongly along the diagonal; on np.fliplr(np.tri(8)) the two sides cancel everywhere and it gives exactly 0.
np.eye(8) is a thin line, not an edge: both sides of it are dark, so an edge detector answers weakly there,
and a line detector would be the right tool."""
