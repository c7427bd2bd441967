"""Solutions for notebook 00 (images, noise and PSNR)."""

import numpy as np


def my_psnr(x, y):
    """PSNR for images in [0, 1]: mean squared error, then decibels."""
    err = np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
    return 10 * np.log10(1.0 / err)


#: noise level (0-255 scale) for 30 dB: 20 log10(255 / sigma) = 30
SIGMA_30DB = 255 / 10 ** (30 / 20)
