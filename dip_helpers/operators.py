"""Degradation operators ``A``: what turns the clean image into the measurement.

Each operator works on numpy arrays ``(H, W, C)`` to *make* a measurement
(``A.measure(x)``) and on TensorFlow tensors ``(1, H, W, C)`` inside the loss
(``A(x)``), with the same code.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


class Operator:
    """Base class: ``A(x)`` on a batch tensor; ``measure(x)`` on one numpy image."""

    name = "operator"

    def __call__(self, x):
        raise NotImplementedError

    def measure(self, image: np.ndarray) -> np.ndarray:
        """Apply ``A`` to an ``(H, W, C)`` array (no noise added)."""
        return np.asarray(self(tf.convert_to_tensor(image[None], tf.float32))[0])

    def output_shape(self, shape):
        """Shape ``(H, W, C)`` of ``A(x)`` for an image of ``shape``."""
        return tuple(shape)


class Identity(Operator):
    """Denoising: ``A(x) = x``."""

    name = "identity"

    def __call__(self, x):
        return x


class Mask(Operator):
    """Inpainting: ``A(x) = m * x`` with ``m`` 1 on known pixels and 0 on missing ones."""

    name = "mask"

    def __init__(self, mask):
        m = np.asarray(mask, dtype=np.float32)
        if m.ndim == 2:
            m = m[..., None]
        if m.ndim != 3 or not np.all((m == 0) | (m == 1)):
            raise ValueError("a mask is an (H, W) or (H, W, C) array of 0 (missing) and 1 (known)")
        if m.max() == 0:
            raise ValueError("the mask hides every pixel: nothing is known")
        self.mask = m
        self._m = tf.constant(m[None])

    def __call__(self, x):
        return x * self._m

    def output_shape(self, shape):
        if tuple(shape[:2]) != self.mask.shape[:2]:
            raise ValueError(f"mask is {self.mask.shape[:2]} but the image is {tuple(shape[:2])}")
        return tuple(shape)


def lanczos_kernel(factor: int, support: int = 2) -> np.ndarray:
    """1-D Lanczos-``support`` anti-aliasing kernel for downsampling by ``factor`` (even length, sums to 1).

    Taps sit half a pixel off the centre, so that each low-resolution pixel is centred on
    the block of ``factor`` high-resolution pixels it summarises.
    """
    n = 2 * support * factor
    t = (np.arange(n) - (n - 1) / 2) / factor  # tap positions in low-resolution pixels
    k = np.sinc(t) * np.sinc(t / support)
    return (k / k.sum()).astype(np.float64)


def gaussian_kernel(factor: int, sigma: float | None = None) -> np.ndarray:
    """1-D Gaussian kernel (std ``sigma`` high-resolution pixels, default ``factor / 2``), even length 4*factor."""
    sigma = factor / 2 if sigma is None else sigma
    n = 4 * factor
    t = np.arange(n) - (n - 1) / 2
    k = np.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def box_kernel(factor: int) -> np.ndarray:
    """1-D box kernel: the plain average of each block of ``factor`` pixels."""
    return np.full(factor, 1.0 / factor)


class Downsampler(Operator):
    """Super-resolution: blur with a separable kernel then keep one pixel in ``factor`` (edges repeated).

    ``kernel``: 'lanczos2' (the paper's), 'lanczos3', 'gauss' or 'box'; ``factor``: 2, 4 or 8.
    An ``(H, W)`` image becomes ``(H // factor, W // factor)``.
    """

    name = "downsampler"

    def __init__(self, factor: int, kernel: str = "lanczos2"):
        if factor not in (2, 4, 8):
            raise ValueError(f"factor must be 2, 4 or 8, got {factor!r}")
        makers = {"lanczos2": lambda f: lanczos_kernel(f, 2), "lanczos3": lambda f: lanczos_kernel(f, 3),
                  "gauss": gaussian_kernel, "box": box_kernel}
        if kernel not in makers:
            raise ValueError(f"kernel must be one of {', '.join(makers)}, got {kernel!r}")
        self.factor, self.kernel_name = factor, kernel
        self.kernel = makers[kernel](factor)
        self.pad = (len(self.kernel) - factor) // 2
        self._k = tf.constant(self.kernel, tf.float32)

    def _along(self, x, axis: int):
        """Pad (repeat edges) and filter along ``axis`` (1: height, 2: width) with stride ``factor``."""
        n = tf.shape(x)[axis]
        idx = tf.clip_by_value(tf.range(-self.pad, n + self.pad), 0, n - 1)
        x = tf.gather(x, idx, axis=axis)
        c = tf.shape(x)[3]
        planes = tf.transpose(x, [0, 3, 1, 2])  # channels into the batch: one filter for all
        planes = tf.reshape(planes, [-1, tf.shape(x)[1], tf.shape(x)[2], 1])
        k = len(self.kernel)
        kernel = tf.reshape(self._k, [k, 1, 1, 1] if axis == 1 else [1, k, 1, 1])
        strides = [1, self.factor, 1, 1] if axis == 1 else [1, 1, self.factor, 1]
        out = tf.nn.conv2d(planes, kernel, strides, "VALID")
        out = tf.reshape(out, [tf.shape(x)[0], c, tf.shape(out)[1], tf.shape(out)[2]])
        return tf.transpose(out, [0, 2, 3, 1])

    def __call__(self, x):
        return self._along(self._along(x, 1), 2)

    def output_shape(self, shape):
        h, w = shape[:2]
        if h % self.factor or w % self.factor:
            raise ValueError(f"a {h}x{w} image cannot be downsampled by {self.factor}: crop or pad it to a multiple first")
        return (h // self.factor, w // self.factor) + tuple(shape[2:])
