"""Masks for inpainting: 1 marks a known pixel, 0 a missing one; shape (H, W, 1)."""

from __future__ import annotations

import numpy as np


def random_mask(shape, missing: float = 0.5, seed: int = 0) -> np.ndarray:
    """Each pixel missing with probability ``missing`` (all channels together)."""
    if not 0 <= missing < 1:
        raise ValueError(f"missing is a fraction in [0, 1), got {missing!r}")
    rng = np.random.default_rng(seed)
    return (rng.random((shape[0], shape[1], 1)) >= missing).astype(np.float32)


def text_mask(shape, text: str = "Deep Image Prior", rows: int = 6, seed: int = 0) -> np.ndarray:
    """Lines of large text written over the image (missing where the text is)."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = shape[:2]
    canvas = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(canvas)
    size = max(8, h // (2 * rows))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size font
        font = ImageFont.load_default()
    rng = np.random.default_rng(seed)
    for i in range(rows):
        y = int((i + 0.25) * h / rows)
        x = int(rng.integers(0, max(1, w // 8)))
        draw.text((x, y), (text + " ") * 4, fill=0, font=font)
    return (np.asarray(canvas)[..., None] > 127).astype(np.float32)


def _mask_array(path) -> np.ndarray:
    """The numbers of a ``.npy`` mask as HxWx1 float32 in [0, 1], or a ValueError saying what is wrong."""
    m = np.load(path, allow_pickle=False)
    m = np.asarray(m, np.float32)
    if m.ndim == 3 and m.shape[-1] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"a mask must be 2-D (height x width); '{path}' holds shape {m.shape}")
    bad = int(np.count_nonzero(~np.isfinite(m)))
    if bad:
        raise ValueError(
            f"the mask '{path}' holds {bad} NaN or infinite value(s); use 1 for known pixels, 0 for missing"
        )
    if m.size and (m.min() < 0 or m.max() > 1):
        raise ValueError(f"mask values must lie in [0, 1] (1 = known); '{path}' spans [{m.min():g}, {m.max():g}]")
    return m[..., None]


def load_mask(path, shape=None) -> np.ndarray:
    """A mask from an image file (white, > 0.5, is known; black is missing) or a ``.npy`` array of 0 and 1.

    With ``shape``, a mask of another size is resized to it, if it has the same proportions.
    """
    from .images import load_image, resize_image

    m = _mask_array(path) if str(path).lower().endswith(".npy") else load_image(path, channels=1)
    if shape is not None and m.shape[:2] != tuple(shape[:2]):
        (h, w), (H, W) = m.shape[:2], shape[:2]
        if abs(h / w - H / W) > 0.02 * H / W:
            raise ValueError(
                f"the mask is {h}x{w} but the image is {H}x{W}: a mask must have the image's size "
                "(or at least its proportions)"
            )
        m = resize_image(m, shape[:2])
    return (m > 0.5).astype(np.float32)
