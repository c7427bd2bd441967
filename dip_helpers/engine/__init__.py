"""The Deep Image Prior engine: network, operators, the Keras model, callbacks and the runner.

- :mod:`.network`: the skip network, in stock Keras layers;
- :mod:`.operators`: the degradation operators ``A`` (identity, mask, downsampler);
- :mod:`.model`: :class:`DIP`, a ``keras.Model`` whose ``train_step`` is one DIP step;
- :mod:`.callbacks`: history, moving average, snapshots, early stopping, divergence guard,
  TensorBoard, live view;
- :mod:`.fit`: :class:`DIPConfig`, :func:`build_dip`, :func:`fit_dip`, the result cache;
- :mod:`.backends`: the training step on JAX and PyTorch; :mod:`.tf_fast`: TensorFlow's fast paths.

It runs on the Keras backend that ``KERAS_BACKEND`` names: tensorflow (the course's default), jax or torch.
"""

from .backends import require_backend

BACKEND = require_backend()  # a clear message, before Keras fails on a missing package

from . import callbacks, operators  # noqa: E402
from .fit import ENGINE_VERSION, DIPConfig, DIPResult, build_dip, fit_dip  # noqa: E402
from .model import DIP, network_input  # noqa: E402
from .network import count_trainable, skip_network  # noqa: E402
from .operators import Downsampler, Identity, Mask  # noqa: E402

__all__ = [
    "BACKEND",
    "DIP",
    "DIPConfig",
    "DIPResult",
    "Downsampler",
    "ENGINE_VERSION",
    "Identity",
    "Mask",
    "build_dip",
    "callbacks",
    "count_trainable",
    "fit_dip",
    "network_input",
    "operators",
    "skip_network",
]
