"""Solutions for notebook 01 (convolution by hand)."""

import numpy as np

CONCEPT_ANSWERS = (
    "The two differ only by flipping the kernel in both directions. The kernels are learned, so a network that "
    "computes cross-correlations simply learns the flipped kernels: it can represent exactly the same functions.",  # 1
    "p = 2. With stride 1 the output has n + 2p - k + 1 pixels along a side, which equals n when 2p = k - 1: p = 1 "
    "for k = 3 and p = 2 for k = 5.",  # 2
    "The Laplacian compares the centre with its four neighbours (its weights sum to 0): a second difference. On a "
    "linear ramp each neighbour is as far above the centre as the opposite one is below, so the terms cancel. Sobel "
    "takes a first difference, which on a ramp is the slope, not 0.",  # 3
    "It would put black pixels around the image, so every convolution near the border sees an artificial jump to 0: "
    "a dark or edge-like frame, which deeper layers spread inward. Reflection copies the image's own border pixels "
    "outward, so the windows see plausible values and no artificial edge.",  # 4
)


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
