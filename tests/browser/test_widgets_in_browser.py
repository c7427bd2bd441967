"""The sliders as a student sees them: JupyterLab in headless Chromium, driven by Playwright.

Run with ``make test-browser`` (not part of ``make test``). It needs Playwright (a dev dependency) and a Chromium
browser: Debian's ``chromium`` package at ``/usr/bin/chromium``, or the path in ``DIP_CHROMIUM``. A missing piece
fails the test with what to install; nothing is skipped. Screenshots go to ``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dip_helpers import settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = settings.get("DIP_CHROMIUM")
ARTIFACTS = ROOT / "build" / "test-artifacts" / "browser"
NOTEBOOKS = [
    "00_images_noise_psnr.ipynb",
    "01_convolution_by_hand.ipynb",
    "03_inverse_problems.ipynb",
    "05_dip_denoising.ipynb",
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDGET_ERRORS = (
    "Error displaying widget",
    "model not found",
    "Model not found",
    "Could not create a model",
    "Failed to load view",
    "Class ",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port, over copies of four notebooks, in the ci profile."""
    root = tmp_path_factory.mktemp("lab")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    settings = root.parent / "lab-settings"
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), _free_port()
    # MPLBACKEND stays unset: with Agg the kernel would skip its inline backend and figures would vanish
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(DIP_PROFILE="ci", JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_RUNTIME_DIR=str(root.parent / "rt"))
    log = open(root.parent / "lab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--allow-root",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (root.parent / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield {"base": base, "token": token, "root": root}
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install playwright (it is a dev dependency: make install)")
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) or set DIP_CHROMIUM"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Notebook:
    """One notebook open in JupyterLab, with what its console said."""

    def __init__(self, browser, lab, name):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.console = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.name = name
        # reset: a fresh workspace, not the notebooks an earlier page left open
        self.page.goto(f"{lab['base']}/lab/tree/{name}?reset&token={lab['token']}", timeout=90_000)
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
            " === 'idle'",
            timeout=120_000,
        )

    def run_all(self, timeout_s: int = 300) -> None:
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            self.page.wait_for_function(
                """() => { const nb = window.jupyterapp.shell.currentWidget;
                           if (document.querySelector('[data-mime-type="application/vnd.jupyter.error"]')) return true;
                           const code = nb.content.widgets.filter(c => c.model.type === 'code');
                           return code.every(c => c.model.executionCount !== null)
                                  && nb.sessionContext.session.kernel.status === 'idle'; }""",
                timeout=timeout_s * 1000,
                polling=500,
            )
        except Exception:
            self.page.screenshot(path=str(ARTIFACTS / f"{Path(self.name).stem}-stuck.png"), full_page=True)
            state = self.page.evaluate(
                """() => { const nb = window.jupyterapp.shell.currentWidget;
                           return [nb.sessionContext.session && nb.sessionContext.session.kernel
                                   && nb.sessionContext.session.kernel.status,
                                   nb.content.widgets.filter(c => c.model.type === 'code')
                                     .map(c => c.model.executionCount)]; }"""
            )
            raise AssertionError(
                f"{self.name}: run-all did not finish in {timeout_s} s; kernel and execution "
                f"counts: {state}; console: {self.console[-5:]}"
            ) from None
        errors = self.page.locator('[data-mime-type="application/vnd.jupyter.error"]')
        assert errors.count() == 0, f"{self.name}: a cell failed: {errors.first.inner_text()[:2000]}"

    def cell(self, text: str):
        """The cell whose source contains ``text``."""
        index = self.page.evaluate(
            "(t) => window.jupyterapp.shell.currentWidget.content.widgets"
            ".findIndex(c => c.model.sharedModel.getSource().includes(t))",
            text,
        )
        assert index >= 0, f"{self.name}: no cell contains {text!r}"
        self.page.evaluate(
            "async (i) => { const nb = window.jupyterapp.shell.currentWidget.content;"
            " nb.activeCellIndex = i; await nb.scrollToItem(i, 'start'); }",
            index,
        )
        panel = self.page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
        cell = self.page.locator(f'[id="{panel}"] .jp-Cell[data-windowed-list-index="{index}"]')
        cell.wait_for(state="visible", timeout=30_000)
        return cell

    def check_widgets(self) -> None:
        """No widget error in any cell or in the console, and no widget shown twice in a cell."""
        text = self.page.locator(".jp-Notebook").first.inner_text()
        for words in WIDGET_ERRORS[:-1]:
            assert words not in text, f"{self.name}: a cell shows {words!r}"
        said = [
            m
            for m in self.console
            if m.startswith(("error", "pageerror")) and any(w in m for w in ("idget", "model", "Model"))
        ]
        assert not said, f"{self.name}: the console said {said[:3]}"
        counts = self.page.evaluate(
            """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(c =>
                   c.querySelectorAll('[data-mime-type="application/vnd.jupyter.widget-view+json"]').length)"""
        )
        assert max(counts) <= 1, f"{self.name}: a widget is shown {max(counts)} times in one cell"

    def shot(self, locator, label: str) -> bytes:
        png = locator.screenshot()
        (ARTIFACTS / f"{Path(self.name).stem}-{label}.png").write_bytes(png)
        return png


def _shut_down_kernels(lab) -> None:
    def call(method, path):
        request = urllib.request.Request(
            f"{lab['base']}{path}", method=method, headers={"Authorization": f"token {lab['token']}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    for session in call("GET", "/api/sessions"):
        call("DELETE", f"/api/sessions/{session['id']}")
    assert call("GET", "/api/kernels") == []


def _picture(cell):
    img = cell.locator(".widget-image, .jp-OutputArea-output img").last
    img.wait_for(state="visible", timeout=30_000)
    return img


def _own_size(img) -> bool:
    """The picture is shown at its own pixel size, not stretched to the output's width (the box keeps the first
    picture's size, so a later one whose title is a few pixels narrower is scaled by a percent or so)."""
    w, natural = img.evaluate("i => [i.getBoundingClientRect().width, i.naturalWidth]")
    return natural > 50 and abs(w - natural) <= 0.02 * natural


def _changed(page, img, old_src: str) -> None:
    page.wait_for_function(
        "([i, s]) => i.src !== s && i.complete && i.naturalWidth > 0",
        arg=[img.element_handle(), old_src],
        timeout=60_000,
    )


def _move_slider(cell) -> None:
    """Click the slider's track far from its handle, as a student would."""
    track = cell.locator(".noUi-base").first
    box, handle = track.bounding_box(), cell.locator(".noUi-handle").first.bounding_box()
    right_half = handle["x"] + handle["width"] / 2 > box["x"] + box["width"] / 2
    track.click(position={"x": box["width"] * (0.1 if right_half else 0.9), "y": box["height"] / 2})


def test_00_noise_slider_redraws_the_picture_once_at_its_own_size(browser, lab):
    nb = Notebook(browser, lab, NOTEBOOKS[0])
    nb.run_all()
    cell = nb.cell("dh.noise_slider(")
    img = _picture(cell)
    before_png, before_src = nb.shot(img, "before"), img.get_attribute("src")
    assert _own_size(img)
    readout = cell.locator(".widget-readout").first
    old_value = readout.inner_text()
    readout.click()
    nb.page.keyboard.press("Control+A")
    nb.page.keyboard.type("80")
    nb.page.keyboard.press("Enter")
    _changed(nb.page, img, before_src)
    assert readout.inner_text() != old_value
    after_png = nb.shot(img, "after")
    assert after_png != before_png and _own_size(img)  # the noise and the PSNR in the title are redrawn
    nb.shot(cell, "cell")
    nb.check_widgets()
    # saved with its widget state, the notebook shows its pictures when it is opened again
    nb.page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    nb.page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    saved = json.loads((lab["root"] / NOTEBOOKS[0]).read_text())
    assert saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    nb.page.close()
    _shut_down_kernels(lab)  # the widgets' models die with the kernel: only the saved state is left
    reopened = Notebook(browser, lab, NOTEBOOKS[0])
    cell = reopened.cell("dh.noise_slider(")
    img = _picture(cell)
    reopened.page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle(), timeout=30_000)
    reopened.shot(cell, "reopened")
    reopened.check_widgets()
    reopened.page.close()


def _redraws(nb, text: str, move, label: str, own_size: bool = True) -> None:
    """In the cell whose source holds ``text``, ``move(cell)`` must replace the picture (at its own size)."""
    cell = nb.cell(text)
    img = _picture(cell)
    before = img.get_attribute("src")
    move(cell)
    _changed(nb.page, img, before)
    if own_size:
        assert _own_size(img)
    nb.shot(cell, label)


def test_01_kernel_picker_redraws(browser, lab):
    nb = Notebook(browser, lab, NOTEBOOKS[1])
    nb.run_all()
    _redraws(
        nb, "dh.choice_view(show_kernel", lambda cell: cell.locator("select").select_option("laplacian"), "laplacian"
    )
    nb.check_widgets()
    # a Think! prompt's answer: folded in the rendered markdown, its text shown on a click
    answer = nb.page.locator(".jp-RenderedMarkdown details").first
    answer.scroll_into_view_if_needed()
    text = answer.locator("p").first
    assert answer.evaluate("d => d.open") is False and not text.is_visible()
    answer.locator("summary").click()
    assert answer.evaluate("d => d.open") is True and text.is_visible() and len(text.inner_text()) > 20
    nb.shot(answer, "think-answer")
    nb.page.close()


def test_03_lambda_slider_redraws(browser, lab):
    nb = Notebook(browser, lab, NOTEBOOKS[2])
    nb.run_all()
    _redraws(nb, 'label="lambda"', _move_slider, "lambda", own_size=False)
    nb.check_widgets()
    nb.page.close()


def test_05_live_view_and_step_slider(browser, lab):
    nb = Notebook(browser, lab, NOTEBOOKS[3])
    nb.run_all()
    live = nb.cell("live=LIVE_EVERY")
    pictures = live.locator(".jp-OutputArea-output img")
    assert pictures.count() == 1, f"the live view left {pictures.count()} pictures instead of redrawing one"
    nb.shot(live, "live-view")
    _redraws(nb, 'label="step"', _move_slider, "step-slider")
    nb.check_widgets()
    nb.page.close()


def test_slides_wrap_long_code_lines_at_the_slide_width(browser, tmp_path):
    """Notebook 05's deck at reveal.js's 960-pixel slide width: no code or output block runs past its right edge
    (without the deck's wrapping rule, many do)."""
    from course_tools import editions

    (deck,) = editions.build_slides(tmp_path / "slides", "ci", [ROOT / "notebooks" / "05_dip_denoising.ipynb"])
    html = deck.read_text(encoding="utf-8")
    unwrapped = tmp_path / "unwrapped.html"
    unwrapped.write_text(html.replace(editions.SLIDE_CSS, ""), encoding="utf-8")
    overflowing = {}
    for path in (deck, unwrapped):
        page = browser.new_page(viewport={"width": 960, "height": 700})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())  # no CDN
        page.goto(path.as_uri())
        overflowing[path] = page.evaluate(
            "() => { const pres = [...document.querySelectorAll('.reveal pre')];"
            " return [pres.length, pres.filter(p => p.scrollWidth > p.clientWidth + 1).length]; }"
        )
        page.close()
    (blocks, wrapped_over), (_, unwrapped_over) = overflowing[deck], overflowing[unwrapped]
    assert blocks > 10 and wrapped_over == 0, overflowing
    assert unwrapped_over > 0, overflowing  # the check can see an overflow
