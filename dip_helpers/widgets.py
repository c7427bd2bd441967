"""Sliders for notebooks, with a plain figure when widgets are not available."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .plotting import plot_noisy


def _show(fig):
    from IPython.display import display

    display(fig)
    plt.close(fig)


def noise_slider(image, sigma: int = 25, seed: int = 0, max_sigma: int = 100):
    """A noise-level slider that redraws :func:`~dip_helpers.plotting.plot_noisy`.

    Without ipywidgets (or outside Jupyter) it draws the figure once for ``sigma``.
    """
    try:
        import ipywidgets as w
    except ImportError:
        _show(plot_noisy(image, sigma, seed))
        return None
    slider = w.IntSlider(value=sigma, min=0, max=max_sigma, step=1, description="sigma (/255)", continuous_update=False)
    return w.interact(lambda sigma: _show(plot_noisy(image, sigma, seed)), sigma=slider)
