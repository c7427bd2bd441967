"""The course's other editions, built from the repository (which is the instructors' edition):

- :func:`build_student`: a copy without the worked solutions, for students (``make student``);
- :func:`build_slides`: one reveal.js deck per notebook, executed in a profile (``make slides``);
- :func:`build_book`: a static site of every notebook executed in a profile, by Sphinx and myst-nb (``make book``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from . import course, nbtools

ROOT = Path(__file__).resolve().parent.parent
STUDENT_TEMPLATE = Path(__file__).resolve().parent / "student"
#: what the student edition copies from the repository
STUDENT_PARTS = (
    "dip_helpers",
    "data",
    "jupyter",
    "docs/glossary.md",
    "pyproject.toml",
    "environment.yml",
    "LICENSE",
    "conftest.py",
)
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", "runs")
#: the sentence of each notebook's Exercises section that points to the solutions
SOLUTIONS_POINTER = re.compile(r"(;\s*w|\n?W)orked solutions are in `course_tools/solutions/[^`]+`(: try first!)?\.?")


def _fresh_folder(out: Path, marker: str) -> Path:
    """``out`` emptied, refusing to delete a folder this module did not make."""
    out = Path(out).resolve()
    if out.exists():
        if any(out.iterdir()) and not (out / marker).exists():
            raise FileExistsError(f"{out} exists and was not made by this command: choose an empty or new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / marker).write_text("made by python -m course_tools; rebuilt from scratch each time\n")
    return out


def _kernel_env(profile: str) -> dict:
    """The environment for executing notebooks: the profile set, and ``MPLBACKEND`` unset (with Agg the kernel
    skips its inline backend and the figures vanish)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["DIP_PROFILE"] = profile
    return env


def student_notebook(path: Path, order: list[Path]) -> str:
    """The student-edition text of a notebook: links to the student repository, no pointer to solutions."""
    nb = nbformat.reads(nbtools.canonical(path, order, slug=course.STUDENT_REPO_SLUG), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = SOLUTIONS_POINTER.sub(lambda m: "." if m.group(1).startswith(";") else "", cell.source)
    return nbformat.writes(nb).rstrip("\n") + "\n"


def student_makefile() -> str:
    """The repository's Makefile cut to what students need (its settings, ``install`` and ``lab``), plus ``check``."""
    blocks = (ROOT / "Makefile").read_text(encoding="utf-8").split("\n\n")
    keep = [b for b in blocks if b.lstrip().startswith(("# The course", "$(STAMP):", "install:", "lab:"))]
    if len(keep) != 4:
        raise RuntimeError(
            "Makefile: expected its settings and the $(STAMP), install and lab rules, each after a blank line"
        )
    keep[0] = keep[0].replace("make lab  |  make test", "make lab  |  make check")
    return "\n\n".join(keep).rstrip() + "\n" + (STUDENT_TEMPLATE / "Makefile.tail").read_text(encoding="utf-8")


def build_student(out: Path) -> Path:
    """Write the student edition into ``out``: notebooks, helpers, images and a README and Makefile of its own;
    no solutions. Raises if any file of it still mentions them."""
    out = _fresh_folder(Path(out), ".student-edition")
    for part in STUDENT_PARTS:
        src = ROOT / part
        (out / part).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree(src, out / part, ignore=JUNK) if src.is_dir() else shutil.copy2(src, out / part))
    order = nbtools.notebook_paths()
    readme = (STUDENT_TEMPLATE / "README.md").read_text(encoding="utf-8")
    (out / "README.md").write_text(nbtools.readme_with_links(readme, order, course.STUDENT_REPO_SLUG), encoding="utf-8")
    (out / "Makefile").write_text(student_makefile(), encoding="utf-8")
    shutil.copy2(STUDENT_TEMPLATE / ".gitignore", out / ".gitignore")
    (out / "notebooks").mkdir()
    for path in order:
        (out / "notebooks" / path.name).write_text(student_notebook(path, order), encoding="utf-8")
    leaks = [
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file()
        and p.suffix in (".py", ".md", ".ipynb", ".toml", ".yml")
        and re.search(r"course_tools/solutions|solutions module", p.read_text(encoding="utf-8", errors="replace"))
    ]
    if leaks:
        raise RuntimeError(f"the student edition still points to the solutions in: {', '.join(leaks)}")
    return out


def build_slides(out: Path, profile: str = "cpu", notebooks=None, reveal_prefix: str | None = None) -> list[Path]:
    """Execute each notebook in ``profile`` and write its reveal.js deck (``NN_name.slides.html``) into ``out``.

    ``reveal_prefix``: where the deck loads reveal.js from (a local copy for presenting offline); by default the
    address nbconvert knows."""
    out = _fresh_folder(Path(out), ".slides")
    decks = []
    for path in [Path(p).resolve() for p in notebooks] if notebooks else nbtools.notebook_paths():
        print(f"slides: {path.name} ({profile} profile)...", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "slides",
            "--execute",
            str(path),
            "--output-dir",
            str(out),
            "--ExecutePreprocessor.timeout=3600",
            "--SlidesExporter.reveal_scroll=True",
            "--SlidesExporter.reveal_theme=white",
            "--SlidesExporter.reveal_transition=none",
        ]
        if reveal_prefix:
            cmd.append(f"--SlidesExporter.reveal_url_prefix={reveal_prefix}")
        subprocess.run(cmd, check=True, env=_kernel_env(profile), cwd=path.parent)
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(wrap_long_lines(deck.read_text(encoding="utf-8")), encoding="utf-8")
        decks.append(deck)
    return decks


#: code and printed output wrap at the slide's right edge instead of running past it
SLIDE_CSS = (
    "<style>.reveal pre, .reveal pre code { white-space: pre-wrap !important; overflow-wrap: anywhere; }</style>"
)


def wrap_long_lines(html: str) -> str:
    """A deck's HTML with :data:`SLIDE_CSS` at the end of its head (once)."""
    if SLIDE_CSS in html:
        return html
    return html.replace("</head>", f"{SLIDE_CSS}\n</head>", 1)


LINK = re.compile(r"\]\((?!https?:|#)([^)\s]+)\)")


def book_readme(text: str, src: Path) -> str:
    """README text for the book's front page: links to files the book does not hold point to GitHub instead."""
    return LINK.sub(
        lambda m: m.group(0) if (src / m.group(1)).exists() else f"]({course.github_url(m.group(1))})", text
    )


def book_notebook(path: Path, execute: bool = True) -> str:
    """A notebook as the book shows it: no Colab bootstrap or buttons (the page has its own), and the last
    notebook's link to the README pointing to the book's front page. With ``execute=False`` myst-nb shows it
    without running it (no outputs)."""
    nb = nbformat.read(path, as_version=4)
    if not execute:
        nb.metadata["mystnb"] = {"execution_mode": "off"}
    for cell in nb.cells:
        if cell.metadata.get(nbtools.TAG) in ("buttons", "colab"):
            cell.metadata["tags"] = ["remove-cell"]
        cell.source = cell.source.replace("](../README.md)", "](../index.md)")
    return nbformat.writes(nb)


def build_book(out: Path, profile: str = "cpu", execute: Sequence[str] | None = None) -> Path:
    """Build the rendered course into ``out``: its sources (``book/``, ``docs/``, the README, the notebooks) are
    gathered in ``out/src``, executed in ``profile`` by myst-nb, and the site written to ``out/html``. ``execute``
    names the notebooks to run (file names); the others are shown without outputs. ``None``: every notebook."""
    paths = nbtools.notebook_paths()
    names = [path.name for path in paths]
    unknown = sorted(set(execute or ()) - set(names))
    if unknown:
        raise ValueError(f"no such notebook to execute: {', '.join(unknown)}; the notebooks are {', '.join(names)}")
    out = _fresh_folder(Path(out), ".book")
    src = out / "src"
    shutil.copytree(ROOT / "book", src, ignore=JUNK)
    shutil.copytree(ROOT / "docs", src / "docs", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (src / "notebooks").mkdir()
    for path in paths:
        run = execute is None or path.name in execute
        (src / "notebooks" / path.name).write_text(book_notebook(path, run), encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (src / "README.md").write_text(book_readme(readme, src), encoding="utf-8")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--keep-going", str(src), str(out / "html")]
    subprocess.run(cmd, check=True, env=_kernel_env(profile), cwd=src)
    return out / "html"
