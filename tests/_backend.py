"""Test helpers that need the Keras backend: a gradient computed by the backend's own autodiff."""

import numpy as np

from dip_helpers.engine import backend


def gradient(fn, x) -> np.ndarray:
    """d fn(x) / dx for a scalar function of one array, by TensorFlow, JAX or PyTorch, whichever Keras runs on."""
    return backend.get().gradient(fn, x)
