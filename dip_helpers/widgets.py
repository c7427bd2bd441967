"""Sliders for notebooks, with a plain figure when widgets are not available.

The picture is a PNG in an ``ipywidgets.Image`` that is replaced on every move: it redraws in place and does not
depend on how a front end handles output capture. On Colab, whose widget manager has known trouble with binary
updates, the PNG is redrawn inside an ``ipywidgets.Output`` area instead.
"""

from __future__ import annotations

import base64
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


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def control_view(draw, make_control, value):
    """``draw(value)`` (a function returning a figure) under an ipywidgets control that redraws it.

    ``make_control(w)`` builds the control from the ipywidgets module ``w``. Returns the widget box:
    make it the cell's last line (or pass it to ``display``) and it shows once. Without ipywidgets,
    draws the figure once, for ``value``, and returns ``None``.
    """
    try:
        import ipywidgets as w
    except ImportError:
        _show(draw(value))
        return None
    control = make_control(w)
    image = w.Output() if on_colab() else w.Image(format="png")

    def update(v):
        png = figure_png(draw(v))
        if not image.layout.width:  # the first picture's own size, kept: no stretching, no jumping
            width, height = png_size(png)
            image.layout = w.Layout(width=f"{width}px", height=f"{height}px", object_fit="contain")
        if isinstance(image, w.Output):  # Colab: the area's one output replaced by the new picture, in one message
            image.outputs = (
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<figure>"},
                },
            )
        else:
            image.value = png

    control.observe(lambda change: update(change["new"]), names="value")
    update(control.value)
    return w.VBox([control, image])


def on_colab() -> bool:
    """Whether this runs in Google Colab, whose widget manager is safer with an Output area than with an Image
    widget's binary updates."""
    import sys

    return "google.colab" in sys.modules


def slider_view(draw, value: int, lo: int, hi: int, step: int = 1, label: str = "value"):
    """An integer slider from ``lo`` to ``hi`` redrawing ``draw(value)``."""
    return control_view(
        draw,
        lambda w: w.IntSlider(
            value=value,
            min=lo,
            max=hi,
            step=step,
            description=label,
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        value,
    )


def choice_view(draw, options, value=None, label: str = "choice", slider: bool = False):
    """A drop-down menu (or, with ``slider``, a slider) over ``options`` redrawing ``draw(option)``."""
    options = list(options)
    value = options[0] if value is None else value
    kind = "SelectionSlider" if slider else "Dropdown"
    return control_view(
        draw,
        lambda w: getattr(w, kind)(
            options=options,
            value=value,
            description=label,
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        value,
    )


def noise_slider(image, sigma: int = 25, seed: int = 0, max_sigma: int = 100):
    """A noise-level slider that redraws :func:`~dip_helpers.plotting.plot_noisy` for each ``sigma``."""
    return slider_view(lambda s: plot_noisy(image, s, seed), sigma, 0, max_sigma, label="sigma (/255)")
