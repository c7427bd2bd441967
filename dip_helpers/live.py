"""Watching a DIP run in a notebook: :class:`LiveView` redraws the output and the PSNR curves in place, and
:func:`fit_dip` is the engine's runner with that view added."""

from __future__ import annotations

from .engine import callbacks, fit


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures can be redrawn in place)."""
    try:
        from IPython import get_ipython

        return type(get_ipython()).__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


class LiveView(callbacks.Progress):
    """:class:`~dip_helpers.engine.callbacks.Progress` shown in place: in a notebook, the output and the PSNR curves
    redrawn (or, with ``text_only``, the progress line rewritten); elsewhere, the line printed."""

    def __init__(self, every: int | None = None, total: int | None = None, text_only: bool = False):
        super().__init__(every, total)
        self.notebook = in_notebook()
        self.text_only = text_only or not self.notebook
        self.handle = None

    def show(self, line: str) -> None:
        if not self.notebook:
            super().show(line)
        elif self.text_only:  # one line, rewritten in place
            self._update({"text/plain": line}, raw=True)
        else:
            self._update(self._picture(line))

    def _update(self, what, **kwargs) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display(what, display_id=True, **kwargs)
        else:
            self.handle.update(what, **kwargs)

    def _picture(self, line: str):
        import matplotlib.pyplot as plt
        from IPython.display import Image

        from .plotting import draw_image, plot_psnr_curves
        from .widgets import figure_png

        fig, (ax_img, ax_curve) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 1.4]})
        draw_image(ax_img, self.model.current_output(), f"output at step {self._step}")
        plot_psnr_curves(ax_curve, self.curves)
        ax_curve.set_xlim(1, self.total or self._step)
        ax_curve.legend(loc="lower right")
        fig.suptitle(line, fontsize=9)
        fig.tight_layout()
        return Image(figure_png(fig))  # a PNG whatever the matplotlib backend; closes the figure


def fit_dip(
    measurement,
    operator=None,
    config=None,
    truth=None,
    callbacks=(),
    live: int | None = None,
    log_dir=None,
    cache_dir=None,
    force: bool = False,
    verbose: bool = True,
):
    """:func:`dip_helpers.engine.fit.fit_dip` with a :class:`LiveView`: every ``live`` steps the output and the
    curves redrawn in a notebook; without ``live``, a progress line (when ``verbose``). The other arguments are the
    engine's."""
    view = LiveView(every=live, text_only=not live) if (live or verbose) else None
    return fit.fit_dip(
        measurement, operator, config, truth, callbacks=callbacks, progress=view, log_dir=log_dir,
        cache_dir=cache_dir, force=force, verbose=verbose,
    )  # fmt: skip
