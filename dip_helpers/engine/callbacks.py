"""Keras callbacks for DIP runs: each small, each usable with ``Model.fit`` on any backend; none draws.

They read the model's latest output (``model.current_output()``, a numpy array) and the
per-step logs; with :class:`OneCopyPerStep` first, the output is copied from the device once per step for all of them.
Order matters where one adds a log the next reads: :class:`OutputAverage` adds ``psnr_ema``,
:class:`Backtracking` ``backtracked`` and :class:`SureRisk` ``sure``, so they go before :class:`History`
(``fit_dip`` does this).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from pathlib import Path

import keras
import numpy as np

from ..metrics import psnr
from .result import write_history_csv
from .stopping import falls_back, probe, sure_risk


def _sync_variables(model) -> None:
    """The newest state into the model's variables: :meth:`.model.DIP.sync_variables`, Keras' own sync for another
    model under JAX, nothing elsewhere."""
    sync = getattr(model, "sync_variables", None) or getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


class OneCopyPerStep(keras.callbacks.Callback):
    """Put it first: every callback's ``model.current_output()`` of a step then shares one copy from the device."""

    def on_train_begin(self, logs=None):
        self.model.copy_once_per_step(True)

    def on_train_batch_begin(self, batch, logs=None):
        self.model.copy_once_per_step(True)  # forget the last step's copy

    def on_train_end(self, logs=None):
        self.model.copy_once_per_step(False)


class History(keras.callbacks.Callback):
    """Every step's logs, as lists; :meth:`as_arrays` and :meth:`to_csv` to read them."""

    def __init__(self):
        super().__init__()
        self.logs: dict[str, list] = {}

    def on_train_batch_end(self, batch, logs=None):
        for k, v in (logs or {}).items():
            self.logs.setdefault(k, []).append(float(v))

    def as_arrays(self) -> dict:
        return {k: np.asarray(v) for k, v in self.logs.items()}

    def to_csv(self, path) -> Path:
        """Write ``step,<metric>...`` rows (step counted from 1)."""
        return write_history_csv(self.logs, path)


class OutputAverage(keras.callbacks.Callback):
    """Exponential moving average of the outputs, ``avg = decay * avg + (1 - decay) * output``.

    Adds ``psnr_ema`` to the logs when the model knows the ground truth.
    """

    def __init__(self, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.avg = None

    def on_train_batch_end(self, batch, logs=None):
        out = self.model.current_output()
        self.avg = out.copy() if self.avg is None else self.decay * self.avg + (1.0 - self.decay) * out
        truth = getattr(self.model, "truth_image", None)
        if logs is not None and truth is not None:
            logs["psnr_ema"] = psnr(self.avg, truth)

    def image(self) -> np.ndarray | None:
        return self.avg


class BestOutput(keras.callbacks.Callback):
    """Keeps the output of the step where the log ``monitor`` (default: PSNR to the ground truth) was highest."""

    def __init__(self, monitor: str = "psnr_truth"):
        super().__init__()
        self.monitor, self.best, self.step, self.image, self._step = monitor, -np.inf, None, None, 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        value = (logs or {}).get(self.monitor)
        if value is not None and float(value) > self.best:
            self.best, self.step, self.image = float(value), self._step, self.model.current_output()


class Snapshots(keras.callbacks.Callback):
    """Outputs at step 1, every ``every`` steps and at the last step: ``images[step] = (H, W, C) array``."""

    def __init__(self, every: int = 100):
        super().__init__()
        self.every, self.images, self._step = every, {}, 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step == 1 or self._step % self.every == 0:
            self.images[self._step] = self.model.current_output()

    def on_train_end(self, logs=None):
        if self._step and self._step not in self.images:
            self.images[self._step] = self.model.current_output()


class EarlyStoppingWMV(keras.callbacks.Callback):
    """Early stopping without ground truth (ES-WMV, Wang et al. 2021, arXiv 2112.06074).

    Tracks the variance of the last ``window`` outputs; the step where it is lowest is the
    pick (``best_step``, ``best_image``). With ``stop``, training ends ``patience`` steps after
    the last new minimum. When the ground truth is logged, ``gap_db`` is the PSNR lost
    against the true peak.
    """

    def __init__(self, window: int = 100, patience: int = 1000, stop: bool = False):
        super().__init__()
        self.window, self.patience, self.stop = window, patience, stop
        self.recent: deque = deque()
        self.best_step, self.best_image, self.best_var = None, None, np.inf
        self.variances: list = []
        self._sum = self._sumsq = None
        self._step = 0
        self._truth_psnr: list = []

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        x = np.asarray(self.model.current_output(), np.float64)
        if logs and "psnr_truth" in logs:
            self._truth_psnr.append(float(logs["psnr_truth"]))
        if self._sum is None:
            self._sum, self._sumsq = np.zeros_like(x), np.zeros_like(x)
        self.recent.append(x.astype(np.float32))
        self._sum += x
        self._sumsq += x * x
        if len(self.recent) > self.window:
            old = self.recent.popleft().astype(np.float64)
            self._sum -= old
            self._sumsq -= old * old
        if len(self.recent) < self.window:
            self.variances.append(np.nan)
            return
        n = self.window
        var = float(np.mean(np.maximum(self._sumsq / n - (self._sum / n) ** 2, 0)))
        self.variances.append(var)
        if var < self.best_var:
            self.best_var, self.best_step, self.best_image = var, self._step, self.recent[-1].copy()
        elif self.stop and self._step - self.best_step >= self.patience:
            self.model.stop_training = True

    @property
    def gap_db(self) -> float | None:
        """PSNR at the true peak minus PSNR at the picked step (needs the ground truth)."""
        if not self._truth_psnr or self.best_step is None:
            return None
        return max(self._truth_psnr) - self._truth_psnr[self.best_step - 1]


class DivergenceGuard(keras.callbacks.Callback):
    """Undo a blow-up: a NaN/inf loss, or ``psnr_measured`` falling ``drop_db`` below its best of the
    last ``memory`` steps, restores the weights and the optimiser state of the last good
    checkpoint, halves the learning rate (the same state and rate would replay the same
    blow-up), and says so.

    Checkpoints are taken every ``every`` steps while the run is healthy: the weights a step
    starts from, kept once that step's PSNR shows they were good. Each event is printed and
    kept in ``events``.
    """

    def __init__(self, drop_db: float = 5.0, every: int = 10, memory: int = 100):
        super().__init__()
        self.drop_db, self.every = drop_db, every
        self.recent = deque(maxlen=memory)
        self.saved, self.saved_step, self.saved_psnr, self.events, self._step = None, 0, np.nan, [], 0
        self._candidate = None

    def _optimizer_variables(self) -> list:
        optimizer = getattr(self.model, "optimizer", None)
        return list(optimizer.variables) if optimizer is not None else []

    def on_train_batch_begin(self, batch, logs=None):
        step = self._step + 1
        if step % self.every == 1 or self.every == 1:  # the state this step starts from
            _sync_variables(self.model)
            self._candidate = (self.model.net.get_weights(), [np.array(v) for v in self._optimizer_variables()])

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = float(logs.get("loss", np.nan)) if logs else np.nan
        psnr_now = float(logs.get("psnr_measured", np.nan)) if logs else np.nan
        bad = not np.isfinite(loss)
        reason = "the loss is not finite"
        if not bad and self.recent and psnr_now < max(self.recent) - self.drop_db:
            bad, reason = True, f"PSNR to the measurement fell from {max(self.recent):.2f} to {psnr_now:.2f} dB"
        if bad:
            msg = f"step {self._step}: {reason}" + (
                f"; {self._restore()}" if self.saved else ", and no checkpoint exists yet"
            )
            self.events.append(msg)
            print("⚠ DivergenceGuard:", msg)
            return
        self.recent.append(psnr_now)
        if self._candidate is not None:  # this step's PSNR is good: keep the state it started from
            self.saved, self.saved_step, self.saved_psnr, self._candidate = self._candidate, self._step, psnr_now, None

    def _restore(self) -> str:
        _sync_variables(self.model)
        optimizer = getattr(self.model, "optimizer", None)
        rate = None if optimizer is None else float(np.asarray(optimizer.learning_rate)) / 2
        weights, optimizer_state = self.saved
        self.model.net.set_weights(weights)
        for v, value in zip(self._optimizer_variables(), optimizer_state):
            v.assign(value)
        said = f"restored the weights of step {self.saved_step}"
        if optimizer is not None:
            optimizer.learning_rate = rate
            said += f" and halved the learning rate to {rate:.3g}"
        self.recent.clear()  # judge the next steps against the checkpoint, not the lost peak
        self.recent.append(self.saved_psnr)
        return said


class Backtracking(keras.callbacks.Callback):
    """The backtracking of the authors' code: a step whose ``psnr_measured`` fell more than ``drop_db`` below the
    last good step's (or is not finite) is undone by putting back the weights that made that good step's output; the
    optimiser's state is kept, as there. Logs ``backtracked`` (1 or 0) per step; ``steps`` lists the undone steps.

    Unlike :class:`DivergenceGuard`, it keeps the learning rate, so the same blow-up can come back again and again.
    """

    def __init__(self, drop_db: float = 5.0):
        super().__init__()
        self.drop_db, self.steps = drop_db, []
        self.saved, self.saved_psnr, self._candidate, self._step = None, np.nan, None, 0

    def on_train_batch_begin(self, batch, logs=None):
        _sync_variables(self.model)
        self._candidate = self.model.net.get_weights()  # the weights this step's output is made with

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        psnr_now = float((logs or {}).get("psnr_measured", np.nan))
        bad = self.saved is not None and falls_back(psnr_now, self.saved_psnr, self.drop_db)
        if bad:
            _sync_variables(self.model)
            self.model.net.set_weights(self.saved)
            self.steps.append(self._step)
        else:
            self.saved, self.saved_psnr = self._candidate, psnr_now
        if logs is not None:
            logs["backtracked"] = float(bad)


class SureRisk(keras.callbacks.Callback):
    """Monte-Carlo SURE of every step's output (:mod:`.stopping`), for denoising ``measurement`` with Gaussian noise
    of std ``sigma``.

    Every step it keeps ``probes`` (:func:`.stopping.probe` of the output with the image ``b``). Given ``perturbed``,
    the probes of the second fit on ``measurement + delta * b``, it also logs ``sure``, the estimated MSE to the clean
    image, and keeps the step where it is lowest (``best_step``, ``best_image``, ``best_risk``).
    """

    def __init__(self, measurement, b, sigma: float, delta: float, perturbed=None):
        super().__init__()
        self.y, self.b = np.asarray(measurement, np.float32), np.asarray(b, np.float32)
        self.sigma, self.delta, self.perturbed = sigma, delta, perturbed
        self.probes: list = []
        self.best_step, self.best_image, self.best_risk, self._step = None, None, np.inf, 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        out = self.model.current_output()
        self.probes.append(probe(out, self.b))
        if self.perturbed is None or self._step > len(self.perturbed):
            return
        mse = float(np.mean((np.asarray(out, np.float64) - self.y) ** 2))
        risk = float(sure_risk(mse, self.probes[-1], self.perturbed[self._step - 1], self.sigma, self.delta))
        if logs is not None:
            logs["sure"] = risk
        if risk < self.best_risk:
            self.best_step, self.best_image, self.best_risk = self._step, np.array(out), risk


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C stops the run at the end of the current step, by raising KeyboardInterrupt there.

    Inside :meth:`listening`, SIGINT only sets a flag: a Ctrl-C that lands while Python runs code that swallows
    exceptions (a garbage-collector callback, such as the one JAX registers) is not lost. A second Ctrl-C interrupts
    at once.
    """

    def __init__(self):
        super().__init__()
        self.pressed = False

    def _on_sigint(self, signum, frame):
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    @contextlib.contextmanager
    def listening(self):
        """Catch SIGINT as above inside the ``with`` block (where Python's own handler was on, in the main thread)."""
        own = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        previous = signal.signal(signal.SIGINT, self._on_sigint) if own else None
        try:
            yield self
        finally:
            if own:
                signal.signal(signal.SIGINT, previous)

    def on_train_batch_end(self, batch, logs=None):
        if self.pressed:
            raise KeyboardInterrupt


class TensorBoardLogger(keras.callbacks.Callback):
    """TensorBoard scalars every step (all logs) and images (output, average) every ``image_every`` steps.

    Writes with TensorFlow's event writer when TensorFlow is installed, else tensorboardX (``kind``,
    'tensorflow' or 'tensorboardX', forces one of them); ``self.writer`` is the writer while the run lasts.
    """

    def __init__(self, log_dir, image_every: int = 100, average: OutputAverage | None = None, kind: str | None = None):
        super().__init__()
        self.log_dir, self.image_every, self.average, self.kind = str(log_dir), image_every, average, kind
        self.writer, self._step = None, 0

    def on_train_begin(self, logs=None):
        from .tensorboard import EventWriter

        self.writer = EventWriter(self.log_dir, self.kind)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        for k, v in (logs or {}).items():
            self.writer.scalar(k, float(v), self._step)
        if self._step == 1 or self._step % self.image_every == 0:
            self.writer.image("output", self.model.current_output(), self._step)
            if self.average is not None and self.average.avg is not None:
                self.writer.image("average", self.average.avg, self._step)

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class Progress(keras.callbacks.Callback):
    """Every ``every`` steps (default: a tenth of the run) and at the end, one line: the step, the latest PSNR
    values and the ms per step over the last interval, printed (:meth:`show` says where)."""

    def __init__(self, every: int | None = None, total: int | None = None):
        super().__init__()
        self.every, self.total = every, total
        self.curves: dict[str, list] = {}
        self._step, self._t0, self._t0_step = 0, None, 0

    def on_train_begin(self, logs=None):
        self.total = self.total or (self.params or {}).get("steps")
        self.every = self.every or max(1, (self.total or 10) // 10)
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        for k, v in (logs or {}).items():
            if k.startswith("psnr"):
                self.curves.setdefault(k, []).append(float(v))
        if self._step % self.every and self._step != self.total:
            return
        self._report()

    def on_train_end(self, logs=None):
        if self._step and self._step != self._t0_step:  # stopped early: show where
            self._report()

    def _report(self):
        now = time.perf_counter()
        ms = 1000 * (now - self._t0) / (self._step - self._t0_step)  # over the last interval only
        self._t0, self._t0_step = now, self._step
        parts = [f"step {self._step}" + (f"/{self.total}" if self.total else "")]
        parts += [f"{k} {v[-1]:.2f}" for k, v in self.curves.items()] + [f"{ms:.0f} ms/step"]
        self.show(" | ".join(parts))

    def show(self, line: str) -> None:
        """Print the progress line."""
        print(line, flush=True)
