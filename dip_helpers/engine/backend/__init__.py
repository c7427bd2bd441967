"""The one place that knows which framework runs the engine, and the only door to it.

Keras computes on the backend that ``KERAS_BACKEND`` names. The engine's code for each lives in one module here,
:mod:`.tensorflow`, :mod:`.jax` and :mod:`.torch`, the only modules of the engine that import their framework.
Each gives the same small interface:

- ``model_class(fast)``: the DIP model class, whose ``train_step`` is one DIP step on that framework;
- ``FAST``: whether it has a fast twin of the network and optimiser (TensorFlow's, for CPUs);
  ``build_network(kwargs, fast)`` and ``build_optimizer(lr, fast)`` build the network and Adam;
- ``jit_compile(requested)``: what to pass to ``Model.compile``;
- ``has_gpu()``: whether the framework sees a GPU (it only lists devices); ``gpu()``: the GPU's name, free and peak
  memory, or None on a CPU;
- ``step_function(model)``, ``conv_step(x, w, dtype)`` and ``gradient(fn, x)``: for the benchmark and the tests.

:func:`get` imports the module once; nothing here imports Keras or a framework before that, so that the
profiles load fast.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from dataclasses import dataclass

from ... import settings
from .. import machine

#: the course's framework when KERAS_BACKEND is unset and TensorFlow is installed
DEFAULT = "tensorflow"

#: backend name -> (the module Keras imports, how to install it)
BACKENDS = {
    "tensorflow": ("tensorflow", "pip install -e '.[tf]'  (or: pip install tensorflow-cpu keras)"),
    "jax": ("jax", "pip install -e '.[jax]'  (with an NVIDIA GPU: pip install 'jax[cuda12]')"),
    "torch": ("torch", "pip install -e '.[torch]' --extra-index-url https://download.pytorch.org/whl/cpu"),
}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def name() -> str:
    """The backend's name: ``KERAS_BACKEND`` if set, else :data:`DEFAULT` if installed, else the first installed
    of jax and torch (then :data:`DEFAULT`, for the message that says what to install)."""
    chosen = settings.get("KERAS_BACKEND").lower()
    if chosen:
        return chosen
    for candidate in BACKENDS:
        if installed(BACKENDS[candidate][0]):
            return candidate
    return DEFAULT


def select() -> str:
    """Write :func:`name` into ``KERAS_BACKEND``, so that Keras, when it loads, runs on it; return it.

    On TensorFlow it also turns on its CPU memory pool (``TF_CPU_ALLOCATOR_USE_BFC``) unless that is set:
    without oneDNN, TensorFlow otherwise takes fresh pages from the system for every large tensor.
    TensorFlow reads it once, at its first operation.
    """
    chosen = name()
    os.environ["KERAS_BACKEND"] = chosen
    if chosen == "tensorflow":
        os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "1")
    return chosen


def require(backend: str | None = None) -> str:
    """``backend`` (default: :func:`name`) after checking that the engine runs on it and that it is installed."""
    backend = (backend or name()).strip().lower()
    if backend not in BACKENDS:
        raise ImportError(
            f"KERAS_BACKEND={backend!r} is not a backend the DIP engine runs on; use one of {', '.join(BACKENDS)}"
        )
    module, install = BACKENDS[backend]
    if not installed(module):
        others = [b for b, (m, _) in BACKENDS.items() if b != backend and installed(m)]
        hint = f", or set KERAS_BACKEND to {' or '.join(others)} (installed here)" if others else ""
        raise ImportError(
            f"KERAS_BACKEND={backend} needs the '{module}' package, which is not installed: {install}{hint}"
        )
    return backend


@functools.lru_cache(maxsize=None)
def get():
    """The module of the backend Keras runs on (imported once), after :func:`require`."""
    wanted = require(select())
    import keras

    running = keras.backend.backend()
    if running != wanted:
        raise ImportError(
            f"Keras was imported on {running} before the course chose {wanted}: set KERAS_BACKEND before "
            "importing keras, or restart the kernel"
        )
    return importlib.import_module(f".{running}", __name__)


def running() -> str:
    """The name of the backend the engine runs on (importing it, once)."""
    return get().__name__.rsplit(".", 1)[1]


def fast(requested: bool) -> bool:
    """Whether a run that asks for the fast twin (``DIPConfig.fast``) gets it: only where the backend has one."""
    return bool(requested) and get().FAST


@dataclass(frozen=True)
class Device:
    """Where the engine computes: ``kind`` GPU or CPU, its ``name``, its free memory in GB (None when the framework
    does not say) and the peak memory in MB so far (the GPU allocator's, else the process's resident size)."""

    kind: str
    name: str
    free_gb: float | None
    peak_mb: float

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


def has_gpu() -> bool:
    """Whether the backend sees a GPU, asked of the framework without starting anything on it."""
    return bool(get().has_gpu())


def device() -> Device:
    """The device the backend computes on, asked of the framework."""
    gpu = get().gpu()
    if gpu is not None:
        return Device("GPU", gpu["name"], gpu["free_gb"], gpu["peak_mb"])
    cpu = f"{machine.cpu_model()}, {machine.threads()} cores"
    return Device("CPU", cpu, machine.ram_available_gb(), machine.peak_rss_mb())


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs oneDNN's CPU kernels in this process; None without TensorFlow."""
    if not installed("tensorflow"):
        return None
    from . import tensorflow

    return tensorflow.onednn_enabled()
