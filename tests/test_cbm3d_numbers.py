"""The CBM3D numbers shipped in data/cbm3d_sigma25.json (measured by benchmarks/cbm3d.py), checked without bm3d."""

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

import dip_helpers as dh

ROOT = Path(__file__).resolve().parent.parent
TABLE = json.loads((ROOT / "data" / "cbm3d_sigma25.json").read_text())
METHODS = {"noisy", "cbm3d", "nl_means", "tv"}


@pytest.fixture(autouse=True)
def _course_data(monkeypatch):
    monkeypatch.delenv("DIP_DATA", raising=False)  # the course's own data/, where the JSON is


def _entries():
    return [(name, int(size), row) for name, sizes in TABLE["psnr"].items() for size, row in sizes.items()]


def test_the_table_has_every_image_size_and_method():
    assert TABLE["about"]["sigma"] == 25
    assert set(TABLE["psnr"]) == set(dh.available_images())
    assert {size for _, size, _ in _entries()} == {32, 128, 256, 512}
    for name, size, row in _entries():
        assert set(row) == METHODS, (name, size)
        assert set(TABLE["seconds"][name][str(size)]) == METHODS, (name, size)


@pytest.mark.parametrize("size", [32, 128])
def test_noisy_psnr_is_notebook_05s_noisy_image_recomputed_now(size):
    x = dh.load_image("astronaut", size=size)
    recomputed = dh.psnr(x, dh.add_gaussian_noise(x, 25, seed=0))
    assert TABLE["psnr"]["astronaut"][str(size)]["noisy"] == pytest.approx(recomputed, abs=0.01)


@pytest.mark.parametrize("name", sorted(TABLE["psnr"]))
def test_tv_psnr_at_32_is_the_course_tv_denoise_recomputed_now(name):
    x = dh.load_image(name, size=32)
    noisy = dh.add_gaussian_noise(x, 25, seed=0)
    assert TABLE["psnr"][name]["32"]["noisy"] == pytest.approx(dh.psnr(x, noisy), abs=0.01)
    assert TABLE["psnr"][name]["32"]["tv"] == pytest.approx(dh.psnr(x, dh.classical.tv_denoise(noisy)), abs=0.05)


def test_cbm3d_beats_non_local_means_everywhere_and_the_noise_by_5_db_from_128():
    for name, size, row in _entries():
        assert row["cbm3d"] > row["nl_means"], (name, size, row)
        if size >= 128:
            assert row["cbm3d"] > row["noisy"] + 5, (name, size, row)


def test_loader_returns_the_entry_and_none_when_missing(monkeypatch, tmp_path):
    entry = dh.classical.cbm3d_reference("astronaut", 128)
    assert {k: entry[k] for k in METHODS} == TABLE["psnr"]["astronaut"]["128"]
    assert entry["seconds"] == TABLE["seconds"]["astronaut"]["128"]
    assert entry["about"]["bm3d_version"] == TABLE["about"]["bm3d_version"]
    assert dh.classical.cbm3d_reference("astronaut", 64) is None
    assert dh.classical.cbm3d_reference("no-such-image", 128) is None
    monkeypatch.setenv("DIP_DATA", str(tmp_path))  # a data folder without the JSON
    assert dh.classical.cbm3d_reference("astronaut", 128) is None


def test_bm3d_is_no_dependency_of_the_course():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lists = {
        "build-system.requires": pyproject["build-system"]["requires"],
        "project.dependencies": pyproject["project"].get("dependencies", []),
    }
    for extra, deps in pyproject["project"].get("optional-dependencies", {}).items():
        lists[f"optional-dependencies.{extra}"] = deps
    for group, deps in pyproject.get("dependency-groups", {}).items():
        lists[f"dependency-groups.{group}"] = [d for d in deps if isinstance(d, str)]
    assert {"optional-dependencies.tf", "optional-dependencies.dev"} <= set(lists)  # the extras were read
    for where, deps in lists.items():
        names = {Requirement(d).name.lower().replace("_", "-") for d in deps}
        assert not names & {"bm3d", "bm4d"}, f"{where} names the non-commercial bm3d"
