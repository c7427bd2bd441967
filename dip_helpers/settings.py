"""Every environment variable the course reads: its meaning and its default. The package reads them through
:func:`get` and :func:`flag`; ``python -m dip_helpers settings`` prints the list with the current values."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    """One environment variable: its ``name``, its ``default`` (the value when unset) and what it means."""

    name: str
    default: str
    meaning: str


VARIABLES = {
    v.name: v
    for v in (
        Variable("DIP_PROFILE", "", "the run-time profile: ci, cpu, gpu or paper (unset: chosen automatically)"),
        Variable("DIP_STRICT", "0", "1: a notebook check whose effect is missing raises instead of warning"),
        Variable("DIP_CACHE", "", "a folder where fit_dip keeps finished runs and replays them (unset: no cache)"),
        Variable("DIP_MEMORY_CHECK", "1", "0: skip the check, before a run, that it fits in the free memory"),
        Variable("DIP_DATA", "", "a folder of images to use instead of the course's data/ (unset: data/)"),
        Variable("DIP_CHROMIUM", "/usr/bin/chromium", "tests: the Chromium that the browser tests launch"),
        Variable(
            "DIP_TEST_BACKENDS", "tensorflow jax", "tests: the Keras backends that tests/test_backends.py compares"
        ),
        Variable(
            "DIP_COURSE_DIR",
            "/content/deep-image-prior-course",
            "Colab: where the notebooks' setup cell clones the course (read by that cell, before the package exists)",
        ),
        Variable(
            "DIP_COURSE_GIT_URL",
            "",
            "Colab: the address the setup cell clones from (unset: the course's GitHub address; read by that cell)",
        ),
        Variable("KERAS_BACKEND", "", "the framework: tensorflow, jax or torch (unset: TensorFlow if installed)"),
        Variable("TF_ENABLE_ONEDNN_OPTS", "", "TensorFlow: 1 or 0 forces its oneDNN CPU kernels on or off"),
        Variable(
            "TF_CPU_ALLOCATOR_USE_BFC",
            "1",
            "TensorFlow: 1 keeps freed tensor memory in a pool for the next tensors (the course sets it unless set)",
        ),
        Variable("CI", "", "set (not 0/false/no): the ci profile, unless DIP_PROFILE says otherwise"),
    )
}


def get(name: str) -> str:
    """The value of the variable ``name`` (one of :data:`VARIABLES`), stripped, or its default when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or VARIABLES[name].default


def flag(name: str) -> bool:
    """Whether the variable ``name`` is switched on: set to anything but ``0``, ``false`` or ``no``."""
    return get(name).lower() not in ("", "0", "false", "no")


def describe() -> str:
    """One line per variable: its name, its current value (or "unset") and what it means."""
    lines = []
    for v in VARIABLES.values():
        now = os.environ.get(v.name)
        lines.append(f"{v.name:>18}: {now if now is not None else 'unset'}  -- {v.meaning}")
    return "\n".join(lines)
