"""Self-checks for the exercises.  Each prints a verdict and returns True, False or None (not attempted)."""

from __future__ import annotations

import math

import numpy as np

from .metrics import psnr


def _verdict(ok: bool, good: str, bad: str) -> bool:
    print(("✅ " + good) if ok else ("❌ " + bad))
    return ok


def _attempted(value, name: str) -> bool:
    if value is None:
        print(f"⏳ {name} is not filled in yet.")
        return False
    return True


def check_psnr(my_psnr) -> bool | None:
    """Compare the student's ``my_psnr(x, y)`` with :func:`dip_helpers.psnr` on random images."""
    rng = np.random.default_rng(7)
    x = rng.random((16, 16, 3)).astype(np.float32)
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
    try:
        got = my_psnr(x, y)
    except NotImplementedError:
        got = None
    if not _attempted(got, "my_psnr"):
        return None
    want = psnr(x, y)
    return _verdict(
        math.isclose(float(got), want, abs_tol=1e-3),
        f"my_psnr agrees with dip_helpers.psnr ({want:.3f} dB).",
        f"my_psnr gave {float(got):.3f} dB, expected {want:.3f} dB. Hint: MSE first, then 10*log10(1/MSE).",
    )


def check_sigma_for_psnr(sigma, target_db: float) -> bool | None:
    """Check the noise level (0-255 scale) whose expected PSNR, without clipping, is ``target_db``."""
    if not _attempted(sigma, "sigma"):
        return None
    want = 255 * 10 ** (-target_db / 20)
    return _verdict(
        math.isclose(float(sigma), want, rel_tol=1e-2),
        f"sigma = {want:.2f} gives {target_db:g} dB.",
        f"sigma = {float(sigma):.2f} gives {20 * math.log10(255 / float(sigma)):.2f} dB, not {target_db:g}. "
        "Hint: MSE = (sigma/255)^2 without clipping.",
    )
