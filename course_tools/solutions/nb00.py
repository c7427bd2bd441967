"""Solutions for notebook 00 (images, noise and PSNR)."""

import numpy as np


def my_psnr(x, y):
    """PSNR for images in [0, 1]: mean squared error, then decibels."""
    err = np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
    return 10 * np.log10(1.0 / err)


#: noise level (0-255 scale) for 30 dB: 20 log10(255 / sigma) = 30
SIGMA_30DB = 255 / 10 ** (30 / 20)


#: model answer to the open exercise
OPEN = """\
Exercise 3 (clipping). Clipping to [0, 1] can only move a noisy value closer to the clean one, which is itself in
[0, 1]: a value pushed above 1 comes back to 1, nearer to any clean value. So the error shrinks and the PSNR rises,
most at large sigma and for pixels near black or white, where much of the noise falls outside [0, 1]."""
