"""Helpers for the Deep Image Prior course: images, metrics, profiles, plots and widgets.

Notebooks show the ideas; this package holds the machinery they share.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the notebooks
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from . import exercises  # noqa: E402
from .images import (  # noqa: E402
    add_gaussian_noise,
    available_images,
    center_crop,
    data_dir,
    fit_to_multiple,
    gaussian_noise,
    load_image,
    resize_image,
    save_image,
    to_float_image,
)
from .metrics import mse, psnr, ssim
from .plotting import plot_noisy, show_images
from .profiles import Profile, get_profile, set_profile
from .widgets import choice_view, noise_slider, slider_view

__version__ = "0.1.0"

__all__ = [
    "Profile", "add_gaussian_noise", "available_images", "center_crop", "data_dir", "exercises",
    "fit_to_multiple", "gaussian_noise", "get_profile", "load_image", "mse", "noise_slider",
    "plot_noisy", "psnr", "resize_image", "save_image", "set_profile", "show_images", "ssim", "choice_view", "slider_view",
    "to_float_image",
]
