"""Runs with the paper's settings, computed once on a GPU by this course's engine and shipped with the course.

Each run is two files in ``data/paper_runs/``: ``NAME.npz`` (curves and a few small images) and
``NAME.json`` (how it was made: engine version, backend, GPU, date, seed, settings).
``python -m course_tools paper-runs`` makes them (on a GPU, inside ``benchmarks/gpu_check.py``). The notebooks
show them beside the student's own run, labelled as what they are; a copy of the course without them says so and
goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .images import data_dir


def paper_runs_dir() -> Path:
    """Where the precomputed runs live: ``data/paper_runs/``."""
    return data_dir() / "paper_runs"


def save_paper_run(name: str, arrays: dict, about: dict, folder=None) -> Path:
    """Write ``NAME.npz`` (``arrays``: curves as 1-D arrays, images as (H, W, C) in [0, 1], kept as 8-bit)
    and ``NAME.json`` (``about``) into ``folder`` (default: :func:`paper_runs_dir`)."""
    folder = Path(folder) if folder is not None else paper_runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    packed = {
        k: (np.round(np.clip(v, 0, 1) * 255).astype(np.uint8) if np.ndim(v) == 3 else np.asarray(v, np.float32))
        for k, v in arrays.items()
    }
    np.savez_compressed(folder / f"{name}.npz", **packed)
    (folder / f"{name}.json").write_text(json.dumps(about, indent=1, sort_keys=True))
    return folder / f"{name}.npz"


def load_paper_run(name: str, folder=None):
    """``(arrays, about)`` for the run ``NAME``, images back in [0, 1]; ``None`` when this copy has no such run."""
    folder = Path(folder) if folder is not None else paper_runs_dir()
    path, meta = folder / f"{name}.npz", folder / f"{name}.json"
    if not (path.is_file() and meta.is_file()):
        return None
    with np.load(path) as f:
        arrays = {k: f[k].astype(np.float32) / 255 if f[k].dtype == np.uint8 else f[k] for k in f.files}
    return arrays, json.loads(meta.read_text())


def label(about: dict) -> str:
    """One line saying what a precomputed run is: the paper's settings (or a toy run), on which GPU, by which engine,
    when."""
    what = "a toy run (tiny image, few steps: not the paper's settings)" if about.get("toy") else "the paper's settings"
    return (
        f"{what}, computed on a GPU ({about.get('gpu', '?')}) by this course's engine "
        f"({about.get('backend', '?')}, engine version {about.get('engine_version', '?')}, {about.get('date', '?')})"
    )


def missing_note(name: str) -> str:
    return (
        f"The paper-settings run '{name}' is not in this copy of the course yet (data/paper_runs/{name}.npz): "
        "it is computed once on a GPU (python -m course_tools paper-runs). Your own run above is complete without it."
    )


def show_paper_curves(name: str, keys, live: dict | None = None, title: str = "", logy: bool = False):
    """Plot the precomputed run's curves ``keys`` (and, dashed, the same curves of ``live``, a history dict;
    ``logy``: a logarithmic y axis).

    Returns the figure, or ``None`` (after saying so) when the run is not there.
    """
    import matplotlib.pyplot as plt

    run = load_paper_run(name)
    if run is None:
        print(missing_note(name))
        return None
    arrays, about = run
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for key in keys:
        ax.plot(np.arange(1, len(arrays[key]) + 1), arrays[key], label=f"{key} (paper's settings)")
        if live is not None and key in live:
            ax.plot(np.arange(1, len(live[key]) + 1), live[key], "--", label=f"{key} (your run)")
    ax.set_xlabel("step")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title or label(about), fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def paper_snapshot_view(name: str, prefix: str = "snapshot_"):
    """A step slider over the precomputed run's snapshots (arrays named ``snapshot_<step>``), or ``None``."""
    from .plotting import show_images
    from .widgets import choice_view

    run = load_paper_run(name)
    if run is None:
        print(missing_note(name))
        return None
    arrays, about = run
    steps = sorted(int(k[len(prefix) :]) for k in arrays if k.startswith(prefix))
    if not steps:
        return None

    def draw(step):
        return show_images([arrays[f"{prefix}{step}"]], [f"step {step} (paper's settings)"], size=4)

    return choice_view(draw, steps, value=steps[len(steps) // 2], label="step (paper's run)", slider=True)
