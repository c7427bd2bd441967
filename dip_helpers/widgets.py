"""Sliders for notebooks, with a plain figure when widgets are not available.

The picture is a PNG in an ``ipywidgets.Image`` that is replaced on every move:
it redraws in place and does not depend on how a front end handles output capture.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt

from .plotting import plot_noisy


def _show(fig):
    """Display a figure as a PNG (whatever the matplotlib backend) and close it."""
    from IPython.display import Image, display

    display(Image(figure_png(fig)))


def figure_png(fig, dpi: int = 90) -> bytes:
    """The figure as PNG bytes (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def slider_view(draw, value: int, lo: int, hi: int, step: int = 1, label: str = "value"):
    """Show ``draw(value)`` (a function returning a figure) under an integer slider that redraws it.

    Returns the widget box, or ``None`` when ipywidgets is missing (then the figure is drawn once).
    """
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError:
        _show(draw(value))
        return None
    slider = w.IntSlider(value=value, min=lo, max=hi, step=step, description=label, continuous_update=False,
                         style={"description_width": "initial"})
    image = w.Image(format="png")

    def update(v):
        image.value = figure_png(draw(v))

    slider.observe(lambda change: update(change["new"]), names="value")
    update(value)
    box = w.VBox([slider, image])
    display(box)
    return box


def noise_slider(image, sigma: int = 25, seed: int = 0, max_sigma: int = 100):
    """A noise-level slider that redraws :func:`~dip_helpers.plotting.plot_noisy` for each ``sigma``."""
    return slider_view(lambda s: plot_noisy(image, s, seed), sigma, 0, max_sigma, label="sigma (/255)")
