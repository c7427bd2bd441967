"""Large and hostile inputs: each either runs or is refused with a message that says what is wrong, and a refused or
interrupted run leaves nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dip_helpers as dh
from dip_helpers.__main__ import main

QUICK = ["--profile", "ci", "--steps", "3", "--channels", "8"]


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data behind it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    files = {}
    files["1x1"] = tmp_path / "one.png"
    Image.fromarray(np.full((1, 1, 3), 128, np.uint8)).save(files["1x1"])
    files["1xN"] = tmp_path / "strip.png"
    Image.fromarray(rgb[:1]).save(files["1xN"])
    files["grey16"] = tmp_path / "grey16.png"
    Image.fromarray((rng.random((40, 48)) * 65535).astype(np.uint16)).save(files["grey16"])
    files["cmyk"] = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(files["cmyk"])
    files["palette"] = tmp_path / "palette.png"
    Image.fromarray(rgb).convert("P").save(files["palette"])
    files["gif"] = tmp_path / "anim.gif"
    frames = [Image.fromarray(np.roll(rgb, k, axis=1)).convert("P") for k in range(3)]
    frames[0].save(files["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    return files


@pytest.mark.parametrize(
    "kind, shape",
    [
        ("1x1", (1, 1, 3)),
        ("1xN", (1, 48, 3)),
        ("grey16", (40, 48, 1)),
        ("cmyk", (40, 48, 3)),
        ("palette", (40, 48, 3)),
        ("gif", (40, 48, 3)),
    ],
)
def test_odd_but_valid_images_run_end_to_end(tmp_path, capsys, kind, shape):
    path = _files(tmp_path)[kind]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dh.load_image(path).shape == shape
        code, out, err = _run(capsys, "denoise", path, "--size", 0, *QUICK, "--out", tmp_path / "run")
    assert code == 0, err
    said = [str(w.message) for w in caught if "animated" in str(w.message)]
    assert said == (["'anim.gif' is animated (3 frames): only its first frame is used"] * 2 if kind == "gif" else [])
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["steps"] == 3 and np.isfinite(summary["psnr_last"])
    result = dh.load_image(tmp_path / "run" / "result.png")
    assert result.shape[:2] == shape[:2]  # the padding for the network is cut off again


def test_the_grey_16_bit_file_keeps_its_16_bits(tmp_path):
    path = _files(tmp_path)["grey16"]
    raw = np.asarray(Image.open(path)).astype(np.float64) / 65535
    assert np.allclose(dh.load_image(path)[..., 0], raw, atol=1e-6)
    assert len(np.unique(dh.load_image(path))) > 256  # more levels than 8 bits could hold


def test_a_truncated_file_is_refused_with_its_name(tmp_path, capsys):
    whole = tmp_path / "whole.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(whole)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:3000])
    code, _, err = _run(capsys, "denoise", cut, *QUICK, "--out", tmp_path / "run")
    assert code == 2 and "could not read" in err and "cut.png" in err and "truncated" in err
    assert _left_in(tmp_path) == ["cut.png", "whole.png"]


def test_a_header_claiming_20000_by_20000_pixels_is_refused_before_reading(tmp_path, capsys):
    huge = tmp_path / "huge.png"
    _png_header_only(huge, 20000, 20000)
    start = time.perf_counter()
    code, _, err = _run(capsys, "denoise", huge, *QUICK, "--out", tmp_path / "run")
    assert code == 2 and "too large to open safely" in err and "Resize it" in err
    assert time.perf_counter() - start < 10 and _left_in(tmp_path) == ["huge.png"]


def test_a_npy_mask_with_nan_is_refused(tmp_path, capsys):
    mask = np.ones((64, 64), np.float32)
    mask[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", mask)
    code, _, err = _run(
        capsys, "inpaint", "camera", "--size", 64, "--mask", tmp_path / "nan.npy", *QUICK, "--out", tmp_path / "run"
    )
    assert code == 2 and "1 NaN or infinite value" in err and not (tmp_path / "run").exists()


def test_a_npy_mask_of_zeros_and_ones_works(tmp_path, capsys):
    mask = np.ones((64, 64), bool)
    mask[:, :32] = False
    np.save(tmp_path / "half.npy", mask)
    loaded = dh.masks.load_mask(tmp_path / "half.npy")
    assert loaded.shape == (64, 64, 1) and loaded[:, :32].sum() == 0 and loaded[:, 32:].min() == 1
    code, _, err = _run(
        capsys, "inpaint", "camera", "--size", 32, "--mask", tmp_path / "half.npy", *QUICK, "--out", tmp_path / "run"
    )
    assert code == 0, err
    seen = dh.load_image(tmp_path / "run" / "input.png", channels=1)[..., 0]
    assert seen[:, :15].max() == 0 and seen[:, 17:].mean() > 0.1


def test_a_mask_of_the_wrong_size_is_refused_and_one_of_the_right_size_follows_the_crop(tmp_path, capsys):
    image = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(image)
    wrong = tmp_path / "wrong.png"
    Image.fromarray(np.full((60, 60), 255, np.uint8)).save(wrong)
    code, _, err = _run(capsys, "inpaint", image, "--mask", wrong, *QUICK, "--out", tmp_path / "run")
    assert code == 2 and "the mask is 60x60 but the image is 60x90" in err and not (tmp_path / "run").exists()

    right = np.full((60, 90), 255, np.uint8)
    right[:, :45] = 0  # the left half is missing: after the centre crop to 32x32, the left half of the crop
    Image.fromarray(right).save(tmp_path / "right.png")
    code, _, err = _run(
        capsys, "inpaint", image, "--size", 32, "--mask", tmp_path / "right.png", *QUICK, "--out", tmp_path / "run"
    )
    assert code == 0, err
    seen = dh.load_image(tmp_path / "run" / "input.png", channels=1)[..., 0]
    assert seen.shape == (32, 32) and seen[:, :14].max() == 0 and seen[:, 18:].mean() > 0.1  # missing pixels are 0


def test_absurd_step_counts_are_refused_at_once(tmp_path, capsys):
    start = time.perf_counter()
    code, _, err = _run(capsys, "denoise", "camera", "--profile", "ci", "--steps", 10**9, "--out", tmp_path / "run")
    assert code == 2 and "steps must be at most 1,000,000" in err
    assert time.perf_counter() - start < 10 and not (tmp_path / "run").exists()


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, err = _run(capsys, "denoise", "camera", *QUICK, "--out", blocker / "run")
    assert code == 2 and "cannot write the results into" in err and "step" not in out

    import tempfile

    def read_only(*args, **kwargs):  # what a read-only folder answers to anyone but root
        raise PermissionError(13, "Permission denied")

    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    code, out, err = _run(capsys, "denoise", "camera", *QUICK, "--out", locked / "run")
    assert code == 2 and "Permission denied" in err and "step" not in out
    if os.geteuid() != 0:  # a real read-only folder, where the permission bits bind
        monkeypatch.undo()
        locked.chmod(0o555)
        try:
            code, _, err = _run(capsys, "denoise", "camera", *QUICK, "--out", locked / "run")
            assert code == 2 and "cannot write the results" in err
        finally:
            locked.chmod(0o755)


def test_ctrl_c_in_the_middle_of_a_run_says_so_and_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "DIP_PROFILE": "ci", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dip_helpers",
            "denoise",
            "camera",
            "--profile",
            "ci",
            "--steps",
            "100000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".run-") for p in tmp_path.iterdir()):
        time.sleep(0.2)  # the temporary folder appears just before the run starts
    assert proc.poll() is None, proc.communicate()
    time.sleep(4)  # well into the run
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "nothing was written" in stderr and "Traceback" not in stderr
    assert _left_in(tmp_path) == []  # neither the results nor the temporary folder


def test_a_device_out_of_memory_error_is_explained(monkeypatch, capsys, tmp_path):
    import keras

    from dip_helpers.engine import DIPConfig, fit_dip
    from dip_helpers.engine.memory import RunTooLarge

    class DeviceFull(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:  # what TensorFlow, XLA and PyTorch say, in their words
                raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 8589934592 bytes.")

    x = dh.load_image("camera", size=32)
    with pytest.raises(RunTooLarge, match="ran out of memory during the run") as info:
        fit_dip(x, config=DIPConfig(steps=5, channels=8, scales=3), callbacks=[DeviceFull()], verbose=False)
    assert "--size" in str(info.value) and "mixed_bfloat16" in str(info.value)

    class Broken(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):  # other errors keep their own message
        fit_dip(x, config=DIPConfig(steps=5, channels=8, scales=3), callbacks=[Broken()], verbose=False)


def _photo_with_deep_shadows(tmp_path: Path) -> Path:
    """A photograph whose shadows are crushed to black and highlights blown to white, with sharp edges between."""
    harsh = np.clip(1.8 * dh.load_image("coffee", size=64) - 0.45, 0, 1)
    assert (harsh == 0).mean() > 0.3 and (harsh == 1).mean() > 0.05
    path = tmp_path / "shadows.png"
    dh.save_image(harsh, path)
    return path


RESULTS = ["average.png", "input.png", "metrics.csv", "psnr.png", "result.png", "summary.json", "tb"]


@pytest.mark.parametrize(
    "task",
    [
        ["denoise"],
        ["inpaint"],
        ["superres", "--factor", "2"],
        ["superres", "--factor", "4"],
        ["superres", "--factor", "8"],
        ["superres", "--factor", "4", "--real"],
    ],
)
def test_a_photograph_with_deep_shadows_writes_every_result(tmp_path, capsys, task):
    """Lanczos rings below black and above white near sharp edges: the measurement leaves [0, 1] (by up to 0.08 here).
    Its picture is clipped, saying so; the fit uses it as it is; every result is written."""
    photo = _photo_with_deep_shadows(tmp_path)
    code, out, err = _run(capsys, *task, photo, "--size", 0, *QUICK, "--out", tmp_path / "run")
    assert code == 0, err
    assert _left_in(tmp_path / "run") == sorted(RESULTS + ["chosen.png"] * (task[0] == "denoise"))
    summary = json.loads(out.strip().splitlines()[-1])
    rings = task[0] == "superres" and "--real" not in task
    clipped = [n for n in summary["notes"] if n.startswith("input.png is clipped to [0, 1]")]
    assert len(clipped) == rings and ("note: input.png is clipped" in err) == rings
    side = 64 * 4 if "--real" in task else 64  # --real: the photograph is the low-resolution image
    assert dh.load_image(tmp_path / "run" / "result.png").shape[:2] == (side, side)


@pytest.mark.parametrize("kernel", ["lanczos2", "lanczos3", "gauss", "box"])
def test_every_downsampling_kernel_fits_and_saves_a_photograph_with_deep_shadows(tmp_path, kernel):
    x = dh.load_image(_photo_with_deep_shadows(tmp_path))
    op = dh.Downsampler(4, kernel)
    low = op.measure(x)
    if kernel.startswith("lanczos"):
        assert low.min() < -0.01 and low.max() > 1.01  # the case this test is about
        with pytest.raises(ValueError, match="must lie in"):
            dh.save_image(low, tmp_path / "refused.png")  # a float image outside [0, 1] is refused unless clipped
    dh.save_image(low, tmp_path / "low.png", clip=True)
    assert np.allclose(dh.load_image(tmp_path / "low.png"), np.clip(low, 0, 1), atol=0.5 / 255 + 1e-6)
    result = dh.fit_dip(low, op, dh.DIPConfig(steps=3, channels=8, input_channels=8, scales=3), verbose=False)
    for image in (result.output, result.average):
        dh.save_image(image, tmp_path / "out.png")
    with pytest.raises(ValueError, match="NaN"):
        dh.save_image(np.full((4, 4), np.nan), tmp_path / "nan.png", clip=True)


def _with_a_full_disk_at(step: str, monkeypatch, capsys, out: Path):
    """Run the CLI with its function ``step`` failing as a full disk does."""
    from dip_helpers import cli

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, step, full)
    return _run(capsys, "denoise", "camera", "--size", 32, *QUICK, "--out", out)


def test_writing_that_fails_after_the_fit_keeps_the_fitted_run_and_says_where(tmp_path, capsys, monkeypatch):
    code, out, err = _with_a_full_disk_at("_plot_curves", monkeypatch, capsys, tmp_path / "run")
    assert code == 1 and "writing the results failed after the fit" in err and "No space left on device" in err
    kept = tmp_path / "run" / "result.npz"
    assert f"the fitted run is kept in '{kept}'" in err and "Traceback" not in err
    run = dh.DIPResult.load(kept)
    assert run.output.shape == (32, 32, 1) and len(run.history["loss"]) == 3
    assert (tmp_path / "run" / "result.png").is_file() and _left_in(tmp_path) == ["run"]

    # the results cannot even be moved into place: the temporary folder stays, named
    code, out, err = _with_a_full_disk_at("_replace", monkeypatch, capsys, tmp_path / "again")
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".again-")]
    assert code == 1 and len(left) == 1 and f"kept in '{left[0] / 'result.npz'}'" in err
    assert dh.DIPResult.load(left[0] / "result.npz").output.shape == (32, 32, 1)


def test_a_measurement_that_cannot_be_written_stops_before_the_fit(tmp_path, capsys, monkeypatch):
    code, out, err = _with_a_full_disk_at("_save_measurement", monkeypatch, capsys, tmp_path / "run")
    assert code == 2 and "cannot write the picture of the measurement" in err and "nothing was run" in err
    assert "step" not in out and _left_in(tmp_path) == []


def _options(*args):
    """The options of one run, as the command line reads them."""
    import argparse

    from dip_helpers import cli

    parser = argparse.ArgumentParser()
    cli.add_run_arguments(parser.add_subparsers(dest="command"))
    return parser.parse_args([str(a) for a in args])


def test_reg_noise_still_works_and_says_that_its_name_is_now_reg_noise_std(capsys):
    from dip_helpers import cli

    new = cli.read_task(_options("denoise", "camera", "--profile", "ci", "--reg-noise-std", 0.05, "--out", "unused"))
    assert "deprecated" not in capsys.readouterr().err
    old = cli.read_task(_options("denoise", "camera", "--profile", "ci", "--reg-noise", 0.05, "--out", "unused"))
    assert capsys.readouterr().err.count("note: --reg-noise is deprecated; use --reg-noise-std") == 1
    assert old.config == new.config and new.config.reg_noise_std == 0.05
    default = cli.read_task(_options("inpaint", "camera", "--profile", "ci", "--out", "unused"))
    assert default.config.reg_noise_std == cli.TASK_DEFAULTS["inpaint"]["reg_noise_std"] == 0.03


def test_tensorboard_logs_are_written_skipped_with_a_note_or_refused(tmp_path, capsys, monkeypatch):
    """With a writer installed, --tensorboard writes tb/; without one (as writer_kind finds it), a run says once that it
    skips the logs and writes the rest, and a run with --tensorboard is refused before the fit."""
    from dip_helpers.engine import tensorboard

    code, _, err = _run(capsys, "denoise", "camera", "--size", 32, *QUICK, "--tensorboard", "--out", tmp_path / "tb")
    assert code == 0 and any((tmp_path / "tb" / "tb").iterdir()), err
    monkeypatch.setattr(tensorboard, "writer_kind", lambda: None)
    code, out, err = _run(capsys, "denoise", "camera", "--size", 32, *QUICK, "--tensorboard", "--out", tmp_path / "no")
    assert code == 2 and "error: --tensorboard needs TensorFlow or tensorboardX" in err and "nothing was run" in err
    assert "pip install tensorboardX" in err and "step" not in out and _left_in(tmp_path) == ["tb"]
    code, _, err = _run(capsys, "denoise", "camera", "--size", 32, *QUICK, "--out", tmp_path / "run")
    assert code == 0, err
    assert err.count("note: skipping the TensorBoard logs") == 1 and "pip install tensorboardX" in err
    assert _left_in(tmp_path / "run") == sorted(["chosen.png", *(name for name in RESULTS if name != "tb")])
