"""The engine on PyTorch: the training step with ``loss.backward()``, doing exactly what TensorFlow's does; the
interface every backend module gives (see :mod:`dip_helpers.engine.backend`)."""

from __future__ import annotations

import numpy as np
import torch

from ..model import DIP
from .stock import build_network as build_network  # the interface: the stock network
from .stock import build_optimizer as build_optimizer
from .stock import step_function as step_function

#: no fast twin: the stock network and Keras' Adam
FAST = False


class TorchDIP(DIP):
    """:class:`..model.DIP` for PyTorch: gradients by ``loss.backward()``."""

    def train_step(self, data):
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


def model_class(fast: bool = False) -> type:
    """:class:`TorchDIP` (PyTorch has no fast twin)."""
    return TorchDIP


def jit_compile(requested: bool) -> str:
    """Keras decides (it does not compile PyTorch's step by default)."""
    return "auto"


def has_gpu() -> bool:
    """Whether PyTorch sees a CUDA GPU."""
    return bool(torch.cuda.is_available())


def gpu() -> dict | None:
    """The CUDA GPU's name, free and peak memory; None without one."""
    if not torch.cuda.is_available():
        return None
    return {
        "name": torch.cuda.get_device_name(0),
        "free_gb": torch.cuda.mem_get_info()[0] / 1e9,
        "peak_mb": torch.cuda.max_memory_allocated() / 2**20,
    }


def conv_step(x0: np.ndarray, w0: np.ndarray, dtype: str = "float32"):
    """One 3x3 convolution of the NHWC ``x0`` by the HWIO ``w0`` ("same" padding) with both gradients, in
    ``dtype``, as a function of no arguments (on the GPU when there is one)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tdtype = getattr(torch, dtype)
    x = torch.tensor(x0, device=device, dtype=tdtype).permute(0, 3, 1, 2).contiguous().requires_grad_()
    w = torch.tensor(w0, device=device, dtype=tdtype).permute(3, 2, 0, 1).contiguous().requires_grad_()

    def step():
        x.grad = w.grad = None
        y = torch.nn.functional.conv2d(x, w, padding=1)
        (y.float() ** 2).sum().backward()
        return (x.grad.float().sum() + w.grad.float().sum()).detach().cpu()

    return step


def gradient(fn, x) -> np.ndarray:
    """d fn(x) / dx of a scalar function of one array, by ``backward()``."""
    t = torch.tensor(np.asarray(x, np.float32), requires_grad=True)
    fn(t).backward()
    return t.grad.numpy()
