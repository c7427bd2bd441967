"""The Colab bootstrap for real: run by ``make test-colab`` in a venv holding only what Colab ships, at Colab's
versions (``tests/versions/colab.txt``, ipywidgets 7.7.1), with a stand-in ``google.colab`` module imported at start.

Each notebook is executed from a scratch folder, as Colab runs it from ``/content``: its first cell clones the course
from a local bare repository (``DIP_COURSE_GIT_URL``) into ``DIP_COURSE_DIR``, installs it without its dependencies,
and the rest of the notebook runs in the ``ci`` profile on Colab's versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB_PINS = dict(
    line.split("==")
    for line in (ROOT / "tests/versions/colab.txt").read_text().splitlines()
    if "==" in line and not line.startswith("#")
)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A bare copy of the committed course, a stand-in google.colab, and an empty place to clone into."""
    for dist, pinned in COLAB_PINS.items():
        assert _version(dist) == pinned, f"this venv has {dist} {_version(dist)}, Colab {pinned}: run make test-colab"
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "dip-helpers"], check=False, capture_output=True
    )
    tmp = tmp_path_factory.mktemp("colab")
    # a fresh interpreter outside the repository (as the kernel will be) must not find the course yet
    found = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('dip_helpers'))"],
        cwd=tmp,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout.strip()
    assert found == "None", f"the course must not be installed before the bootstrap: {found}"
    bare = tmp / "course.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(bare)], check=True)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(["git", "--git-dir", str(bare), "update-ref", "refs/heads/main", head], check=True)
    site = tmp / "colab_site"
    (site / "google" / "colab").mkdir(parents=True)  # no google/__init__.py: google.protobuf stays importable
    (site / "google" / "colab" / "__init__.py").write_text(
        '"""Stand-in for the module every Colab kernel imports."""\n'
    )
    (site / "sitecustomize.py").write_text("import google.colab  # as on Colab, imported before any user code\n")
    yield {
        "url": bare.as_uri(),
        "dir": tmp / "content" / "deep-image-prior-course",
        "site": site,
        "content": tmp / "content",
        "head": head,
    }
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "dip-helpers"], check=False, capture_output=True
    )


def _execute(path: Path, colab: dict):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {
        "PYTHONPATH": str(colab["site"]),
        "DIP_PROFILE": "ci",
        "DIP_COURSE_GIT_URL": colab["url"],
        "DIP_COURSE_DIR": str(colab["dir"]),
    }
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits it
    os.environ.pop("MPLBACKEND", None)
    try:
        colab["content"].mkdir(exist_ok=True)
        NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(colab["content"])}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_notebook_runs_on_colab_after_its_bootstrap(path, colab):
    nb = _execute(path, colab)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    clone = colab["dir"]
    assert (clone / "dip_helpers" / "__init__.py").is_file() and (clone / "data").is_dir()
    cloned = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert cloned.strip() == colab["head"]  # the course came from the clone address, at the committed state
    setup = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Setup"))
    assert "Profile: ci" in "".join(o.get("text", "") for o in setup.outputs)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    views = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    for view in views:
        assert view["data"]["application/vnd.jupyter.widget-view+json"]["version_major"] == 2  # ipywidgets 7
    if views:  # on Colab a slider's picture lives in an Output area holding a PNG, never in an Image widget
        models = [m["model_name"] for m in state.values()]
        assert "OutputModel" in models and "ImageModel" not in models, models
        pictures = [o for m in state.values() if m["model_name"] == "OutputModel" for o in m["state"]["outputs"]]
        assert pictures and all("image/png" in o["data"] for o in pictures)


def test_the_widgets_kernel_side_on_colabs_ipywidgets():
    """The widget tests of the course, on ipywidgets 7.7.1 (the course was installed by the bootstrap above)."""
    assert _version("ipywidgets") == COLAB_PINS["ipywidgets"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "test_notebooks.py"),
            "-k",
            "slider or widget or colab",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert int(summary.split(" passed")[0].split()[-1]) >= 5, summary
    print(json.dumps({"ipywidgets": _version("ipywidgets"), "summary": summary}))
