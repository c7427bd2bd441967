"""The GPU check script at toy size on this CPU (so that it cannot rot), and the paper runs it writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dip_helpers as dh
from dip_helpers import paper_runs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/gpu_check.py",
            "run",
            "--toy",
            "--out",
            str(out),
            "--notebooks",
            "04",
            "--backend",
            "tensorflow",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    return out, done


def test_every_step_runs_and_reports(toy):
    out, done = toy
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == {} and report["skipped"] == [], (report, done.stderr[-2000:])
    assert done.returncode == 0
    assert report["bench_512"]["engine"]["params"] > 0 and report["bench_512"]["engine"]["backend"] == "tensorflow"
    if "speedup_over_torch" in report["bench_512"]:  # PyTorch is here (it is on the GPU machine)
        assert report["bench_512"]["torch_reference"]["ms_per_step"] > 0
    f16 = report["f16_3000_steps"]
    assert f16["steps"] == 6 and f16["wall_s_with_compilation"] >= f16["fit_seconds"] > 0
    assert isinstance(report["notebooks_gpu_profile"]["04_network_prior.ipynb"], float)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8, files


def test_paper_runs_load_with_their_provenance(toy, monkeypatch, capsys):
    out, _ = toy
    arrays, about = paper_runs.load_paper_run("05_denoising", out / "paper_runs")
    for key in ("psnr_measured", "psnr_truth", "psnr_ema", "loss"):
        assert arrays[key].shape == (8,) and np.isfinite(arrays[key]).all()
    snaps = sorted(int(k.split("_")[1]) for k in arrays if k.startswith("snapshot_"))
    assert snaps[0] == 1 and snaps[-1] == 8 and arrays["snapshot_8"].shape == (32, 32, 3)
    assert 0 <= arrays["snapshot_8"].min() and arrays["snapshot_8"].max() <= 1
    assert about["settings"]["steps"] == 8 and about["backend"] == "tensorflow" and about["toy"] is True
    for key in ("engine_version", "gpu", "date", "seed"):
        assert key in about
    assert "computed on a GPU" in paper_runs.label(about) and about["gpu"] in paper_runs.label(about)
    assert paper_runs.label(about).startswith("a toy run") and about["made_by"] == "benchmarks/gpu_check.py"
    assert paper_runs.label({**about, "toy": False}).startswith("the paper's settings")
    losses, _ = paper_runs.load_paper_run("04_figure2", out / "paper_runs")
    assert set(losses) == {"image", "image + noise", "shuffled pixels", "white noise"}

    monkeypatch.setattr(paper_runs, "paper_runs_dir", lambda: out / "paper_runs")
    fig = paper_runs.show_paper_curves("05_denoising", ["psnr_truth"], live={"psnr_truth": arrays["psnr_truth"][:4]})
    assert [line.get_label() for line in fig.axes[0].lines] == [
        "psnr_truth (paper's settings)",
        "psnr_truth (your run)",
    ]
    box = paper_runs.paper_snapshot_view("05_denoising")
    slider, image = box.children
    assert list(slider.options) == snaps and image.value[:4] == b"\x89PNG"


def test_a_copy_without_paper_runs_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paper_runs, "paper_runs_dir", lambda: tmp_path)
    assert paper_runs.load_paper_run("05_denoising") is None
    assert paper_runs.show_paper_curves("05_denoising", ["psnr_truth"]) is None
    assert paper_runs.paper_snapshot_view("05_denoising") is None
    said = capsys.readouterr().out
    assert said.count("not in this copy of the course yet") == 2 and "course_tools paper-runs" in said


def test_saved_images_round_trip_as_8_bit(tmp_path):
    image = np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)
    paper_runs.save_paper_run("x", {"curve": np.arange(5.0), "image": image}, {"gpu": "test"}, tmp_path)
    arrays, about = paper_runs.load_paper_run("x", tmp_path)
    assert np.array_equal(arrays["curve"], np.arange(5.0)) and about == {"gpu": "test"}
    assert np.abs(arrays["image"] - image).max() <= 0.5 / 255 + 1e-6
    assert dh.paper_runs is paper_runs
