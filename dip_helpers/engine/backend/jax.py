"""The engine on JAX: the training step as a pure function of the model's state (the keras-io guide "custom
train_step in JAX"), doing exactly what TensorFlow's does; the interface every backend module gives (see
:mod:`dip_helpers.engine.backend`)."""

from __future__ import annotations

import jax
import numpy as np

from ..model import DIP
from .stock import build_network as build_network  # the interface: the stock network
from .stock import build_optimizer as build_optimizer
from .stock import step_function as step_function

#: no fast twin: the stock network and Keras' Adam
FAST = False


def _index(variables, variable) -> int:
    return next(i for i, v in enumerate(variables) if v is variable)


class JaxDIP(DIP):
    """:class:`..model.DIP` for JAX: the step is a pure function of the state; the input noise is keyed by the step
    count."""

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_vars, metrics_vars = state
        z = self.z
        if self.reg_noise_std > 0:
            step = optimizer_vars[_index(self.optimizer.variables, self.optimizer.iterations)]
            key = jax.random.fold_in(jax.random.PRNGKey(self.seed), step)
            z = z + self.reg_noise_std * jax.random.normal(key, z.shape, z.dtype)

        def loss_fn(trainable):
            out, new_non_trainable = self.stateless_call(trainable, non_trainable, z, training=True)
            loss, logs = self.loss_and_logs(out)
            return loss, (out, new_non_trainable, logs)

        (_, (out, non_trainable, logs)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
        non_trainable = list(non_trainable)
        non_trainable[_index(self.non_trainable_variables, self.last_output)] = out
        return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)

    def read_output(self):
        state = getattr(self, "_jax_state", None)
        if state and not self._jax_state_synced:  # during fit, the newest values live in the state
            i = _index(self.non_trainable_variables, self.last_output)
            return np.array(state["non_trainable_variables"][i])[0]
        return super().read_output()

    def sync_variables(self) -> None:
        """Write the state that ``fit`` carries into the model's variables."""
        self.jax_state_sync()


def model_class(fast: bool = False) -> type:
    """:class:`JaxDIP` (JAX has no fast twin)."""
    return JaxDIP


def jit_compile(requested: bool) -> str:
    """JAX always compiles its step."""
    return "auto"


def _gpus() -> list:
    return [d for d in jax.devices() if d.platform == "gpu"]


def has_gpu() -> bool:
    """Whether JAX lists a GPU."""
    return bool(_gpus())


def gpu() -> dict | None:
    """The first GPU's kind, free and peak memory (None where JAX does not say); None without a GPU."""
    gpus = _gpus()
    if not gpus:
        return None
    stats = gpus[0].memory_stats() or {}
    free = stats["bytes_limit"] - stats["bytes_in_use"] if {"bytes_limit", "bytes_in_use"} <= set(stats) else None
    return {
        "name": gpus[0].device_kind,
        "free_gb": None if free is None else free / 1e9,
        "peak_mb": stats.get("peak_bytes_in_use", 0) / 2**20,
    }


def conv_step(x0: np.ndarray, w0: np.ndarray, dtype: str = "float32"):
    """One 3x3 convolution of the NHWC ``x0`` by the HWIO ``w0`` ("same" padding) with both gradients, in
    ``dtype``, as a function of no arguments."""
    import jax.numpy as jnp

    x, w = jnp.asarray(x0, dtype), jnp.asarray(w0, dtype)

    def loss(x, w):
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.sum(jnp.square(y.astype(jnp.float32)))

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    return lambda: sum(jnp.sum(g.astype(jnp.float32)) for g in grad(x, w))


def gradient(fn, x) -> np.ndarray:
    """d fn(x) / dx of a scalar function of one array, by ``jax.grad``."""
    return np.asarray(jax.grad(fn)(jax.numpy.asarray(np.asarray(x, np.float32))))
