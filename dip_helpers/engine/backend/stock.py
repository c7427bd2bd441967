"""What the backends without a fast twin (JAX, PyTorch) share, in Keras alone: the stock skip network, Keras' Adam
and a training step driven by ``train_on_batch``."""

from __future__ import annotations

import keras
import numpy as np

from ..network import skip_network


def build_network(kwargs: dict, fast: bool = False) -> keras.Model:
    """``skip_network(**kwargs)`` (``fast`` is ignored: there is no fast twin)."""
    return skip_network(**kwargs)


def build_optimizer(lr: float, fast: bool = False) -> keras.optimizers.Optimizer:
    """Keras' Adam."""
    return keras.optimizers.Adam(lr)


def step_function(model):
    """One training step of a compiled ``model``, as a function of no arguments that returns the loss."""
    x = np.zeros((1, 1), np.float32)
    return lambda: model.train_on_batch(x, return_dict=True)["loss"]
