"""Where an image's variation sits in spatial frequency: its radial power spectrum, and band by band how much of a
target's power an output has not matched yet."""

from __future__ import annotations

import numpy as np


def _radius(shape) -> np.ndarray:
    """Distance of each 2-D Fourier coefficient from zero frequency, in cycles per image (numpy's FFT order)."""
    fy = np.fft.fftfreq(shape[0]) * shape[0]
    fx = np.fft.fftfreq(shape[1]) * shape[1]
    return np.hypot(fy[:, None], fx[None, :])


def _power(img) -> np.ndarray:
    """Squared magnitude of the 2-D Fourier transform of an (H, W) or (H, W, C) image, summed over channels."""
    img = np.asarray(img, dtype=np.float64)
    img = img if img.ndim == 3 else img[..., None]
    return (np.abs(np.fft.fft2(img, axes=(0, 1))) ** 2).sum(-1)


def radial_spectrum(img) -> np.ndarray:
    """Power of the (grey, mean-removed) image at each whole frequency 1, 2, ..., side / 2 - 1 (cycles per image),
    averaged over directions."""
    img = np.asarray(img, dtype=np.float64)
    grey = img.mean(-1) if img.ndim == 3 else img
    r = np.rint(_radius(grey.shape)).astype(int).ravel()
    power = _power(grey - grey.mean()).ravel()
    top = min(grey.shape) // 2
    return np.bincount(r, power)[1:top] / np.bincount(r)[1:top]


def octave_bands(side: int) -> list[tuple[int, int]]:
    """Frequency bands for an image of this side, in cycles per image: ``(1, 4)`` first (fewer than a dozen
    coefficients lie below 2, too few to measure a share on), then an octave each, ``(4, 8), (8, 16), ...`` up to
    ``side / 2``."""
    if side < 16:
        raise ValueError(f"an image side of at least 16 pixels is needed for two bands, got {side}")
    bands, low = [(1, 4)], 4
    while 2 * low <= side // 2:
        bands.append((low, 2 * low))
        low *= 2
    return bands


def band_residuals(target, output, bands) -> np.ndarray:
    """For each band ``(low, high)``, the share of the target's power in ``low <= frequency < high`` (cycles per
    image) that the output has not matched yet: ``sum |F(target - output)|^2 / sum |F(target)|^2`` over the band.
    1 for an output of zero, 0 for the target itself; ``nan`` for a band where the target has no power (below
    1e-12 of its power at all non-zero frequencies: rounding)."""
    target = np.asarray(target, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    if target.shape != output.shape:
        raise ValueError(f"target and output must have the same shape, got {target.shape} and {output.shape}")
    r = _radius(target.shape[:2])
    missing, wanted = _power(target - output), _power(target)
    floor = 1e-12 * wanted[r > 0].sum()
    shares = []
    for low, high in bands:
        inside = (r >= low) & (r < high)
        total = wanted[inside].sum()
        shares.append(missing[inside].sum() / total if total > floor else np.nan)
    return np.array(shares)
