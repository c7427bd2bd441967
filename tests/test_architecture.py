"""The package's floors, checked by reading its imports: the framework behind one door, an engine that draws nothing,
settings read in one place."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dip_helpers import settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dip_helpers"
ENGINE = PACKAGE / "engine"
BACKEND = ENGINE / "backend"
FRAMEWORKS = ("tensorflow", "jax", "torch")


def imports(path: Path) -> set[str]:
    """The top-level names of every module that ``path`` imports, at any depth (functions included); relative imports
    resolved to ``dip_helpers.<...>``."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names.update(f"{module}.{alias.name}" for alias in node.names)
                names.add(module)
            else:
                names.add(node.module)
    return names


def _uses(names: set[str], module: str) -> bool:
    return any(n == module or n.startswith(module + ".") for n in names)


def test_the_reader_sees_every_kind_of_import(tmp_path):
    probe = PACKAGE / "engine" / "_probe_for_test.py"
    probe.write_text("import jax.numpy\nfrom .. import plotting\ndef f():\n    from torch import nn\n")
    try:
        found = imports(probe)
    finally:
        probe.unlink()
    assert _uses(found, "jax") and _uses(found, "torch") and _uses(found, "dip_helpers.plotting")


@pytest.mark.parametrize(
    "path",
    sorted(ENGINE.glob("*.py")) + [PACKAGE / "profiles.py", PACKAGE / "settings.py"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_framework_outside_the_backend_modules(path):
    used = [f for f in FRAMEWORKS if _uses(imports(path), f)]
    assert not used, f"{path.relative_to(ROOT)} imports {used}: framework code belongs in dip_helpers/engine/backend/"


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_each_backend_module_imports_its_own_framework_only(name):
    found = imports(BACKEND / f"{name}.py")
    assert _uses(found, name)
    assert not [f for f in FRAMEWORKS if f != name and _uses(found, f)]
    assert not [f for f in FRAMEWORKS if _uses(imports(BACKEND / "__init__.py"), f)]


@pytest.mark.parametrize("path", sorted(ENGINE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_draws_nothing(path):
    drawn = [
        m
        for m in (
            "dip_helpers.plotting",
            "dip_helpers.widgets",
            "dip_helpers.live",
            "matplotlib",
            "IPython",
            "ipywidgets",
        )
        if _uses(imports(path), m)
    ]
    assert not drawn, f"{path.relative_to(ROOT)} imports {drawn}: drawing belongs to the student-facing helpers"


def test_star_import_and_profiles_load_no_framework():
    code = (
        "import sys\nfrom dip_helpers import *\nimport dip_helpers.profiles, dip_helpers.engine.backend\n"
        "get_profile, set_profile\nprint(sorted(m for m in ('keras', *sys.argv[1:]) if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code, *FRAMEWORKS], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"imported at once: {done.stdout}"


def test_every_setting_is_read_through_the_settings_module():
    readers = [
        p
        for p in PACKAGE.rglob("*.py")
        if p.name != "settings.py"
        and re.search(r"os\.environ\.get|os\.getenv|os\.environ\[[^]]*\](?!\s*=[^=])", p.read_text())
    ]
    assert not readers, f"read the environment through dip_helpers.settings: {readers}"


def test_every_dip_variable_in_the_course_is_listed():
    files = [
        *ROOT.glob("dip_helpers/**/*.py"),
        *ROOT.glob("course_tools/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("notebooks/*.ipynb"),
        *ROOT.glob("benchmarks/*.py"),
        ROOT / "Makefile",
        ROOT / ".ci" / "run",
    ]
    named = {m for f in files for m in re.findall(r"\bDIP_[A-Z][A-Z_]*[A-Z]\b", f.read_text())}
    assert named and not named - set(settings.VARIABLES), (
        f"not in dip_helpers.settings: {named - set(settings.VARIABLES)}"
    )
    readme = (ROOT / "README.md").read_text()
    assert not [v for v in settings.VARIABLES if v.startswith("DIP_") and v not in readme]


def test_settings_defaults_and_flags(monkeypatch):
    monkeypatch.delenv("DIP_MEMORY_CHECK", raising=False)
    assert settings.flag("DIP_MEMORY_CHECK") and settings.get("DIP_MEMORY_CHECK") == "1"
    monkeypatch.setenv("DIP_MEMORY_CHECK", " 0 ")
    assert not settings.flag("DIP_MEMORY_CHECK")
    monkeypatch.setenv("DIP_STRICT", "yes")
    assert settings.flag("DIP_STRICT")
    with pytest.raises(KeyError):
        settings.get("NOT_A_SETTING")
    done = subprocess.run(
        [sys.executable, "-m", "dip_helpers", "settings"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DIP_CACHE": "/tmp/class"},
    )
    assert done.returncode == 0, done.stderr
    assert "DIP_CACHE: /tmp/class" in done.stdout and "DIP_STRICT: unset" in done.stdout
