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


def load_mask(path, shape=None) -> np.ndarray:
    """A mask from an image file: white (> 0.5) is known, black is missing; resized to ``shape`` if given."""
    from .images import load_image, resize_image

    m = load_image(path, channels=1)
    if shape is not None and m.shape[:2] != tuple(shape[:2]):
        m = resize_image(m, shape[:2])
    return (m > 0.5).astype(np.float32)
