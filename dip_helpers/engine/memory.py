"""Will a DIP run fit in memory? Checked before it starts, so that a large photograph gets advice, not a crash.

The estimate comes from ``python -m dip_helpers bench`` (peak memory of one training step of the skip network):
about 1 GB for the framework, plus 72 bytes per pixel and per channel of the network in float32 (56 in mixed
bfloat16 or float16), the pixels counted at the padded input size.
"""

from __future__ import annotations

import math

from .. import settings
from . import backend
from .config import PRECISIONS

BASE_GB = 1.0
BYTES_PER_PIXEL_CHANNEL = {"float32": 72, "mixed_bfloat16": 56, "mixed_float16": 56}
assert set(BYTES_PER_PIXEL_CHANNEL) == set(PRECISIONS), "one memory estimate per precision"


class RunTooLarge(ValueError):
    """The run would not fit in the memory that is free; the message says what would."""


def estimate_gb(height: int, width: int, channels: int, precision: str = "float32") -> float:
    """Peak memory, in GB, of a DIP run on a ``height`` x ``width`` (padded) input with ``channels`` per scale."""
    return BASE_GB + height * width * channels * BYTES_PER_PIXEL_CHANNEL[precision] / 1e9


def available_gb() -> tuple[float, str] | None:
    """Free memory where the run will compute, in GB, and where that is; ``None`` when it cannot be told."""
    try:
        where = backend.device()
    except (OSError, KeyError, ValueError, TypeError, AttributeError):  # a device that does not answer
        return None
    if where.free_gb is None:
        return None  # e.g. TensorFlow on a GPU: it does not say how much memory is free
    return where.free_gb, f"is free on the GPU ({where.name})" if where.kind == "GPU" else "of RAM is available"


def out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a framework's out-of-memory error (TensorFlow, JAX/XLA, PyTorch, or NumPy's own)."""
    text = f"{type(err).__name__}: {err}"
    return isinstance(err, MemoryError) or any(
        word in text for word in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "OutOfMemory", "out of memory", "OOM when")
    )


def check_fits(height: int, width: int, channels: int, precision: str = "float32") -> None:
    """Raise :class:`RunTooLarge`, saying what would fit, when the run needs more memory than is free.

    ``DIP_MEMORY_CHECK=0`` in the environment skips the check.
    """
    if not settings.flag("DIP_MEMORY_CHECK"):
        return
    free = available_gb()
    need = estimate_gb(height, width, channels, precision)
    if free is None or need <= 0.9 * free[0]:
        return
    budget = 0.9 * free[0] - BASE_GB
    per_pixel = channels * BYTES_PER_PIXEL_CHANNEL[precision] / 1e9
    side = int(math.sqrt(max(budget, 0) / per_pixel) // 32 * 32) if budget > 0 else 0
    fewer = int(max(budget, 0) / (height * width * BYTES_PER_PIXEL_CHANNEL[precision] / 1e9))
    options = [
        f"a smaller image (--size {side}, or load_image(..., size={side}))" if side >= 64 else None,
        f"fewer channels (--channels {fewer})" if fewer >= 8 else None,
        "mixed precision (--precision mixed_bfloat16)"
        if precision == "float32"
        and estimate_gb(height, width, channels, "mixed_bfloat16") <= 0.9 * free[0]
        and (backend.has_gpu() or backend.onednn_enabled() is not False)  # slow on TensorFlow's plain CPU kernels
        else None,
    ]
    advice = "; ".join(o for o in options if o) or "a smaller image"
    raise RunTooLarge(
        f"this run needs about {need:.1f} GB ({height}x{width} pixels after padding, {channels} channels, "
        f"{precision}) but only {free[0]:.1f} GB {free[1]}. What would fit: {advice}. "
        "(The estimate is cautious: set DIP_MEMORY_CHECK=0 to try anyway.)"
    )
