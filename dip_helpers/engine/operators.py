"""Degradation operators ``A``: what turns the clean image into the measurement.

Each operator works on tensors ``(1, H, W, C)`` inside the loss (``A(x)``) and on one
numpy image ``(H, W, C)`` to *make* a measurement (``A.measure(x)``), with the same
``keras.ops`` code on every backend. Each also describes itself: :meth:`Operator.image_shape`
(the image size behind a measurement) and :meth:`Operator.config` (what the result cache hashes).
"""

from __future__ import annotations

import hashlib

import numpy as np
from keras import ops


class Operator:
    """Base class: ``A(x)`` on a batch tensor; ``measure(x)`` on one numpy image."""

    name = "operator"

    def __call__(self, x):
        raise NotImplementedError

    def measure(self, image: np.ndarray) -> np.ndarray:
        """Apply ``A`` to an ``(H, W, C)`` array (no noise added)."""
        x = ops.convert_to_tensor(np.asarray(image, np.float32)[None])
        return ops.convert_to_numpy(self(x))[0]

    def output_shape(self, shape) -> tuple:
        """Shape ``(H, W, C)`` of ``A(x)`` for an image of ``shape``."""
        return tuple(shape)

    def image_shape(self, measurement_shape) -> tuple:
        """Shape ``(H, W, C)`` of the image whose measurement has ``measurement_shape``."""
        return tuple(measurement_shape)

    def config(self) -> dict:
        """Everything that defines this operator, as plain values (the result cache hashes it)."""
        return {"name": self.name}


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
        self._m = ops.convert_to_tensor(m[None])

    def __call__(self, x):
        return x * self._m

    def output_shape(self, shape):
        if tuple(shape[:2]) != self.mask.shape[:2]:
            raise ValueError(f"mask is {self.mask.shape[:2]} but the image is {tuple(shape[:2])}")
        return tuple(shape)

    def image_shape(self, measurement_shape):
        return self.output_shape(measurement_shape)

    def config(self):
        return {
            "name": self.name,
            "shape": list(self.mask.shape),
            "sha256": hashlib.sha256(np.ascontiguousarray(self.mask).tobytes()).hexdigest(),
        }


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


def downsampling_matrix(n: int, kernel: np.ndarray, factor: int) -> np.ndarray:
    """The ``(n // factor, n)`` matrix that filters a line of ``n`` pixels with ``kernel`` and keeps one in ``factor``.

    Row ``i`` holds the kernel's taps over the pixels around block ``i`` (edges repeated), so that
    ``D @ line`` is the filtered line, already subsampled.
    """
    k, pad = len(kernel), (len(kernel) - factor) // 2
    matrix = np.zeros((n // factor, n))
    for i in range(n // factor):
        pixels = np.clip(np.arange(i * factor - pad, i * factor - pad + k), 0, n - 1)  # edges repeated
        np.add.at(matrix[i], pixels, kernel)
    return matrix.astype(np.float32)


class Downsampler(Operator):
    """Super-resolution: blur with a separable kernel then keep one pixel in ``factor`` (edges repeated).

    ``kernel``: 'lanczos2' (the paper's), 'lanczos3', 'gauss' or 'box'; ``factor``: 2, 4 or 8.
    An ``(H, W)`` image becomes ``(H // factor, W // factor)``: ``A(x) = D_H x D_W^T`` for every
    channel, with the two matrices of :func:`downsampling_matrix`. Matrix products run on every
    backend and every CPU (a depthwise convolution with unequal strides does not).
    """

    name = "downsampler"
    KERNELS = {
        "lanczos2": lambda f: lanczos_kernel(f, 2),
        "lanczos3": lambda f: lanczos_kernel(f, 3),
        "gauss": gaussian_kernel,
        "box": box_kernel,
    }

    def __init__(self, factor: int, kernel: str = "lanczos2"):
        if factor not in (2, 4, 8):
            raise ValueError(f"factor must be 2, 4 or 8, got {factor!r}")
        if kernel not in self.KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(self.KERNELS)}, got {kernel!r}")
        self.factor, self.kernel_name = factor, kernel
        self.kernel = self.KERNELS[kernel](factor)
        self._matrices = {}

    def matrix(self, n: int) -> np.ndarray:
        """:func:`downsampling_matrix` for a side of ``n`` pixels (made once per size)."""
        if n not in self._matrices:
            self._matrices[n] = downsampling_matrix(n, self.kernel, self.factor)
        return self._matrices[n]

    def __call__(self, x):
        x = ops.cast(x, "float32")
        rows, cols = (ops.convert_to_tensor(self.matrix(n)) for n in x.shape[1:3])
        x = ops.einsum("ih,bhwc->biwc", rows, x)  # along the height
        return ops.einsum("jw,biwc->bijc", cols, x)  # along the width

    def output_shape(self, shape):
        h, w = shape[:2]
        if h % self.factor or w % self.factor:
            raise ValueError(
                f"a {h}x{w} image cannot be downsampled by {self.factor}: crop or pad it to a multiple first"
            )
        return (h // self.factor, w // self.factor) + tuple(shape[2:])

    def image_shape(self, measurement_shape):
        h, w = measurement_shape[:2]
        return (h * self.factor, w * self.factor) + tuple(measurement_shape[2:])

    def config(self):
        return {"name": self.name, "factor": self.factor, "kernel": self.kernel_name}
