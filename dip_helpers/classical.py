"""Classical restorations from scikit-image, with the course's image conventions (H, W, C in [0, 1])."""

from __future__ import annotations

import numpy as np


def _channel_axis(image):
    return -1 if image.shape[-1] > 1 else None


def _squeeze(image):
    return image if image.shape[-1] > 1 else image[..., 0]


def _unsqueeze(result, like):
    return np.clip(np.asarray(result, np.float32).reshape(like.shape), 0, 1)


def tv_denoise(noisy, weight: float = 0.08):
    """Total-variation denoising (Chambolle's algorithm)."""
    from skimage.restoration import denoise_tv_chambolle

    return _unsqueeze(denoise_tv_chambolle(_squeeze(noisy), weight=weight, channel_axis=_channel_axis(noisy)), noisy)


def nl_means(noisy, sigma: float):
    """Non-local means with scikit-image's suggested settings for noise std ``sigma`` (0-255 scale)."""
    from skimage.restoration import denoise_nl_means

    s = sigma / 255
    out = denoise_nl_means(
        _squeeze(noisy),
        h=0.8 * s,
        sigma=s,
        fast_mode=True,
        patch_size=5,
        patch_distance=6,
        channel_axis=_channel_axis(noisy),
    )
    return _unsqueeze(out, noisy)


def biharmonic_inpaint(image, mask):
    """Fill the pixels where ``mask`` is 0 by biharmonic interpolation."""
    from skimage.restoration import inpaint_biharmonic

    missing = np.asarray(mask)[..., 0] == 0
    return _unsqueeze(inpaint_biharmonic(_squeeze(image), missing, channel_axis=_channel_axis(image)), image)


def upscale(image, factor: int, method: str = "bicubic"):
    """Enlarge by ``factor`` with 'nearest', 'bilinear' or 'bicubic' interpolation (Pillow)."""
    from .images import resample

    if method not in ("nearest", "bilinear", "bicubic"):
        raise ValueError(f"method must be one of nearest, bilinear, bicubic, got {method!r}")
    h, w = image.shape[:2]
    return resample(image, (h * factor, w * factor), method)


def cbm3d_reference(image: str, size: int) -> dict | None:
    """CBM3D's, non-local means' and TV's PSNR on notebook 05's noisy image (sigma 25, seed 0), measured once.

    Returns ``{"noisy", "cbm3d", "nl_means", "tv": PSNR in dB, "seconds": each method's time, "about": how they
    were measured}`` for ``image`` at ``size``, or None when ``data/cbm3d_sigma25.json`` or that entry is missing.
    The numbers were measured by ``benchmarks/cbm3d.py`` with the ``bm3d`` package, whose licence is non-commercial
    only: it is not a dependency of the course.
    """
    import json

    from .images import data_dir

    path = data_dir() / "cbm3d_sigma25.json"
    try:
        table = json.loads(path.read_text())
        entry = table["psnr"][image][str(size)]
        seconds = table["seconds"][image][str(size)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**entry, "seconds": seconds, "about": table.get("about", {})}
