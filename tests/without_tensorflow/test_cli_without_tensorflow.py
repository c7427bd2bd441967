"""The command line where only Keras and JAX are installed: no TensorFlow, no tensorboardX.

``make test-without-tensorflow`` builds that venv (``.venv-jax``: ``pip install -e '.[jax]' pytest pytest-timeout``)
and runs these tests in it; the course's own venv has TensorFlow, so ``make test`` leaves this folder out.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import subprocess
import sys

import pytest

from dip_helpers.cli import DEFAULTS
from dip_helpers.images import load_image

WRITERS = ("tensorflow", "tensorboardX")  # the packages that write TensorBoard logs
SKIPPED = "note: skipping the TensorBoard logs"
STEPS = DEFAULTS["ci"][1]


def _require_no_writer() -> None:
    """Fail, saying why, where TensorFlow or tensorboardX can be imported: this is not the venv these tests need."""
    found = []
    for name in WRITERS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        found.append(name)
    assert not found, (
        f"{' and '.join(found)} can be imported by {sys.executable}: these tests need a venv with Keras "
        "and JAX only (make test-without-tensorflow builds one in .venv-jax)"
    )


def _dip(*args: str, backend: str | None) -> subprocess.CompletedProcess:
    """``python -m dip_helpers ARGS`` with ``KERAS_BACKEND=backend``, or with KERAS_BACKEND unset (None)."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}  # importing dip_helpers here may have set it
    if backend:
        env["KERAS_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-m", "dip_helpers", *args], capture_output=True, text=True, env=env, timeout=900
    )


def test_neither_tensorflow_nor_tensorboardx_can_be_imported():
    _require_no_writer()


@pytest.fixture(scope="module", params=[None, "jax"], ids=["KERAS_BACKEND-unset", "KERAS_BACKEND=jax"])
def denoised(request, tmp_path_factory):
    """``denoise astronaut --profile ci``, once for each setting of KERAS_BACKEND: (the finished process, its DIR)."""
    _require_no_writer()
    out = tmp_path_factory.mktemp("run") / "astronaut"
    return _dip("denoise", "astronaut", "--out", str(out), "--profile", "ci", backend=request.param), out


def test_denoise_writes_every_result_but_the_tensorboard_logs_and_says_so_once(denoised):
    done, out = denoised
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(done.stdout.strip().splitlines()[-1]) == summary  # the line it prints is the file
    expected = {"average.png", "chosen.png", "input.png", "metrics.csv", "psnr.png", "result.png", "summary.json"}
    assert {p.name for p in out.iterdir()} == expected | ({"es.png"} if summary["es_step"] else set())  # no tb/
    assert done.stderr.count(SKIPPED) == 1 and "pip install tensorboardX" in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert summary["stop"] == {"rule": "last", "step": summary["steps"]}  # --stop's default, the last output


def test_its_numbers_are_those_of_the_ci_profile_and_finite(denoised):
    done, out = denoised
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["task"], summary["profile"], summary["steps"]) == ("denoise", "ci", STEPS)
    assert 19 < summary["psnr_input"] < 22  # sigma 25 on the 0-255 scale
    for key in ("psnr_last", "psnr_ema_last", "psnr_peak"):
        assert math.isfinite(summary[key]) and 5 < summary[key] < 60, (key, summary[key])
    assert 1 <= summary["peak_step"] <= STEPS
    with (out / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    assert all(math.isfinite(float(v)) for r in rows for k, v in r.items() if k != "step")
    assert float(rows[-1]["psnr_truth"]) == pytest.approx(summary["psnr_last"], abs=1e-4)
    result = load_image(out / "result.png")
    side = DEFAULTS["ci"][0]
    assert result.shape == (side, side, 3) and result.std() > 0.05  # a picture, not a flat field


def test_tensorboard_without_a_writer_is_refused_before_the_run(tmp_path):
    _require_no_writer()
    done = _dip(
        "denoise", "astronaut", "--out", str(tmp_path / "astronaut"), "--profile", "ci", "--tensorboard", backend="jax"
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr[-3000:]
    assert "--tensorboard" in errors[0] and "pip install tensorboardX" in errors[0] and "nothing was run" in errors[0]
    assert "Traceback" not in done.stderr and "step" not in done.stdout  # no fit started
    assert list(tmp_path.iterdir()) == []  # neither DIR nor its temporary folder
