"""Stopping rules that need no clean image, free of Keras: Monte-Carlo SURE and what it is built from, and the test
of the authors' backtracking.

SURE (Stein's unbiased risk estimate) of a denoiser ``f`` at a measurement ``y = x + eps``, ``eps`` Gaussian of std
``sigma``, over the ``N`` values of the image::

    SURE = mean((y - f(y))**2) - sigma**2 + 2 * sigma**2 * div f(y) / N

Its mean over the noise is the true ``mean((f(y) - x)**2)``, which needs ``x``. The divergence (the sum of
``d f_i / d y_i``) is estimated the Monte-Carlo way of Ramani, Blu and Unser (2008): with a fixed random image ``b``
of standard normal pixels and a small ``delta``, ``div f(y) / N`` is close to
``mean(b * (f(y + delta b) - f(y))) / delta``.
For DIP, ``f(y)`` is the output after ``t`` steps of a fit on ``y``, so ``f(y + delta b)`` is the output after ``t``
steps of a second fit, on ``y + delta b``, with the same seed and input ``z``.
"""

from __future__ import annotations

import numpy as np


def sure_direction(shape, seed: int = 0) -> np.ndarray:
    """The fixed random image ``b`` of SURE's divergence estimate: standard normal pixels, drawn from ``seed``."""
    return np.random.default_rng([seed, 2008]).standard_normal(shape).astype(np.float32)


def probe(output, b) -> float:
    """``mean(b * output)``: the number per step that the divergence estimate compares between the two fits."""
    return float(np.mean(np.asarray(b, np.float64) * np.asarray(output, np.float64)))


def sure_risk(mse_to_y, probe_y, probe_perturbed, sigma: float, delta: float):
    """SURE's estimate of ``mean((f(y) - x)**2)`` from ``mean((y - f(y))**2)``, the probes of ``f(y)`` and of
    ``f(y + delta b)`` (:func:`probe`), the noise std ``sigma`` and the step ``delta``; numbers or arrays (one per
    step)."""
    divergence = (np.asarray(probe_perturbed, np.float64) - np.asarray(probe_y, np.float64)) / delta
    return np.asarray(mse_to_y, np.float64) - sigma**2 + 2 * sigma**2 * divergence


def falls_back(psnr_now: float, psnr_good: float, drop_db: float = 5.0) -> bool:
    """The authors' backtracking test: whether a step's PSNR to ``y`` fell more than ``drop_db`` below the last good
    step's (a NaN falls too)."""
    return not psnr_now >= psnr_good - drop_db


def first_backtrack(psnr_measured, drop_db: float = 5.0) -> int | None:
    """The first step (counted from 1) at which backtracking would undo a run whose per-step PSNR to ``y`` is
    ``psnr_measured``, or None: then a run with backtracking is that very run, step for step."""
    for t in range(1, len(psnr_measured)):
        if falls_back(float(psnr_measured[t]), float(psnr_measured[t - 1]), drop_db):
            return t + 1
    return None
