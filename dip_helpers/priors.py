"""Hand-made priors and the MAP estimate ``x* = argmin_x ||A x - y||^2 + lam * R(x)`` by gradient descent."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .engine.operators import Identity, Operator


def _diffs(x):
    """Horizontal and vertical differences of a (1, H, W, C) tensor."""
    return x[:, :, 1:, :] - x[:, :, :-1, :], x[:, 1:, :, :] - x[:, :-1, :, :]


def tikhonov(x):
    """Smoothness prior: mean squared finite difference (penalises every edge, big ones most)."""
    dx, dy = _diffs(x)
    return tf.reduce_mean(tf.square(dx)) + tf.reduce_mean(tf.square(dy))


def total_variation(x, eps: float = 1e-6):
    """Total variation: mean length of the image gradient (keeps sharp edges, removes small wiggles)."""
    dx, dy = _diffs(x)
    return tf.reduce_mean(tf.sqrt(tf.square(dx[:, :-1]) + tf.square(dy[:, :, :-1]) + eps))


PRIORS = {"none": None, "tikhonov": tikhonov, "tv": total_variation}


def solve_map(
    y,
    operator: Operator | None = None,
    prior: str = "tv",
    lam: float = 0.1,
    steps: int = 300,
    lr: float = 0.01,
    shape=None,
    start=None,
) -> np.ndarray:
    """Minimise ``mean((A x - y)^2) + lam * R(x)`` over the image ``x`` with Adam; returns x in [0, 1].

    ``prior``: 'none', 'tikhonov' or 'tv'. ``shape``: the size of ``x`` when A changes it
    (super-resolution); ``start``: the first guess (default: ``y`` when shapes agree, else grey).
    """
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    if lam < 0 or steps < 1 or lr <= 0:
        raise ValueError("lam must be >= 0, steps >= 1 and lr > 0")
    operator = operator or Identity()
    y = tf.constant(np.asarray(y, np.float32)[None])
    shape = tuple(shape) if shape is not None else tuple(y.shape[1:])
    if start is None:
        start = np.asarray(y[0]) if tuple(y.shape[1:]) == shape else np.full(shape, 0.5, np.float32)
    x = tf.Variable(np.asarray(start, np.float32)[None])
    opt = tf.keras.optimizers.Adam(lr)
    reg = PRIORS[prior]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(operator(x) - y))
            if reg is not None and lam > 0:
                loss += lam * reg(x)
        opt.apply_gradients([(tape.gradient(loss, x), x)])
        x.assign(tf.clip_by_value(x, 0.0, 1.0))
        return loss

    for _ in range(steps):
        step()
    return np.asarray(x[0])
