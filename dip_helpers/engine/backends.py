"""The DIP training step on JAX and PyTorch, and the check that a usable Keras backend is installed.

:class:`.model.DIP` holds TensorFlow's ``train_step``, the one the course reads. Keras runs
the same model on JAX and PyTorch, but a custom training step is written for each backend:
JAX's is a pure function of the model's state (the keras-io guide "custom train_step in JAX"),
PyTorch's uses ``loss.backward()``. Both do exactly what TensorFlow's does.
"""

from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

#: backend name -> (module Keras imports, how to install it)
BACKENDS = {
    "tensorflow": ("tensorflow", "pip install tensorflow-cpu  (or: pip install -e '.[tf]')"),
    "jax": ("jax", "pip install 'jax[cpu]'  (with an NVIDIA GPU: pip install 'jax[cuda12]')"),
    "torch": ("torch", "pip install torch"),
}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_backend(name: str | None = None) -> str:
    """The Keras backend to use (``KERAS_BACKEND``, default tensorflow), after checking that it is installed."""
    name = (name or os.environ.get("KERAS_BACKEND") or "tensorflow").strip().lower()
    if name not in BACKENDS:
        raise ImportError(
            f"KERAS_BACKEND={name!r} is not a backend the DIP engine runs on; use one of {', '.join(BACKENDS)}"
        )
    module, install = BACKENDS[name]
    if not installed(module):
        others = [b for b, (m, _) in BACKENDS.items() if b != name and installed(m)]
        hint = f", or set KERAS_BACKEND to {' or '.join(others)} (installed here)" if others else ""
        raise ImportError(f"KERAS_BACKEND={name} needs the '{module}' package, which is not installed: {install}{hint}")
    return name


@functools.lru_cache(maxsize=None)
def _model_classes():
    from .model import DIP

    class JaxDIP(DIP):
        """:class:`.model.DIP` for JAX: the step is a pure function of the state; noise keyed by the step count."""

        def train_step(self, state, data):
            import jax

            trainable, non_trainable, optimizer_vars, metrics_vars = state
            z = self.z
            if self.reg_noise_std > 0:
                step = optimizer_vars[self._index(self.optimizer.variables, self.optimizer.iterations)]
                key = jax.random.fold_in(jax.random.PRNGKey(self.seed), step)
                z = z + self.reg_noise_std * jax.random.normal(key, z.shape, z.dtype)

            def loss_fn(trainable):
                out, new_non_trainable = self.stateless_call(trainable, non_trainable, z, training=True)
                loss, logs = self.loss_and_logs(out)
                return loss, (out, new_non_trainable, logs)

            (_, (out, non_trainable, logs)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
            trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
            non_trainable = list(non_trainable)
            non_trainable[self._index(self.non_trainable_variables, self.last_output)] = out
            return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)

        @staticmethod
        def _index(variables, variable) -> int:
            return next(i for i, v in enumerate(variables) if v is variable)

        def current_output(self):
            state = getattr(self, "_jax_state", None)
            if state and not self._jax_state_synced:  # during fit, the newest values live in the state
                i = self._index(self.non_trainable_variables, self.last_output)
                return np.asarray(state["non_trainable_variables"][i])[0]
            return super().current_output()

    class TorchDIP(DIP):
        """:class:`.model.DIP` for PyTorch: gradients by ``loss.backward()``."""

        def train_step(self, data):
            import torch

            z = self.z
            if self.reg_noise_std > 0:
                z = z + self.input_noise(z.shape)
            self.zero_grad()
            out = self(z, training=True)
            loss, logs = self.loss_and_logs(out)
            loss.backward()
            variables = self.net.trainable_weights
            with torch.no_grad():
                self.optimizer.apply([v.value.grad for v in variables], variables)
            self.last_output.assign(out.detach())
            return {k: v.detach() for k, v in logs.items()}

    return {"jax": JaxDIP, "torch": TorchDIP}


def model_class(backend: str, fast: bool = True):
    """The DIP model class for ``backend``: TensorFlow's fast one (``fast``), the stock one, or JAX's / PyTorch's."""
    if backend == "tensorflow":
        if fast:
            from .tf_fast import FastDIP

            return FastDIP
        from .model import DIP

        return DIP
    return _model_classes()[backend]


def sync_state(model) -> None:
    """Under JAX, write the state that ``fit`` carries back into the model's variables (a no-op elsewhere)."""
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
