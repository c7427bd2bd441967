"""Notebook hygiene: canonical form, stamped header/footer cells, structure checks.

``python -m course_tools fmt`` rewrites every notebook in place; ``python -m
course_tools fmt --check`` only reports.  Canonical form means: no outputs or
execution counts, kernelspec ``python3``, only known metadata, JSON as
``nbformat`` writes it, and the generated cells (buttons, Colab bootstrap,
link to the next notebook) stamped from :mod:`course_tools.course`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nbformat

from . import course

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_METADATA_KEYS = ("tags", "dip", "dip_expected", "slideshow")
TAG = "dip"  # cell metadata key marking generated cells: buttons, colab, next


def notebook_paths(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks, in reading order (``NN_topic.ipynb``)."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))


def title_of(nb) -> str:
    """The notebook's title: its first markdown heading, without the ``#``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Untitled"


def buttons_source(path: Path, slug: str | None = None) -> str:
    rel = f"notebooks/{path.name}"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({course.colab_url(rel, slug)})\n"
        "[![View on GitHub](https://img.shields.io/badge/View%20on-GitHub-181717?logo=github)]"
        f"({course.github_url(rel, slug)})"
    )


def colab_source(slug: str | None = None) -> str:
    return f'''# Colab only: fetch the course's helpers and images. Elsewhere this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    where = os.environ.get("{course.COURSE_DIR_ENV}", "{course.COLAB_DIR}")
    if not os.path.isdir(where):
        url = os.environ.get("{course.CLONE_URL_ENV}", "{course.clone_url(slug)}")
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", "{course.BRANCH}", url, where],
                       check=True)
    # --no-deps keeps Colab's own TensorFlow, Keras and NumPy exactly as they are.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", where], check=True)
    sys.path.insert(0, where)'''


def next_source(path: Path, order: list[Path]) -> str:
    names = [p.name for p in order]
    i = names.index(path.name) if path.name in names else len(names)
    if i + 1 < len(order):
        nxt = order[i + 1]
        return f"**Next:** [{title_of(nbformat.read(nxt, as_version=4))}]({nxt.name})"
    return "**This is the last notebook for now.** Back to the [course overview](../README.md)."


def _stamp(nb, index: int, kind: str, cell_type: str, source: str) -> None:
    maker = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = maker(source, metadata={TAG: kind})
    cell.id = f"dip-{kind}"
    existing = [i for i, c in enumerate(nb.cells) if c.metadata.get(TAG) == kind]
    for i in reversed(existing):
        del nb.cells[i]
    nb.cells.insert(index if index >= 0 else len(nb.cells), cell)


def _cell_id(cell, taken: set) -> str:
    cid = cell.get("id")
    if not cid or cid in taken or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cid):
        digest = hashlib.sha1((cell.cell_type + cell.source).encode()).hexdigest()
        cid = digest[:8]
        while cid in taken:
            digest = hashlib.sha1(digest.encode()).hexdigest()
            cid = digest[:8]
    taken.add(cid)
    return cid


def slide_type(cell, previous) -> str:
    """The slide convention: each ``##`` section a slide, each ``###`` or text after code a sub-slide,
    generated cells and the setup cell skipped, everything else on the slide before it."""
    if cell.metadata.get(TAG) or cell.source.startswith("# Setup"):
        return "skip"
    if cell.cell_type == "markdown":
        if previous is None or cell.source.startswith(("# ", "## ")):
            return "slide"
        if cell.source.startswith("### ") or previous.cell_type == "code":
            return "subslide"
    return "-"


def canonical(path: Path, order: list[Path] | None = None, slug: str | None = None) -> str:
    """The canonical text of the notebook at ``path`` (what ``fmt`` writes); ``slug``: the repository its links name."""
    order = notebook_paths(path.parent) if order is None else order
    nb = nbformat.read(path, as_version=4)
    _stamp(nb, 1, "buttons", "markdown", buttons_source(path, slug))
    _stamp(nb, 2, "colab", "code", colab_source(slug))
    _stamp(nb, -1, "next", "markdown", next_source(path, order))
    taken: set = set()
    shown = None  # the last cell that is on a slide
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, shown)}
        shown = cell if cell.metadata["slideshow"]["slide_type"] != "skip" else shown
        cell.source = cell.source.rstrip() if isinstance(cell.source, str) else "".join(cell.source).rstrip()
        cell.metadata = {k: cell.metadata[k] for k in CELL_METADATA_KEYS if k in cell.metadata}
        cell.pop("attachments", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.id = _cell_id(cell, taken)
    nb.metadata = nbformat.NotebookNode(kernelspec=dict(KERNELSPEC), language_info={"name": "python"})
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validate(nb)
    return nbformat.writes(nb).rstrip("\n") + "\n"


LAST_SECTIONS = ("## Summary", "## Concept questions", "## Exercises", "## References")
#: a Think! prompt: the question, then its answer folded in a <details> block whose markdown renders everywhere
THINK = re.compile(r"\*\*Think!\*\* \S.*?\n\n<details>\n<summary>Answer</summary>\n\n\S.*?\S\n\n</details>", re.S)


def section_names(cells) -> list[str]:
    """Every ``##`` heading of the notebook's markdown, without the ``## ``, in order."""
    return [
        line[3:].strip()
        for c in cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]


def pacing_problems(cells) -> list[str]:
    """What is missing from cell 4's prerequisites and student-time table (one row per section, minutes that add
    up to the total)."""
    goals = cells[3].source if cells[3].cell_type == "markdown" else ""
    problems = [] if "**Prerequisites:**" in goals else ["cell 4 must name the '**Prerequisites:**'"]
    total = re.search(r"^\*\*Your time:\*\* about (\d+) minutes", goals, re.M)
    if not total:
        return problems + ["cell 4 must give '**Your time:** about N minutes' and a table of minutes per section"]
    rows = re.findall(r"^\| *(.+?) *\| *(\d+) *\|$", goals, re.M)
    names = section_names(cells)
    wanted = names[names.index("Learning goals") + 1 : names.index("References")] if "References" in names else []
    if [name for name, _ in rows] != wanted:
        problems.append(
            f"the time table's rows must be the sections {wanted}, in order; they are {[n for n, _ in rows]}"
        )
    if sum(int(m) for _, m in rows) != int(total.group(1)):
        problems.append(f"the time table's minutes add up to {sum(int(m) for _, m in rows)}, not {total.group(1)}")
    return problems


def think_problems(cells) -> list[str]:
    """What is wrong with the notebook's Think! prompts: two to four, each with its answer folded, each before the
    code cell that shows the result, none after the Summary."""
    at = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("**Think!**")]
    problems = [] if 2 <= len(at) <= 4 else [f"the notebook must have 2 to 4 '**Think!**' prompts, not {len(at)}"]
    summary = next((i for i, c in enumerate(cells) if c.source.startswith("## Summary")), len(cells))
    for i in at:
        if not THINK.fullmatch(cells[i].source):
            problems.append(f"cell {i + 1}: a Think! prompt is the question, then its answer in <details> (see spec)")
        if i > summary or i + 1 >= len(cells) or cells[i + 1].cell_type != "code":
            problems.append(f"cell {i + 1}: a Think! prompt must come before the code cell that shows its result")
    return problems


def concept_problems(cells, number: str) -> list[str]:
    """What is wrong with the '## Concept questions' cell: three to five numbered questions, and as many answers in
    ``course_tools/solutions/nbNN.py`` (``CONCEPT_ANSWERS``)."""
    cell = next((c for c in cells if c.cell_type == "markdown" and c.source.startswith("## Concept questions")), None)
    if cell is None:
        return []  # the section check says it is missing
    asked = re.findall(r"^(\d+)\. \S", cell.source, re.M)
    problems = []
    if not 3 <= len(asked) <= 5 or asked != [str(k) for k in range(1, len(asked) + 1)]:
        problems.append(f"'## Concept questions' must ask 3 to 5 questions numbered 1., 2., ...; found {asked}")
    answers = concept_answers(number)
    if answers is None or len(answers) != len(asked) or not all(isinstance(a, str) and a.strip() for a in answers):
        problems.append(
            f"course_tools/solutions/nb{number}.py must hold CONCEPT_ANSWERS, one answer per concept question "
            f"({len(asked)}), not {None if answers is None else len(answers)}"
        )
    return problems


def concept_answers(number: str) -> tuple | None:
    """The answers to notebook ``number``'s concept questions (``CONCEPT_ANSWERS`` of its solutions), or None."""
    import importlib

    try:
        return getattr(importlib.import_module(f"course_tools.solutions.nb{number}"), "CONCEPT_ANSWERS", None)
    except ImportError:
        return None


def structure_problems(path: Path) -> list[str]:
    """Course conventions a notebook breaks (empty list when it follows them all)."""
    nb = nbformat.read(path, as_version=4)
    cells, problems = nb.cells, []
    if not re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name):
        problems.append("file name must look like NN_topic.ipynb")
    if len(cells) < 8:
        return problems + [
            f"only {len(cells)} cells: too few for title, buttons, bootstrap, goals, setup, summary, exercises, next"
        ]
    head = [(c.cell_type, c.metadata.get(TAG)) for c in cells[:3]]
    if cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        problems.append("cell 1 must be the title: a markdown cell starting with '# '")
    if head[1:] != [("markdown", "buttons"), ("code", "colab")]:
        problems.append("cells 2-3 must be the generated buttons and Colab bootstrap (run make fmt)")
    if cells[3].cell_type != "markdown" or "## Learning goals" not in cells[3].source:
        problems.append("cell 4 must state the learning goals under '## Learning goals'")
    elif not re.search(r"^Run time\b.*\b\d+-core (Intel|AMD|Apple|Arm)\b", cells[3].source, re.M | re.S):
        problems.append(
            "cell 4 must give a 'Run time' that names the CPU it was measured on (e.g. 'on a 2-core Intel Xeon')"
        )
    setup = cells[4]
    if setup.cell_type != "code" or not setup.source.startswith("# Setup") or "describe()" not in setup.source:
        problems.append("cell 5 must be the single '# Setup' code cell that prints the profile (describe())")
    if sum(c.cell_type == "code" and c.source.startswith("# Setup") for c in cells) != 1:
        problems.append("there must be exactly one '# Setup' cell")
    headings = [
        (i, c.source.splitlines()[0])
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.startswith("## ")
    ]
    names = [h for _, h in headings]
    if not set(LAST_SECTIONS) <= set(names):
        problems.append(f"the notebook must end with the sections {', '.join(map(repr, LAST_SECTIONS))}")
    elif names[-4:] != list(LAST_SECTIONS):
        problems.append(f"{', '.join(map(repr, LAST_SECTIONS))} must be the last four sections, in that order")
    elif not re.search(r"arXiv:1711\.10925", cells[headings[-1][0]].source):
        problems.append("the references must cite the paper (arXiv:1711.10925)")
    if cells[-1].metadata.get(TAG) != "next":
        problems.append("the last cell must be the generated link to the next notebook (run make fmt)")
    problems += pacing_problems(cells) + think_problems(cells) + concept_problems(cells, path.name[:2])
    for i, c in enumerate(cells):
        if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source and "dip_expected" not in c.metadata:
            problems.append(
                f"cell {i + 1} is marked NBVAL_CHECK_OUTPUT but has no recorded output (python -m course_tools record)"
            )
    return problems


README = NOTEBOOK_DIR.parent / "README.md"
TABLE_START, TABLE_END = "<!-- colab-table: made by make fmt -->", "<!-- /colab-table -->"


def readme_with_links(text: str, order: list[Path], slug: str | None = None) -> str:
    """README text with its Colab / GitHub table (between the markers) rebuilt from the notebooks."""
    if TABLE_START not in text or TABLE_END not in text:
        return text
    rows = ["| notebook | Colab | GitHub |", "| --- | --- | --- |"]
    for path in order:
        rel = f"notebooks/{path.name}"
        title = title_of(nbformat.read(path, as_version=4))
        rows.append(f"| {title} | [open]({course.colab_url(rel, slug)}) | [view]({course.github_url(rel, slug)}) |")
    head, rest = text.split(TABLE_START, 1)
    return head + TABLE_START + "\n" + "\n".join(rows) + "\n" + TABLE_END + rest.split(TABLE_END, 1)[1]


def fmt(paths=None, check: bool = False, readme: Path | None = README) -> list[str]:
    """Rewrite notebooks (and README's link table) in canonical form; with ``check``, only list what would change."""
    paths = [Path(p) for p in paths] if paths else notebook_paths()
    order = notebook_paths(paths[0].parent) if paths else []
    changed = []
    if readme is not None and readme.is_file() and order:
        old = readme.read_text(encoding="utf-8")
        new = readme_with_links(old, order)
        if new != old:
            changed.append(str(readme))
            if not check:
                readme.write_text(new, encoding="utf-8")
    for path in paths:
        text = canonical(path, order)
        if path.read_text(encoding="utf-8") != text:
            changed.append(str(path))
            if not check:
                path.write_text(text, encoding="utf-8")
    return changed


def record_expected(path: Path, timeout: int = 600) -> int:
    """Run a notebook (ci profile) and store the text printed by NBVAL_CHECK_OUTPUT cells as their reference.

    nbval compares those cells' output against it; the notebook itself keeps no outputs.
    """
    import os

    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ["DIP_PROFILE"] = "ci"
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in cell.source:
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
            cell.metadata["dip_expected"] = text
            count += 1
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    fmt([path])
    return count
