"""Figures: a row of images, PSNR curves, the noise model at a glance."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .images import add_gaussian_noise
from .metrics import psnr, ssim


def show_images(images, titles=None, ncols: int | None = None, size: float = 3.2):
    """Draw images side by side (grey ones in grey, values clipped to [0, 1]); returns the figure."""
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        draw_image(ax, image, title)
    fig.tight_layout()
    return fig


def draw_image(ax, image, title: str = "") -> None:
    """Draw one image on ``ax`` (grey ones in grey, values clipped to [0, 1]), without axes."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    ax.imshow(np.clip(a, 0, 1), cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def plot_psnr_curves(ax, curves: dict) -> None:
    """Plot every ``psnr*`` entry of ``{name: per-step values}`` against the step (counted from 1)."""
    for k, v in curves.items():
        if k.startswith("psnr"):
            ax.plot(np.arange(1, len(v) + 1), v, label=k)
    ax.set_xlabel("step")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)


def plot_noisy(image, sigma: float = 25, seed: int = 0):
    """Show ``x``, the noise ``eps`` and ``x0 = x + eps`` with its PSNR and SSIM; returns the figure."""
    noisy = add_gaussian_noise(image, sigma, seed=seed)
    eps = noisy - image
    shown_eps = np.clip(0.5 + eps * 2, 0, 1)  # mid-grey is zero; contrast doubled
    return show_images(
        [image, shown_eps, noisy],
        ["clean x", f"noise eps (sigma = {sigma:g}/255, x2)", f"x0: PSNR {psnr(image, noisy):.2f} dB, SSIM {ssim(image, noisy):.3f}"],
    )
