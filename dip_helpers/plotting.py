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


def plot_rule_losses(ax, lost: dict) -> None:
    """One bar per stopping rule of ``{rule: dB lost per seed}``: the mean, a line from the least to the most lost,
    and a dot per seed."""
    names = list(lost)
    for i, name in enumerate(names):
        v = np.asarray(lost[name], float)
        ax.bar(i, v.mean(), color=f"C{i}", alpha=0.6)
        ax.vlines(i, v.min(), v.max(), color="k", lw=1.5)
        ax.plot(np.full(len(v), i), v, "k.", ms=6)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("dB below the oracle's peak")
    ax.grid(alpha=0.3, axis="y")


def plot_noisy(image, sigma: float = 25, seed: int = 0):
    """Show ``x``, the noise ``eps`` and ``y = x + eps`` with its PSNR and SSIM; returns the figure."""
    noisy = add_gaussian_noise(image, sigma, seed=seed)
    eps = noisy - image
    shown_eps = np.clip(0.5 + eps * 2, 0, 1)  # mid-grey is zero; contrast doubled
    return show_images(
        [image, shown_eps, noisy],
        [
            "clean x",
            f"noise eps (sigma = {sigma:g}/255, x2)",
            f"y: PSNR {psnr(image, noisy):.2f} dB, SSIM {ssim(image, noisy):.3f}",
        ],
    )


def plot_skip_network(model, size=(512, 512)):
    """Draw a skip network (from ``skip_network``) as a U, read from its layers: one row per scale, the encoder on
    the left, the decoder on the right, the skip connections across, with channels and sizes for an input of
    ``size`` = (H, W). Returns the figure."""
    layers = {layer.name: layer for layer in model.layers}
    n = sum(1 for name in layers if name.startswith("down") and name.endswith("_a"))
    down = [layers[f"down{i}_a"].filters for i in range(n)]
    skip = [layers[f"skip{i}"].filters if f"skip{i}" in layers else 0 for i in range(n)]
    up = [layers[f"up{i}_b"].filters if f"up{i}_b" in layers else layers[f"up{i}_a"].filters for i in range(n)]
    resize = [layers[f"up{i}_resize"].interpolation for i in range(n)]
    c_in = [model.input_shape[-1]] + down[:-1]
    deeper = up[1:] + down[-1:]  # what comes back up into scale i: the scale below's output, or the deepest map
    hw = [(size[0] // 2**i, size[1] // 2**i) for i in range(n + 1)]
    fig, ax = plt.subplots(figsize=(11, 1.25 * (n + 2)))
    box = dict(boxstyle="round,pad=0.35", fc="#e8f0fb", ec="#4a6fa5")
    arrow = dict(arrowstyle="->", color="#555", lw=1.2)
    left, right, mid = 0.0, 8.0, 4.0
    for i in range(n):
        y = -1.3 * i
        if i + 1 < n:  # down to the next scale on the left, up from it on the right
            ax.annotate("", (left, y - 1.05), (left, y - 0.25), arrowprops=arrow)
            ax.annotate("", (right, y - 0.3), (right, y - 1.0), arrowprops=arrow)
        ax.text(
            left,
            y,
            f"{'z' if i == 0 else f'scale {i}'}: {hw[i][0]}×{hw[i][1]}, {c_in[i]} ch",
            ha="center",
            va="center",
            bbox=box,
            fontsize=9,
        )
        concat = f"{skip[i]} + {deeper[i]} ch" if skip[i] else f"{deeper[i]} ch"
        ax.text(
            right,
            y,
            f"concat {concat}\n3×3, 1×1 conv → {up[i]} ch, {hw[i][0]}×{hw[i][1]}",
            ha="center",
            va="center",
            bbox=dict(box, fc="#fbf0e8", ec="#a56f4a"),
            fontsize=9,
        )
        if skip[i]:
            ax.annotate("", (right - 1.25, y), (left + 1.25, y), arrowprops=dict(arrow, color="#a56f4a", ls="--"))
            ax.text(mid, y + 0.12, f"skip: 1×1 conv, {skip[i]} ch", ha="center", fontsize=8, color="#a56f4a")
        else:
            ax.text(mid, y + 0.12, "no skip", ha="center", fontsize=8, color="#999")
        ax.text(
            left - 0.15, y - 0.65, f"3×3 conv stride 2,\n3×3 conv: {down[i]} ch", ha="right", va="center", fontsize=8
        )
        ax.text(right + 0.15, y - 0.65, f"×2 upsampling\n({resize[i]})", ha="left", va="center", fontsize=8)
    y = -1.3 * (n - 1) - 1.3
    ax.text(mid, y, f"deepest: {hw[n][0]}×{hw[n][1]}, {down[-1]} ch", ha="center", va="center", bbox=box, fontsize=9)
    ax.annotate("", (mid - 1.2, y + 0.1), (left, y + 1.05), arrowprops=arrow)
    ax.annotate("", (right, y + 1.05), (mid + 1.2, y + 0.1), arrowprops=arrow)
    out = layers["to_image"].filters
    ax.text(
        right,
        1.1,
        f"image: {hw[0][0]}×{hw[0][1]}, {out} ch",
        ha="center",
        va="center",
        bbox=dict(box, fc="#eaf7ea", ec="#4a8a4a"),
        fontsize=9,
    )
    ax.annotate("", (right, 0.85), (right, 0.35), arrowprops=arrow)
    ax.text(right + 0.15, 0.6, "1×1 conv, sigmoid", ha="left", va="center", fontsize=8)
    ax.set_xlim(-3.2, 11.2)
    ax.set_ylim(y - 0.7, 1.6)
    ax.axis("off")
    ax.set_title(f"{model.name}: {n} scales, every convolution followed by batch norm and LeakyReLU(0.2)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_receptive_fields(image, fields: dict, gradient=None):
    """Draw ``image`` with one square per ``{label: size}`` in ``fields``, centred on its middle pixel: the pixels
    that one pixel at that place can depend on. With ``gradient`` (an array of ``image``'s height and width, e.g.
    |d output pixel / d input| summed over channels), draw it beside, on a log scale. Returns the figure."""
    a = np.asarray(image)
    h, w = a.shape[:2]
    cy, cx = h // 2, w // 2
    ncols = 1 if gradient is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 5.2), squeeze=False)
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(fields)))
    draw_image(axes[0, 0], a, "what one pixel in the middle can depend on")
    for (label, size), colour in zip(fields.items(), colours):
        half = size / 2
        axes[0, 0].add_patch(
            plt.Rectangle((cx - half, cy - half), size, size, fill=False, ec=colour, lw=1.8, label=f"{label}: {size}")
        )
    axes[0, 0].plot([cx], [cy], "r+", ms=10)
    axes[0, 0].legend(loc="lower left", fontsize=8, framealpha=0.85)
    if gradient is not None:
        g = np.abs(np.asarray(gradient, dtype=np.float64))
        shown = np.ma.masked_equal(g, 0.0)  # exact zeros drawn black, every other value on the colour scale
        shown = np.ma.log10(shown)
        cmap = plt.cm.magma.copy()
        cmap.set_bad("black")
        axes[0, 1].imshow(shown, cmap=cmap, interpolation="nearest")
        axes[0, 1].set_title("|d output pixel / d z|, log scale (black: exactly 0)", fontsize=10)
        axes[0, 1].axis("off")
    fig.tight_layout()
    return fig


def describe_operator(operator) -> str:
    """``A`` in words, from the operator's own settings (``config()``): which one, and for which task."""
    if operator is None:
        return "A = identity\n(denoising)"
    config = operator.config()
    if config["name"] == "identity":
        return "A = identity\n(denoising)"
    if config["name"] == "mask":
        return f"A = mask: keeps {float(np.mean(operator.mask)):.0%}\nof the pixels (inpainting)"
    if config["name"] == "downsampler":
        return f"A = ×{config['factor']} {config['kernel']}\ndownsampling (super-res.)"
    return f"A = {config['name']}"


def plot_dip_loop(operator=None):
    """Deep Image Prior as one diagram: the fixed input ``z``, the network ``f_theta``, its output, the operator
    ``A`` (described by :func:`describe_operator`), the loss against the measurement ``y``, and the gradient that
    updates ``theta``. Returns the figure."""
    fig, ax = plt.subplots(figsize=(12, 2.8))
    box = dict(boxstyle="round,pad=0.4", fc="#e8f0fb", ec="#4a6fa5")
    arrow = dict(arrowstyle="->", color="#555", lw=1.3)
    row = [
        (0.0, 1.25, "z\nfixed noise, drawn once\n(+ fresh noise n each step)"),
        (3.0, 1.25, "f_θ\nthe untrained skip network\n(weights θ)"),
        (5.8, 0.85, "x = f_θ(z + n)\nthe output image"),
        (8.4, 1.2, describe_operator(operator)),
        (11.1, 1.05, "loss = mean((A x − y)²)"),
    ]  # centre, half the box's width (for the arrows), text
    for x, _, text in row:
        ax.text(x, 0, text, ha="center", va="center", fontsize=9, bbox=box)
    for (x0, w0, _), (x1, w1, _) in zip(row, row[1:]):
        ax.annotate("", (x1 - w1 - 0.1, 0), (x0 + w0 + 0.1, 0), arrowprops=arrow)
    ax.text(11.1, -1.3, "y: the measurement\n(noisy, masked or small)", ha="center", va="center", fontsize=9,
            bbox=dict(box, fc="#fbf0e8", ec="#a56f4a"))  # fmt: skip
    ax.annotate("", (11.1, -0.3), (11.1, -0.95), arrowprops=arrow)
    ax.annotate("", (3.0, -0.5), (10.2, -0.3), arrowprops=dict(arrow, color="#a56f4a", ls="--",
                connectionstyle="arc3,rad=-0.25"))  # fmt: skip
    ax.text(6.6, -1.3, "gradient of the loss: one Adam step updates θ", ha="center", fontsize=9, color="#a56f4a")
    ax.set_xlim(-1.5, 12.5)
    ax.set_ylim(-1.8, 0.6)
    ax.axis("off")
    fig.tight_layout()
    return fig
