"""Notebook conventions: canonical form, header and footer cells, the Colab bootstrap."""

import shutil
import subprocess
import sys
import types

import nbformat
import pytest

from course_tools import course, nbtools

NOTEBOOKS = nbtools.notebook_paths()


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_canonical_form_without_outputs(path):
    text = path.read_text(encoding="utf-8")
    assert text == nbtools.canonical(path), f"{path.name} is not in canonical form: run `make fmt`"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert '"output_type"' not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    assert nbtools.structure_problems(path) == []
    nb = nbformat.read(path, as_version=4)
    rel = f"notebooks/{path.name}"
    assert course.colab_url(rel) in nb.cells[1].source and course.github_url(rel) in nb.cells[1].source


def test_every_notebook_ends_with_references_to_the_paper(tmp_path):
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        refs = nb.cells[-2]
        assert refs.source.startswith("## References") and "arXiv:1711.10925" in refs.source, path.name
        assert "github.com/DmitryUlyanov/deep-image-prior" in refs.source, path.name
    nb = nbformat.read(NOTEBOOKS[5], as_version=4)
    nb.cells[-2].source = "## References\n\n- somebody else"
    nbformat.write(nb, tmp_path / NOTEBOOKS[5].name)
    assert "the references must cite the paper (arXiv:1711.10925)" in nbtools.structure_problems(
        tmp_path / NOTEBOOKS[5].name
    )
    del nb.cells[-2]
    nbformat.write(nb, tmp_path / NOTEBOOKS[5].name)
    assert any("'## References'" in p for p in nbtools.structure_problems(tmp_path / NOTEBOOKS[5].name))


def test_next_links_follow_the_order():
    for i, path in enumerate(NOTEBOOKS):
        last = nbformat.read(path, as_version=4).cells[-1].source
        if i + 1 < len(NOTEBOOKS):
            assert f"({NOTEBOOKS[i + 1].name})" in last
        else:
            assert "../README.md" in last


def test_structure_check_catches_broken_notebooks(tmp_path):
    bad = tmp_path / "01_bad.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"no title {i}") for i in range(9)])
    nbformat.write(nb, bad)
    problems = " ".join(nbtools.structure_problems(bad))
    for words in ("title", "buttons", "Learning goals", "Setup", "Summary", "Concept questions", "References", "next"):
        assert words in problems
    nb = nbformat.read(NOTEBOOKS[4], as_version=4)
    nb.cells[3].source = nb.cells[3].source.replace("Intel Xeon", "machine").replace("AMD EPYC", "machine")  # not where
    nbformat.write(nb, tmp_path / NOTEBOOKS[4].name)
    assert any("names the CPU" in p for p in nbtools.structure_problems(tmp_path / NOTEBOOKS[4].name))


def _broken(tmp_path, change):
    """The structure problems of notebook 04 after ``change(cells)``."""
    nb = nbformat.read(NOTEBOOKS[4], as_version=4)
    change(nb.cells)
    nbformat.write(nb, tmp_path / NOTEBOOKS[4].name)
    return " ".join(nbtools.structure_problems(tmp_path / NOTEBOOKS[4].name))


def _think_cells(cells):
    return [c for c in cells if c.cell_type == "markdown" and c.source.startswith("**Think!**")]


def _replace(cells, start, old, new):
    cell = next(c for c in cells if c.source.startswith(start))
    assert old in cell.source
    cell.source = cell.source.replace(old, new, 1)


def test_structure_check_catches_missing_pacing_prompts_and_questions(tmp_path):
    assert _broken(tmp_path, lambda cells: None) == ""
    # prerequisites and the time table: a section left out, minutes that do not add up
    assert "Prerequisites" in _broken(tmp_path, lambda c: _replace(c, "## Learning goals", "**Prerequisites:**", "x"))
    assert "rows must be the sections" in _broken(
        tmp_path, lambda c: _replace(c, "## Learning goals", "| Concept questions |", "| Questions |")
    )
    assert "add up to" in _broken(
        tmp_path, lambda c: _replace(c, "## Learning goals", "time:** about ", "time:** about 1")
    )
    # Think! prompts: an answer left unfolded, a prompt after its result, too few
    assert "<details>" in _broken(
        tmp_path, lambda c: setattr(_think_cells(c)[0], "source", _think_cells(c)[0].source.replace("<details>", ""))
    )

    def after_its_result(cells):
        i = cells.index(_think_cells(cells)[0])
        cells[i], cells[i + 1] = cells[i + 1], cells[i]

    assert "before the code cell" in _broken(tmp_path, after_its_result)
    assert "2 to 4" in _broken(tmp_path, lambda c: [c.remove(t) for t in _think_cells(c)[1:]])
    # concept questions: the section gone, or one more question than answers
    assert "Concept questions" in _broken(
        tmp_path, lambda c: _replace(c, "## Concept questions", "## Concept questions", "## Questions")
    )
    assert "one answer per concept question" in _broken(
        tmp_path, lambda c: _replace(c, "## Concept questions", "\n1. ", "\n1. Why?\n2. ")
    )


def test_concept_answers_are_in_the_solutions_only():
    for path in NOTEBOOKS:
        answers = nbtools.concept_answers(path.name[:2])
        text = path.read_text(encoding="utf-8")
        assert answers and not any(a[:60] in text for a in answers), path.name


def test_fmt_strips_outputs_and_restamps_a_new_slug(tmp_path, monkeypatch):
    for p in NOTEBOOKS:
        shutil.copy(p, tmp_path / p.name)
    copy = tmp_path / NOTEBOOKS[0].name
    nb = nbformat.read(copy, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("dip") is None)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello")]
    code.execution_count = 7
    code.metadata["scrolled"] = True
    nb.metadata["widgets"] = {"state": {}}
    nbformat.write(nb, copy)

    monkeypatch.setattr(course, "REPO_SLUG", "someone/fork")
    changed = nbtools.fmt(sorted(tmp_path.glob("*.ipynb")), readme=None)
    assert len(changed) == len(NOTEBOOKS)  # every notebook re-stamped
    text = copy.read_text()
    assert '"output_type"' not in text and '"widgets"' not in text and '"scrolled"' not in text
    assert "someone/fork" in text and course.REPO_SLUG in text and "dip-course/deep-image-prior-course" not in text
    assert nbtools.fmt(sorted(tmp_path.glob("*.ipynb")), check=True, readme=None) == []  # idempotent
    readme = nbtools.readme_with_links(f"intro\n{nbtools.TABLE_START}\nold\n{nbtools.TABLE_END}\nend", NOTEBOOKS)
    assert "someone/fork" in readme and "old" not in readme and readme.endswith("end")


def _run_bootstrap(monkeypatch, on_colab):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(list(args)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(nbtools.colab_source(), {})
    return calls


def test_colab_bootstrap_does_nothing_elsewhere(monkeypatch):
    assert _run_bootstrap(monkeypatch, on_colab=False) == []


def test_colab_bootstrap_installs_without_touching_tensorflow(monkeypatch):
    calls = _run_bootstrap(monkeypatch, on_colab=True)
    clone, install = calls
    assert clone[:2] == ["git", "clone"] and course.clone_url() in clone
    assert "--no-deps" in install and course.COLAB_DIR in install
    assert not any(word in " ".join(install) for word in ("tensorflow", "keras", "numpy"))
    assert course.COLAB_DIR in sys.path


def test_fmt_check_command_passes():
    done = subprocess.run([sys.executable, "-m", "course_tools", "fmt", "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_fmt_check_exits_1_on_a_notebook_out_of_form(tmp_path, capsys):
    from course_tools.__main__ import main

    for p in NOTEBOOKS:  # all of them: each one's last cell links to the next
        shutil.copy(p, tmp_path / p.name)
    copy = tmp_path / NOTEBOOKS[0].name
    before = copy.read_text()
    assert main(["fmt", "--check", str(copy)]) == 0
    nb = nbformat.read(copy, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("dip") is None)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="left behind")]
    nbformat.write(nb, copy)
    dirty = copy.read_text()
    assert main(["fmt", "--check", str(copy)]) == 1
    assert "not in canonical form" in capsys.readouterr().err and copy.read_text() == dirty  # --check changes nothing
    assert main(["fmt", str(copy)]) == 0 and copy.read_text() == before


def test_notebook_00_has_slider_and_plain_figure():
    src = "\n".join(c.source for c in nbformat.read(NOTEBOOKS[0], as_version=4).cells)
    assert "dh.noise_slider(" in src and "dh.plot_noisy(" in src and "NBVAL_CHECK_OUTPUT" in src


def test_noise_slider_redraws_on_move():
    import numpy as np

    from dip_helpers import widgets

    box = widgets.noise_slider(np.full((16, 16, 3), 0.5, np.float32), sigma=10)
    slider, image = box.children
    first = image.value
    assert first[:4] == b"\x89PNG"
    slider.value = 60
    assert image.value != first and image.value[:4] == b"\x89PNG"


def test_a_widget_shows_once_at_its_own_size(tmp_path):
    """As the last line of a cell, a slider is one output (it used to be displayed and returned: two)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import numpy as np, dip_helpers as dh\n"
                "box = dh.noise_slider(np.full((16, 16, 3), 0.5, np.float32))\nbox"
            )
        ]
    )
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    views = [o for o in nb.cells[0].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1 and len(nb.cells[0].outputs) == 1


def test_widget_picture_keeps_its_pixel_size():
    import numpy as np

    from dip_helpers import widgets

    box = widgets.noise_slider(np.full((16, 16, 3), 0.5, np.float32), sigma=10)
    slider, image = box.children
    width, height = widgets.png_size(image.value)
    assert width > 100 and image.layout.width == f"{width}px" and image.layout.height == f"{height}px"
    slider.value = 90
    assert image.layout.width == f"{width}px"  # the same box on every move


def test_on_colab_the_picture_is_redrawn_in_an_output_area(monkeypatch):
    """Colab's widget manager is safest with Output areas: the picture is displayed there, once per move."""
    import ipywidgets as w
    import numpy as np

    from dip_helpers import widgets

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    box = widgets.noise_slider(np.full((16, 16, 3), 0.5, np.float32), sigma=10)
    slider, area = box.children
    assert isinstance(area, w.Output) and area.layout.width.endswith("px")

    def pngs():
        return [o["data"]["image/png"] for o in area.outputs if "image/png" in o.get("data", {})]

    first = pngs()
    assert len(first) == 1
    slider.value = 60
    assert len(pngs()) == 1 and pngs() != first  # replaced, not appended


def test_noise_slider_works_without_ipywidgets(monkeypatch):
    import numpy as np

    from dip_helpers import widgets

    shown = []
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    monkeypatch.setattr(widgets, "_show", shown.append)
    assert widgets.noise_slider(np.full((16, 16, 3), 0.5, np.float32), sigma=30) is None
    assert len(shown) == 1 and "30" in shown[0].axes[1].get_title()
