"""The course's editions: the student copy runs with every check answering, a slide deck and the book build."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from course_tools import course, editions, nbtools

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = nbtools.notebook_paths()


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return editions.build_student(tmp_path_factory.mktemp("editions") / "student")


def test_student_edition_has_no_solutions_and_its_own_links(student):
    assert not (student / "course_tools").exists() and not list(student.rglob("nb0*.py"))
    assert (student / "docs" / "glossary.md").is_file() and "](docs/glossary.md)" in (student / "README.md").read_text()
    shipped = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in student.rglob("*") if p.is_file())
    for path in NOTEBOOKS:  # the concept questions' answers stay with the instructors
        for answer in nbtools.concept_answers(path.name[:2]):
            assert answer[:60] not in shipped, (path.name, answer[:60])
    for path in NOTEBOOKS:
        text = (student / "notebooks" / path.name).read_text(encoding="utf-8")
        assert "solutions" not in text.lower(), path.name
        assert course.STUDENT_REPO_SLUG in text and f"{course.REPO_SLUG}/" not in text, path.name
        original = nbformat.read(path, as_version=4)
        copy = nbformat.reads(text, as_version=4)
        # every exercise cell is the same stub as in the repository
        stubs = [c.source for c in original.cells if "your code here" in c.source or "# your answer" in c.source]
        assert stubs and all(any(s == c.source for c in copy.cells) for s in stubs), path.name
    readme = (student / "README.md").read_text(encoding="utf-8")
    assert (
        "student edition" in readme
        and course.colab_url("notebooks/00_images_noise_psnr.ipynb", course.STUDENT_REPO_SLUG) in readme
    )
    make = (student / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^check: ", make, re.M) and re.search(r"^lab: ", make, re.M) and "tests" not in make
    for used in re.findall(r"\bcp (\S+)", make):  # every file its recipes copy is in the edition
        assert (student / used).is_file(), used


def test_student_edition_refuses_to_overwrite_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not made by this command"):
        editions.build_student(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def _execute(path: Path, cwd: Path, pythonpath: Path, profile: str = "ci"):
    """Run a notebook in a fresh kernel whose ``dip_helpers`` is the one under ``pythonpath``."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    old = dict(os.environ)  # the kernel inherits this process's environment
    os.environ.update({"DIP_PROFILE": profile, "PYTHONPATH": str(pythonpath)})
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_student_notebook_runs_and_every_stub_answers_with_its_hint(student, name):
    nb = _execute(student / "notebooks" / name, student / "notebooks", student)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    imported = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Setup"))
    assert imported.outputs, name
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
    checks = [c for c in nb.cells[start:] if c.cell_type == "code" and "dh.exercises.check_" in c.source]
    assert checks, f"{name}: no self-check among the exercises"
    for cell in checks:
        out = _text(cell)
        assert ("⏳" in out or "❌" in out) and "✅" not in out, f"{name}: a stub's check said {out!r}"


def test_slide_metadata_follows_the_convention():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
        assert kinds[0] == "slide" and kinds[1] == kinds[2] == kinds[-1] == "skip", path.name
        for cell, kind in zip(nb.cells, kinds):
            if cell.cell_type == "markdown" and cell.source.startswith("## "):
                assert kind == "slide", (path.name, cell.source[:40])
            if cell.source.startswith("# Setup"):
                assert kind == "skip"
            if cell.source.startswith("### "):
                assert kind == "subslide"


def test_a_slide_deck_holds_the_sections_and_a_figure(tmp_path):
    path = NOTEBOOKS[0]
    (deck,) = editions.build_slides(tmp_path / "slides", "ci", [path])
    html = deck.read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    sections = [
        c.source.splitlines()[0][3:] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    for title in sections:
        assert title.split("`")[0].strip() in html, title
    assert html.count("<section") >= len(sections) + 1
    assert "data:image/png;base64" in html  # a matplotlib figure, so the kernel used its inline backend
    assert "Colab only" not in html and "describe()" not in html  # skipped cells
    assert re.search(r"<details>\s*<summary>Answer</summary>\s*<p>", html)  # Think! answers, folded, as HTML
    head = html.split("</head>", 1)[0]
    assert html.count(editions.SLIDE_CSS) == 1 and editions.SLIDE_CSS in head  # long code lines wrap on the slide


def test_the_book_builds_with_figures_a_table_of_contents_and_the_lecture_plan(tmp_path):
    # the notebooks run under nbval and in the student edition already: here 00 runs, the others are only rendered
    html = editions.build_book(tmp_path / "book", "ci", execute=[NOTEBOOKS[0].name])
    index = (html / "index.html").read_text(encoding="utf-8")
    assert "Deep Image Prior" in index and "Lecture plan" in index
    for path in NOTEBOOKS:
        page = html / "notebooks" / f"{path.stem}.html"
        assert page.exists(), page
        assert f"notebooks/{path.stem}.html" in index  # in the table of contents
    figures = html / "notebooks" / "00_images_noise_psnr.html"
    text = figures.read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="\.\./_images/[^"]+\.png"', text) and "Traceback" not in text  # a figure
    assert "Colab only" not in text  # the bootstrap cell is left out
    assert re.search(r"<details>\s*<summary>Answer</summary>\s*<p>", text)  # a Think! answer, folded, its text rendered
    assert "application/vnd.jupyter.widget-state+json" in text  # the sliders' saved state, shown without a kernel
    unrun = (html / "notebooks" / f"{NOTEBOOKS[-1].stem}.html").read_text(encoding="utf-8")
    assert "cell_output" in text and "cell_output" not in unrun and "Exercises" in unrun  # shown, not run
    assert (html / "docs" / "instructors.html").exists()
    assert (html / "docs" / "glossary.html").exists() and "docs/glossary.html" in index


GLOSSARY_FRENCH = (
    "débruitage", "a priori", "noyau", "pas", "remplissage", "époque", "itération", "taux d'apprentissage",
    "normalisation par lots", "connexions de saut", "réseau non entraîné", "problème inverse mal posé",
)  # fmt: skip


def test_the_book_refuses_a_notebook_it_does_not_have(tmp_path):
    with pytest.raises(ValueError, match="no such notebook to execute: 99_missing.ipynb"):
        editions.build_book(tmp_path / "book", "ci", execute=["99_missing.ipynb"])
    assert not (tmp_path / "book").exists()


def test_the_glossary_names_the_symbols_and_the_french_terms_and_the_book_and_readme_link_it():
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    table = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in text.splitlines() if line[:2] == "| "]
    rows = {cells[0]: cells for cells in table if len(cells) == 4}  # symbol, means, in code, introduced in
    for symbol in ("`x`", "`y`", "`z`", "`A`"):
        assert symbol in rows, symbol
        assert rows[symbol][1] and rows[symbol][2] and re.search(r"\b0\d\b", rows[symbol][3]), rows[symbol]
    assert "y = A(x) + eps" in rows["`y`"][1] and "`y`" in rows["`y`"][2]
    french = {cells[1] for cells in table if len(cells) == 3}  # English, French, meaning (and the notation table)
    for term in GLOSSARY_FRENCH:
        assert re.search(rf"(^|[ (,]){re.escape(term)}($|[ ),])", " ; ".join(french)), term
    for wrong in ("« prieur »", "« réseau non entrant »"):  # the mistranslations are named, as such
        assert wrong in text, wrong
    assert not re.search(r"/work/|/tmp/|\.txt\b", text)  # nothing outside the repository
    toctrees = re.findall(r"```\{toctree\}(.*?)```", (ROOT / "book" / "index.md").read_text(), re.S)
    assert any(re.search(r"^docs/glossary$", t, re.M) for t in toctrees)
    assert "](docs/glossary.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
