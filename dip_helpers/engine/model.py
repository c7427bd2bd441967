"""Deep Image Prior as a Keras model: ``theta* = argmin ||A f_theta(z + n) - y||^2``.

:class:`DIP` wraps a generator network ``f`` (the skip network), a fixed input ``z``
and an operator ``A``, and computes the loss and the logs of a step. Its ``train_step``,
one Adam step with fresh input noise ``n`` of std ``reg_noise_std``, is written once per
framework, in :mod:`.backend` (TensorFlow's is the one notebook 05 reads). ``Model.fit``
drives it, one step per batch, so Keras callbacks see every step.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .operators import Identity, Operator


def psnr_tensor(x, y):
    """PSNR in dB of two tensors with values in [0, 1], inside a training step (any Keras backend)."""
    err = ops.mean(ops.square(ops.cast(x, "float32") - ops.cast(y, "float32")))
    return (10.0 / np.log(10.0)) * ops.log(1.0 / ops.maximum(err, 1e-12))


def network_input(height: int, width: int, channels: int = 32, kind: str = "noise", scale: float = 0.1, seed: int = 0):
    """The fixed input ``z`` of shape (1, H, W, C): uniform noise in [0, scale) or a meshgrid (C = 2)."""
    if kind == "noise":
        rng = np.random.default_rng(seed)
        return (rng.random((1, height, width, channels)) * scale).astype(np.float32)
    if kind == "meshgrid":
        if channels != 2:
            raise ValueError("a meshgrid input has exactly 2 channels")
        yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
        return np.stack([xx, yy], axis=-1)[None].astype(np.float32)
    raise ValueError(f"kind must be 'noise' or 'meshgrid', got {kind!r}")


class DIP(keras.Model):
    """Fits ``net(z + n)``, cropped to the image size, so that ``A(output)`` matches ``measurement``.

    Logs per step: ``loss``, ``psnr_measured`` (A(output) against the measurement) and, when
    ``truth`` is given, ``psnr_truth``. The latest output is kept in ``self.last_output``
    (read it with :meth:`current_output`). The framework's subclass (``backend.get().model_class``)
    adds the ``train_step``.
    """

    def __init__(
        self,
        net,
        z,
        measurement,
        operator: Operator | None = None,
        image_shape=None,
        reg_noise_std: float = 1 / 30,
        truth=None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.net = net
        self.operator = operator or Identity()
        self.z = ops.convert_to_tensor(np.asarray(z, np.float32))
        self.y = ops.convert_to_tensor(np.asarray(measurement, np.float32)[None])
        h, w, c = image_shape or np.shape(measurement)
        self.image_shape = (int(h), int(w), int(c))
        self.truth_image = None if truth is None else np.asarray(truth, np.float32)
        self.truth = None if truth is None else ops.convert_to_tensor(self.truth_image[None])
        self.reg_noise_std = float(reg_noise_std)
        self.seed = int(seed)
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.last_output = self.add_weight(shape=(1, h, w, c), initializer="zeros", trainable=False, name="last_output")
        self.built = True  # the network is built: fit must not probe the model with its placeholder data

    def call(self, z, training=True):
        h, w, _ = self.image_shape
        return ops.cast(self.net(z, training=training)[:, :h, :w, :], "float32")

    def input_noise(self, shape):
        """Fresh Gaussian noise of std ``reg_noise_std``, added to ``z`` at every step."""
        return keras.random.normal(shape, stddev=self.reg_noise_std, seed=self.noise_seed)

    def loss_and_logs(self, out):
        """The loss ``mean((A(out) - y)^2)`` and the step's logs."""
        measured = self.operator(out)
        loss = ops.mean(ops.square(measured - self.y))
        logs = {"loss": loss, "psnr_measured": psnr_tensor(measured, self.y)}
        if self.truth is not None:
            logs["psnr_truth"] = psnr_tensor(out, self.truth)
        return loss, logs

    def train_step(self, *args):
        raise NotImplementedError(
            "DIP is the part every framework shares: build the model with build_dip(), which picks the framework's "
            "subclass (backend.get().model_class()), the one with a train_step"
        )

    def current_output(self) -> np.ndarray:
        """The output of the latest step, as an (H, W, C) array; while :meth:`copy_once_per_step` is on, one read-only
        copy from the device per step, shared by every callback that asks."""
        if getattr(self, "_host_output", None) is not None:
            return self._host_output
        out = self.read_output()
        if getattr(self, "_once_per_step", False):
            out.setflags(write=False)
            self._host_output = out
        return out

    def read_output(self) -> np.ndarray:
        """Copy the latest step's output from the device, as an (H, W, C) array."""
        return ops.convert_to_numpy(self.last_output)[0]

    def copy_once_per_step(self, on: bool) -> None:
        """Turn the per-step sharing of :meth:`current_output` on or off; also forgets the copy of the last step
        (:class:`~.callbacks.OneCopyPerStep` calls it at every step)."""
        self._once_per_step, self._host_output = on, None

    def sync_variables(self) -> None:
        """Write the newest state into the model's variables, where a framework keeps it apart during ``fit``
        (JAX does); a no-op elsewhere."""

    def generate(self) -> np.ndarray:
        """The output for the plain input ``z`` (no added noise), as an (H, W, C) array."""
        return ops.convert_to_numpy(self(self.z, training=True))[0]
