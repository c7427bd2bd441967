"""Making the precomputed runs that the notebooks show beside the student's own (``data/paper_runs/``): the
paper's settings, run once on a GPU. ``python -m course_tools paper-runs --out DIR`` makes both;
``benchmarks/gpu_check.py`` makes them inside its timed check. ``toy``: the same code at toy size, on any machine."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

import dip_helpers as dh
from dip_helpers.images import resample

TOY = {"channels": 8, "input_channels": 8}


MADE_BY = "python -m course_tools paper-runs"


def about(config, toy: bool, made_by: str = MADE_BY, **more) -> dict:
    """What a paper run's JSON says of it: the engine, the backend and device, the date, the settings and what made
    it."""
    from dip_helpers.engine import ENGINE_VERSION, backend

    return {"engine_version": ENGINE_VERSION, "backend": backend.running(), "gpu": str(backend.device()),
            "date": time.strftime("%Y-%m-%d"), "settings": dataclasses.asdict(config), "toy": toy,
            "made_by": made_by, **more}  # fmt: skip


def denoising_05(out: Path, toy: bool = False, made_by: str = MADE_BY) -> dict:
    """Notebook 05's experiment with the paper's settings: astronaut 512x512, sigma 25, 6000 steps."""
    size, steps = (32, 8) if toy else (512, 6000)
    x = dh.load_image("astronaut", size=size)
    noisy = dh.add_gaussian_noise(x, 25, seed=0)
    cfg = dh.DIPConfig(steps=steps, snapshot_every=max(1, steps // 12), **(TOY if toy else {}))
    r = dh.fit_dip(noisy, config=cfg, truth=x, verbose=False)
    keep = sorted(set(sorted(r.snapshots)[:: max(1, len(r.snapshots) // 6)] + [max(r.snapshots)]))

    def thumb(a):
        return resample(a, (min(size, 256),) * 2, "lanczos") if size > 256 else a

    arrays = {k: r.history[k] for k in ("loss", "psnr_measured", "psnr_truth", "psnr_ema")}
    arrays.update({f"snapshot_{s}": thumb(r.snapshots[s]) for s in keep})
    arrays.update(noisy=thumb(noisy), average=thumb(r.average))
    info = about(cfg, toy, made_by, image="astronaut", sigma=25, seed=0, es_step=r.es_step, seconds=round(r.seconds, 1))
    dh.paper_runs.save_paper_run("05_denoising", arrays, info, out)
    return {**r.summary(), "snapshots": keep}


def figure2_04(out: Path, toy: bool = False, made_by: str = MADE_BY) -> dict:
    """Notebook 04's four fits (image, image + noise, shuffled pixels, white noise) with the paper's network."""
    size, steps = (32, 4) if toy else (512, 2400)
    x = dh.load_image("astronaut", size=size)
    rng = np.random.default_rng(0)
    targets = {"image": x, "image + noise": dh.add_gaussian_noise(x, 25, seed=0),
               "shuffled pixels": rng.permutation(x.reshape(-1, 3)).reshape(x.shape),
               "white noise": rng.random(x.shape).astype(np.float32)}  # fmt: skip
    cfg = dh.DIPConfig(steps=steps, reg_noise_std=0.0, **(TOY if toy else {}))
    losses = {name: dh.fit_dip(t, config=cfg, verbose=False).history["loss"] for name, t in targets.items()}
    dh.paper_runs.save_paper_run("04_figure2", losses, about(cfg, toy, made_by, image="astronaut"), out)
    return {name: float(v[-1]) for name, v in losses.items()}
