"""TensorBoard event files on any backend: TensorFlow's writer when TensorFlow is installed, else tensorboardX."""

from __future__ import annotations

import numpy as np

from .backend import installed

#: what to install for TensorBoard logs where TensorFlow is missing
INSTALL = "pip install tensorboardX"


def writer_kind() -> str | None:
    """The event writer installed here: 'tensorflow', else 'tensorboardX', else None (looked up, not imported)."""
    return next((kind for kind in ("tensorflow", "tensorboardX") if installed(kind)), None)


class EventWriter:
    """Scalars and images for TensorBoard in ``log_dir``. ``kind``: 'tensorflow' (its writer lives in
    :mod:`.backend.tensorflow`), 'tensorboardX' or None (the first of the two that is installed)."""

    def __init__(self, log_dir, kind: str | None = None):
        self.log_dir = str(log_dir)
        self.kind = kind or writer_kind() or "tensorboardX"  # neither: tensorboardX's error says what to install
        if self.kind == "tensorflow":
            from .backend.tensorflow import SummaryWriter

            self._writer = SummaryWriter(self.log_dir)
        elif self.kind == "tensorboardX":
            if not installed("tensorboardX"):
                raise ImportError(f"TensorBoard logs without TensorFlow need tensorboardX: {INSTALL}")
            self._writer = _TensorBoardX(self.log_dir)
        else:
            raise ValueError(f"kind must be 'tensorflow' or 'tensorboardX', got {kind!r}")

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._writer.scalar(tag, float(value), step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An (H, W, C) image with values in [0, 1] (clipped)."""
        self._writer.image(tag, np.clip(np.asarray(image, np.float32), 0, 1), step)

    def close(self) -> None:
        self._writer.close()


class _TensorBoardX:
    """tensorboardX's writer behind the same three methods as the TensorFlow one."""

    def __init__(self, log_dir: str):
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(log_dir)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._writer.add_scalar(tag, value, step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        self._writer.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
