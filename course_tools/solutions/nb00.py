"""Solutions for notebook 00 (images, noise and PSNR)."""

import numpy as np

CONCEPT_ANSWERS = (
    "Doubling sigma multiplies the noise variance, which is the MSE, by 4, and PSNR = 10 log10(1 / MSE) falls by "
    "10 log10(4), about 6 dB (the formula 20 log10(255 / sigma) says the same: 20 log10(2) per doubling).",  # 1
    "Yes: PSNR depends only on the average squared error, not on where the error lies or what shape it has; noise "
    "and a uniform brightening of the same MSE have the same PSNR and look very different. SSIM, which compares local "
    "means, contrasts and correlations, tells them apart (and so does looking at the images).",  # 2
    "Only the measurement y; the clean image x is unknown in practice. The course starts from a clean image and adds "
    "the noise itself, so it knows x and can compute PSNR(x, y) to grade every method; a real restoration has no x "
    "to compare with.",  # 3
    "It halves the image five times (stride-2 convolutions) and doubles it back five times (upsampling), so a side "
    "must be divisible by 2**5 = 32 to come back to its size. Crop the centre to the largest multiple of 32, or pad "
    "(mirroring the bottom and right edges) to the next one and crop the result afterwards.",  # 4
)


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
