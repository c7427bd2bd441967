"""Helpers for the Deep Image Prior course: images, metrics, profiles, plots and widgets.

Notebooks show the ideas; this package holds the machinery they share.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the notebooks

from .engine.backend import select as _select_backend

_select_backend()  # KERAS_BACKEND, or TensorFlow, or the backend that is installed: before Keras loads
from .quiet_import import install as _quiet_tensorflow_import

_quiet_tensorflow_import()  # TensorFlow's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL: filter them

from . import exercises, settings
from .images import (
    add_gaussian_noise,
    available_images,
    center_crop,
    data_dir,
    fit_to_multiple,
    gaussian_noise,
    jpeg_compress,
    load_image,
    resize_image,
    save_image,
    to_float_image,
)
from . import metrics
from .metrics import mse, psnr, psnr_y, ssim
from .plotting import (
    plot_dip_loop,
    plot_noisy,
    plot_receptive_fields,
    plot_rule_losses,
    plot_skip_network,
    show_images,
)
from .profiles import Profile, get_profile, set_profile
from . import spectrum
from .widgets import choice_view, noise_slider, slider_view

__version__ = "0.1.0"

# The engine needs Keras and its backend, which take seconds to import: load them on first use (and not with
# ``from dip_helpers import *``, which takes the names in __all__ only).
_LAZY = {
    "skip_network": "engine", "count_trainable": "engine", "network_input": "engine", "DIP": "engine",
    "receptive_field": "engine",
    "DIPConfig": "engine", "DIPResult": "engine", "build_dip": "engine", "Identity": "engine",
    "Mask": "engine", "Downsampler": "engine", "callbacks": "engine", "operators": "engine", "STOP_RULES": "engine",
    "fit_dip": "live", "LiveView": "live",
    "random_mask": "masks", "text_mask": "masks", "load_mask": "masks", "solve_map": "priors",
    "engine": None, "classical": None, "priors": None, "masks": None, "paper_runs": None, "live": None,
}  # fmt: skip


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'dip_helpers' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    return module if _LAZY[name] is None else getattr(module, name)


__all__ = [
    "Profile",
    "add_gaussian_noise",
    "available_images",
    "center_crop",
    "data_dir",
    "exercises",
    "fit_to_multiple",
    "gaussian_noise",
    "jpeg_compress",
    "get_profile",
    "load_image",
    "mse",
    "noise_slider",
    "plot_dip_loop",
    "plot_noisy",
    "plot_receptive_fields",
    "plot_rule_losses",
    "plot_skip_network",
    "psnr",
    "psnr_y",
    "metrics",
    "resize_image",
    "save_image",
    "set_profile",
    "show_images",
    "ssim",
    "choice_view",
    "slider_view",
    "to_float_image",
    "settings",
    "spectrum",
]
