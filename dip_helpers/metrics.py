"""Image quality: MSE, PSNR and SSIM, written out so they can be read."""

from __future__ import annotations

import numpy as np


def _check_pair(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {x.shape} and {y.shape}")
    return x, y


def mse(x, y) -> float:
    """Mean squared error over all pixels and channels."""
    x, y = _check_pair(x, y)
    return float(np.mean((x - y) ** 2))


def psnr(x, y, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)`` (``inf`` for equal images)."""
    err = mse(x, y)
    return float("inf") if err == 0 else float(10 * np.log10(data_range**2 / err))


def _gaussian_blur(plane: np.ndarray, sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-(t**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    padded = np.pad(plane, radius, mode="symmetric")
    rows = sum(k * padded[i : i + plane.shape[0], :] for i, k in enumerate(kernel))
    return sum(k * rows[:, i : i + plane.shape[1]] for i, k in enumerate(kernel))


def ssim(x, y, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004) with an 11x11 Gaussian window (sigma 1.5).

    Averages the SSIM map over pixels (an image border of 5 left out) and channels;
    matches ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    use_sample_covariance=False)``.
    """
    x, y = _check_pair(x, y)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    if min(x.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {x.shape[:2]}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    scores = []
    for c in range(x.shape[-1]):
        a, b = x[..., c], y[..., c]
        mu_a, mu_b = _gaussian_blur(a), _gaussian_blur(b)
        var_a = _gaussian_blur(a * a) - mu_a**2
        var_b = _gaussian_blur(b * b) - mu_b**2
        cov = _gaussian_blur(a * b) - mu_a * mu_b
        smap = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        scores.append(smap[5:-5, 5:-5].mean())
    return float(np.mean(scores))


def rgb_to_y(image):
    """Luma Y (ITU-R BT.601, as MATLAB's rgb2ycbcr) of an RGB image in [0, 1], on the [16/255, 235/255] scale."""
    a = np.asarray(image, dtype=np.float64)
    return (16.0 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0


def psnr_y(x, y, crop: int = 4) -> float:
    """PSNR on the Y channel with ``crop`` pixels cut from every border: how super-resolution papers report it."""
    x, y = _check_pair(x, y)
    if x.ndim == 3 and x.shape[-1] == 3:
        x, y = rgb_to_y(x), rgb_to_y(y)
    elif x.ndim == 3:
        x, y = x[..., 0], y[..., 0]
    if crop:
        x, y = x[crop:-crop, crop:-crop], y[crop:-crop, crop:-crop]
    return psnr(x, y)
