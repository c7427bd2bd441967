"""Solutions for notebook 03 (inverse problems and classical priors)."""

import numpy as np


def my_tv(x, eps=1e-6):
    """Isotropic total variation, averaged over the pixels that have a right and a lower neighbour."""
    dx = x[:-1, 1:, :] - x[:-1, :-1, :]
    dy = x[1:, :-1, :] - x[:-1, :-1, :]
    return float(np.mean(np.sqrt(dx**2 + dy**2 + eps)))


def my_grad(x, y, m):
    """Gradient of mean((m x - m y)^2) with respect to x."""
    return 2 * m**2 * (x - y) / x.size


#: model answer to the open exercise
OPEN = """\
Exercise 3 (super-resolution with a prior). With the data term alone, every high-resolution image with the same
downsampled version is as good, and gradient descent leaves the detail the downsampler removes where it started.
A TV prior picks, among them, the one with the smallest total variation: edges become sharp and flat regions
flat (a cartoon-like look), and the PSNR usually rises a little over the data term alone; too large a lambda
erases texture and lowers it."""
