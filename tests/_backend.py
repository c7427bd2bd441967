"""Test helpers that need the Keras backend: a gradient computed by the backend's own autodiff."""

import keras
import numpy as np


def gradient(fn, x) -> np.ndarray:
    """d fn(x) / dx for a scalar function of one array, by TensorFlow, JAX or PyTorch, whichever Keras runs on."""
    backend = keras.backend.backend()
    x = np.asarray(x, np.float32)
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(jax.numpy.asarray(x)))
    if backend == "torch":
        import torch

        t = torch.tensor(x, requires_grad=True)
        fn(t).backward()
        return t.grad.numpy()
    import tensorflow as tf

    t = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = fn(t)
    return tape.gradient(loss, t).numpy()
