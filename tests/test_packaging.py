"""Install story: dependencies agree, README and CI give the right commands."""

import os
import platform
import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

from course_tools import course, nbtools

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_pip_lines():
    lines, inside = [], False
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        if raw.strip() == "- pip:":
            inside = True
        elif inside and raw.strip().startswith("- "):
            lines.append(raw.strip()[2:].strip())
    return lines


def test_environment_yml_agrees_with_pyproject():
    project = PYPROJECT["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["tf"] + project["optional-dependencies"]["dev"]
    listed = [line for line in _environment_pip_lines() if not line.startswith("-e")]
    assert sorted(str(Requirement(r)) for r in listed) == sorted(str(Requirement(r)) for r in wanted)
    assert "-e ." in _environment_pip_lines()


def test_keras3_and_no_tf_keras():
    reqs = [Requirement(r) for extra in PYPROJECT["project"]["optional-dependencies"].values() for r in extra]
    keras = [r for r in reqs if r.name == "keras"]
    assert keras and all(r.specifier.contains("3.5") and not r.specifier.contains("2.15") for r in keras)
    assert not any(r.name == "tf-keras" for r in reqs)


def test_linux_x86_gets_the_cpu_build_and_macos_the_plain_one():
    tf = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["tf"]]
    env_linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    env_mac = {"sys_platform": "darwin", "platform_machine": "arm64"}
    chosen = lambda env: {r.name for r in tf if r.marker is None or r.marker.evaluate(env)}
    assert "tensorflow-cpu" in chosen(env_linux) and "tensorflow" not in chosen(env_linux)
    assert "tensorflow" in chosen(env_mac) and "tensorflow-cpu" not in chosen(env_mac)


def test_installed_tensorflow_is_keras_3():
    import keras

    assert int(keras.__version__.split(".")[0]) == 3


def test_readme_gives_the_commands_and_links():
    readme = (ROOT / "README.md").read_text()
    for needle in ("make lab", "make test", "conda env create -f environment.yml", "DIP_PROFILE", "LICENSE", "Ulyanov"):
        assert needle in readme, needle
    for path in nbtools.notebook_paths():
        assert course.colab_url(f"notebooks/{path.name}") in readme, f"no Colab link for {path.name}"
    assert (ROOT / "LICENSE").is_file()


def test_ci_runs_make_test_with_both_kernel_sets():
    """README's command in TensorFlow's own choice of CPU kernels, then every notebook and every test that drives
    TensorFlow's kernels in the other set."""
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^unset TF_ENABLE_ONEDNN_OPTS", script, re.M) and re.search(r"^make test$", script, re.M)
    assert "dip_helpers machine --json" in script and "other=$(( 1 - own ))" in script
    assert re.search(r"^TF_ENABLE_ONEDNN_OPTS=\$other make test-kernels$", script, re.M)
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    assert re.search(r"^test: test-tf$", makefile, re.M) and "$(PYTEST_ARGS)" in makefile
    kernels = re.search(r"^test-kernels:.*\n\t(.*)$", makefile, re.M).group(1)
    assert "$(KERNEL_TESTS) notebooks " in kernels and "--nbval-lax" in kernels
    listed = re.search(r"^KERNEL_TESTS := (.*)$", makefile, re.M).group(1).split()
    for name in ("test_engine", "test_tensorflow_backend", "test_stopping", "test_exercises"):
        assert f"tests/{name}.py" in listed, name
    assert all((ROOT / path).is_file() for path in listed), listed


def test_ci_runs_each_check_that_needs_its_own_venv():
    """.ci/run's last loop: each target is in the Makefile, in make help and phony; make test leaves their tests out."""
    script = (ROOT / ".ci" / "run").read_text()
    loop = re.search(r"^for target in (.+); do$", script, re.M)
    assert loop and loop.group(1).split() == ["test-browser", "test-oldest", "test-colab", "test-without-tensorflow"]
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    for target in loop.group(1).split():
        assert re.search(rf"^{target}:", makefile, re.M) and target in phony, target
        assert re.search(rf'^\t@echo "make {target} +- ', makefile, re.M), f"{target} is not in make help"
    tf_half = re.search(r"^test-tf:.*\n\t(.*)$", makefile, re.M).group(1)
    for folder in ("tests/browser", "tests/colab", "tests/without_tensorflow"):
        assert f"--ignore={folder}" in tf_half, folder


def test_the_venv_without_tensorflow_gets_keras_and_jax_only():
    """make test-without-tensorflow installs the jax extra and the test runner, nothing that writes TensorBoard logs."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test-without-tensorflow:\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert ".venv-jax/bin/python -m pip install --quiet -e '.[jax]' pytest pytest-timeout\n" in recipe
    assert ".venv-jax" in re.search(r"^clean:\n\t(.*)$", makefile, re.M).group(1)
    jax = {Requirement(r).name: Requirement(r).extras for r in PYPROJECT["project"]["optional-dependencies"]["jax"]}
    assert jax == {"keras": set(), "jax": {"cpu"}}  # JAX's CPU build


def test_each_backend_has_an_extra_with_the_same_keras():
    extras = PYPROJECT["project"]["optional-dependencies"]
    keras = {
        name: [str(Requirement(r).specifier) for r in extras[name] if Requirement(r).name == "keras"]
        for name in ("tf", "jax", "torch")
    }
    assert keras["jax"] == keras["torch"] == keras["tf"] and len(keras["tf"]) == 1, keras
    assert {Requirement(r).name for r in extras["torch"]} == {"keras", "torch"}
    readme = (ROOT / "README.md").read_text()
    for command in (
        "pip install -e '.[jax]'",
        "pip install -e '.[torch]' --extra-index-url https://download.pytorch.org/whl/cpu",
    ):
        assert command in readme, command


def test_every_image_has_source_and_licence():
    text = (ROOT / "data" / "README.md").read_text()
    images = [p.name for p in (ROOT / "data").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif")]
    assert images
    for name in images:
        row = next((line for line in text.splitlines() if name in line), "")
        assert row and re.search(r"(?i)public domain|CC0", row), f"{name}: no licence row in data/README.md"
        assert re.search(r"https?://", row), f"{name}: no source in data/README.md"


@pytest.mark.skipif(platform.system() == "Windows", reason="make")
def test_make_lab_honours_port_and_headless():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    dry = lambda *args: (
        subprocess.run(["make", "-n", "lab", *args], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    )
    assert "--port=8888" in dry()
    out = dry("PORT=9123")
    assert "--port=9123" in out and "jupyter lab" in out and "notebooks" in out
    if platform.system() == "Linux":
        assert "--no-browser" in out
    assert ("--allow-root" in out) == (os.getuid() == 0)


@pytest.mark.parametrize(
    "first",
    ["import tensorflow as tf", "import dip_helpers.engine; import tensorflow as tf"],
    ids=["directly", "through-the-engine"],
)
def test_tensorflow_start_up_lines_stay_out_and_other_stderr_gets_through(first):
    """Also when the engine's backend check looks TensorFlow up (find_spec) before Keras imports it."""
    import sys

    code = f"import os, dip_helpers; {first}; tf.constant(1) + 1; os.write(2, b'after the import\\n')"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "oneDNN custom operations" not in r.stderr and "InitializeLog" not in r.stderr
    assert "after the import" in r.stderr


def test_stderr_filter_passes_on_every_other_line(capfd):
    from dip_helpers.quiet_import import stderr_without

    with stderr_without(("drop me",)):
        os.write(2, b"drop me, a start-up line\nkeep me: a real error\n")
    assert capfd.readouterr().err == "keep me: a real error\n"


def _pins(name: str) -> dict:
    lines = (ROOT / "tests" / "versions" / name).read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


def test_the_oldest_pins_are_pyprojects_lower_bounds():
    """make test-oldest installs, for each dependency, the first release pyproject.toml allows."""
    from packaging.version import Version

    project = PYPROJECT["project"]
    lower = {}
    for text in project["dependencies"] + project["optional-dependencies"]["tf"]:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"sys_platform": "linux", "platform_machine": "x86_64"}):
            lower[req.name] = next(Version(s.version) for s in req.specifier if s.operator == ">=")
    pins = _pins("oldest.txt")
    assert set(pins) == set(lower), "oldest.txt must pin exactly the course's dependencies and the tf extra"
    for name, pin in pins.items():
        version = Version(pin)
        series = (lower[name].release + (0,))[:2]
        assert version >= lower[name] and version.release[:2] == series, (name, pin, str(lower[name]))


def test_the_colab_pins_are_within_what_the_course_accepts_but_ipywidgets():
    """Colab keeps its own packages (the bootstrap installs with --no-deps): the course must work on them all,
    including ipywidgets 7, which is below the range a local install asks for (JupyterLab 4 needs 8)."""
    project = PYPROJECT["project"]
    ranges = {
        Requirement(t).name: Requirement(t).specifier
        for t in project["dependencies"] + project["optional-dependencies"]["tf"]
    }
    pins = _pins("colab.txt")
    outside = sorted(name for name, pin in pins.items() if name in ranges and pin not in ranges[name])
    assert outside == ["ipywidgets"] and pins["ipywidgets"].startswith("7.")
