"""Solutions for notebook 03 (inverse problems and classical priors)."""

import numpy as np

CONCEPT_ANSWERS = (
    "Its minimum is x = y, reached exactly: the noisy image explains the measurement perfectly, and nothing in the "
    "data term tells noise from image. Separating them needs a prior (or, in Deep Image Prior, a network and early "
    "stopping).",  # 1
    "It gives the prior more weight against the data term: the result moves away from y and becomes smoother "
    "(blurrier with Tikhonov, flatter with TV). Too small a lambda leaves the noise, too large erases the image's "
    "detail with it, so the best PSNR lies in between; where depends on the image and the noise level.",  # 2
    "Tikhonov penalises squared differences, so one jump of height h costs h^2 while a ramp of n steps of h/n costs "
    "only h^2/n: it smears edges into ramps. TV penalises the gradient's length linearly, so the jump and the ramp "
    "both cost h; it still removes small wiggles, but has no reason to spread an edge.",  # 3
    "Then the minimum of ||A(f_theta(z)) - y||^2 over theta would equal the minimum of ||A(x) - y||^2 over x: the "
    "data term alone, which for denoising is the noisy image. The prior comes from which images the network reaches "
    "easily and early from a random start (its convolutional architecture and the optimisation path), so the run "
    "must be stopped before it fits the noise.",  # 4
)


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
