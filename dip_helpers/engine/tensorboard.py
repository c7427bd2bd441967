"""TensorBoard event files on any backend: TensorFlow's writer when TensorFlow is installed, else tensorboardX."""

from __future__ import annotations

import numpy as np

from .backends import installed


class EventWriter:
    """Scalars and images for TensorBoard in ``log_dir``. ``kind``: 'tensorflow', 'tensorboardX' or None (the first
    of the two that is installed)."""

    def __init__(self, log_dir, kind: str | None = None):
        self.log_dir = str(log_dir)
        self.kind = kind or ("tensorflow" if installed("tensorflow") else "tensorboardX")
        if self.kind == "tensorflow":
            import tensorflow as tf

            self._tf = tf
            self._writer = tf.summary.create_file_writer(self.log_dir)
        elif self.kind == "tensorboardX":
            if not installed("tensorboardX"):
                raise ImportError("TensorBoard logs without TensorFlow need tensorboardX: pip install tensorboardX")
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(self.log_dir)
        else:
            raise ValueError(f"kind must be 'tensorflow' or 'tensorboardX', got {kind!r}")

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.kind == "tensorflow":
            with self._writer.as_default(step=step):
                self._tf.summary.scalar(tag, float(value))
        else:
            self._writer.add_scalar(tag, float(value), step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An (H, W, C) image with values in [0, 1] (clipped)."""
        image = np.clip(np.asarray(image, np.float32), 0, 1)
        if self.kind == "tensorflow":
            with self._writer.as_default(step=step):
                self._tf.summary.image(tag, image[None])
        else:
            self._writer.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
