"""The Deep Image Prior engine: network, operators, the Keras model, callbacks and the runner.

- :mod:`.network`: the skip network, in stock Keras layers;
- :mod:`.operators`: the degradation operators ``A`` (identity, mask, downsampler);
- :mod:`.model`: :class:`DIP`, a ``keras.Model`` whose loss is the DIP loss;
- :mod:`.callbacks`: history, moving average, snapshots, early stopping (ES-WMV, SURE), divergence guard,
  backtracking, TensorBoard, Ctrl-C; :mod:`.stopping`: SURE's arithmetic, free of Keras;
- :mod:`.config` and :mod:`.result`: :class:`DIPConfig` and :class:`DIPResult`, free of Keras;
- :mod:`.fit`: :func:`build_dip`, :func:`fit_dip`, the result cache;
- :mod:`.backend`: the one door to the framework; the training step of each (TensorFlow's, with its fast twin,
  JAX's and PyTorch's) lives in its module there;
- :mod:`.memory`, :mod:`.machine` and :mod:`.bench`: will a run fit, which machine is this, how fast is a step.

It runs on the Keras backend that ``KERAS_BACKEND`` names: tensorflow (the course's default), jax or torch.
Importing this package loads no framework: its names load their module, and Keras, on first use.
"""

import importlib

_LAZY = {
    "DIP": "model", "network_input": "model", "DIPConfig": "config", "PRECISIONS": "config",
    "DIPResult": "result", "STOP_RULES": "result", "ENGINE_VERSION": "fit", "build_dip": "fit", "fit_dip": "fit",
    "count_trainable": "network", "skip_network": "network", "receptive_field": "network",
    "Downsampler": "operators", "Identity": "operators", "Mask": "operators",
}  # fmt: skip
_MODULES = ("backend", "bench", "callbacks", "config", "fit", "machine", "memory", "model", "network", "operators",
            "result", "stopping", "tensorboard")  # fmt: skip
_KERAS_FREE = ("backend", "config", "machine", "memory", "result", "stopping")


def __getattr__(name):
    if name not in _MODULES and name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _LAZY.get(name, name)
    if module not in _KERAS_FREE:
        importlib.import_module(".backend", __name__).require()  # a clear message, before Keras fails to load
    loaded = importlib.import_module(f".{module}", __name__)
    return loaded if name in _MODULES else getattr(loaded, name)


__all__ = [*_LAZY, *_MODULES]
