"""The engine on every Keras backend: the same curve on each, clear errors, a run without TensorFlow.

The backends compared are those in ``DIP_TEST_BACKENDS`` (default: tensorflow and jax, which
``make test`` installs; ``make test-backends`` adds torch). A listed backend that is not
installed fails the test, saying what to install.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dip_helpers import settings
from dip_helpers.engine import backend as backends

WANTED = settings.get("DIP_TEST_BACKENDS").split()

RUN = textwrap.dedent("""
    import json
    import dip_helpers as dh
    from dip_helpers.engine import DIPConfig, fit_dip
    import keras

    x = dh.load_image("astronaut", size=(24, 40))
    y = dh.add_gaussian_noise(x, 25, seed=0)
    cfg = DIPConfig(steps=25, reg_noise_std=0.0, channels=8, input_channels=8, skip_channels=2, scales=3,
                    es_window=3, es_patience=4, snapshot_every=5)
    r = fit_dip(y, None, cfg, truth=x, verbose=False)
    print(json.dumps({"backend": keras.backend.backend(), "psnr_truth": r.history["psnr_truth"].tolist(),
                      "loss": r.history["loss"].tolist()}))
""")


def _run(code, backend, extra_env=None):
    env = {**os.environ, "KERAS_BACKEND": backend, **(extra_env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def curves():
    out = {}
    for backend in WANTED:
        backends.require(backend)  # not installed: fails here, naming what to install
        done = _run(RUN, backend)
        assert done.returncode == 0, done.stderr[-3000:]
        out[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_same_seed_same_curve_on_every_backend(curves):
    """Same weights (drawn with NumPy), same z, no input noise: the curves agree within 0.03 dB over the first
    10 steps, 0.02 dB in the median over 25 and 0.5 dB at worst.

    They differ by floating-point rounding only (each backend and each of TensorFlow's kernel sets, oneDNN's and
    its plain ones, sums convolutions in its own order), which Adam and batch norm amplify step after step. Measured
    between TensorFlow with and without oneDNN, JAX and PyTorch: at most 0.020 dB over the first 10 steps, a median
    of at most 0.008 dB and a worst step of 0.32 dB. A learning rate 5% off moves the curve by 0.2 dB from the
    first 10 steps on.
    """
    assert len(curves) >= 2 and all(c["backend"] == b for b, c in curves.items())
    reference = np.asarray(curves[WANTED[0]]["psnr_truth"])
    assert reference[-1] > reference[0] + 3  # the run does learn
    for backend, curve in curves.items():
        psnr = np.asarray(curve["psnr_truth"])
        assert psnr[0] == pytest.approx(reference[0], abs=1e-3), backend  # the same start
        gap = np.abs(psnr - reference)
        assert gap[:10].max() < 0.03 and np.median(gap) < 0.02 and gap.max() < 0.5, (backend, gap)


def test_the_backend_is_chosen_once_by_name_or_by_what_is_installed(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", " Torch ")
    assert backends.name() == "torch"
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(backends, "installed", lambda module: True)
    assert backends.name() == backends.DEFAULT == "tensorflow"
    monkeypatch.setattr(backends, "installed", lambda module: module == "jax")  # pip install -e '.[jax]'
    assert backends.name() == "jax"
    monkeypatch.setattr(backends, "installed", lambda module: False)
    assert backends.name() == "tensorflow"  # and require() then says what to install


def test_unknown_or_missing_backend_says_what_to_do(monkeypatch):
    with pytest.raises(ImportError, match="tensorflow, jax, torch"):
        backends.require("mxnet")
    real = backends.installed
    monkeypatch.setattr(backends, "installed", lambda name: name != "torch" and real(name))
    with pytest.raises(
        ImportError, match=r"needs the 'torch' package.*pip install -e '\.\[torch\]'.*KERAS_BACKEND to tensorflow"
    ):
        backends.require("torch")
    done = _run("import dip_helpers as dh; dh.fit_dip", "mxnet")
    assert done.returncode != 0 and "is not a backend the DIP engine runs on" in done.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "dip_helpers", "denoise", "astronaut", "--out", "unused"],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "mxnet"},
    )
    assert cli.returncode == 2 and cli.stderr.startswith("error: KERAS_BACKEND='mxnet' is not a backend")


NO_TENSORFLOW = textwrap.dedent("""
    import importlib.abc, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoTensorFlow())
    sys.argv = ["dip_helpers", *sys.argv[1:]]
    from dip_helpers.__main__ import main

    code = main()
    assert "tensorflow" not in sys.modules, "TensorFlow was imported"
    sys.exit(code)
""")


def test_jax_denoise_from_the_command_line_without_tensorflow(tmp_path):
    """``python -m dip_helpers denoise`` under JAX in a process where TensorFlow cannot be imported."""
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_TENSORFLOW,
            "denoise",
            "astronaut",
            "--profile",
            "ci",
            "--steps",
            "6",
            "--size",
            "32",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 6 and summary["psnr_last"] is not None
    assert (out / "result.png").is_file() and any((out / "tb").iterdir())  # TensorBoard logs by tensorboardX
