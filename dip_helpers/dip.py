"""Deep Image Prior as a Keras model: ``theta* = argmin ||A f_theta(z + n) - y||^2``.

:class:`DIP` wraps a generator network ``f`` (the skip network), a fixed input
``z`` and an operator ``A``; its ``train_step`` takes one Adam step with fresh
input noise ``n`` of std ``reg_noise_std``.  ``Model.fit`` drives it, one step
per batch, so Keras callbacks see every step.  :func:`fit_dip` builds all of
it from a :class:`DIPConfig` and returns a :class:`DIPResult`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .operators import Downsampler, Identity, Operator
from .skip import skip_network


def psnr_tf(x, y):
    """PSNR in dB of two tensors with values in [0, 1]."""
    mse = tf.reduce_mean(tf.square(tf.cast(x, tf.float32) - tf.cast(y, tf.float32)))
    return 10.0 * tf.math.log(1.0 / tf.maximum(mse, 1e-12)) / math.log(10.0)


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


def normal_noise(gen: tf.random.Generator, shape, std: float = 1.0):
    """``std`` times standard normal samples of a static ``shape``, by the Box-Muller transform.

    Exactly normal, like ``gen.normal``, at about half its cost on CPU (7 against 13 ms for
    the 2 million values of a 256x256x32 input on 2 cores, measured).
    """
    n = math.prod(shape)
    u = gen.uniform((2, (n + 1) // 2))  # in [0, 1), so 1 - u is never 0
    radius = std * tf.sqrt(-2.0 * tf.math.log1p(-u[0]))
    angle = (2 * math.pi) * u[1]
    return tf.reshape(tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], 0)[:n], shape)


class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam, same formula, with each variable updated by one TensorFlow kernel (ResourceApplyAdam).

    Keras' own update runs about ten small operations per variable; for the paper's 2.2
    million parameters this one takes about 4.5 instead of 13 ms per step on 2 CPU cores
    (measured). ``amsgrad`` falls back to Keras' update.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        i = self._get_variable_index(variable)
        dtype = variable.dtype

        def handle(v):
            return (v.value if isinstance(v, keras.Variable) else v).handle

        t = tf.cast(self.iterations + 1, dtype)
        b1, b2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(var=handle(variable), m=handle(self._momentums[i]), v=handle(self._velocities[i]),
                                     beta1_power=b1**t, beta2_power=b2**t, lr=tf.cast(learning_rate, dtype),
                                     beta1=b1, beta2=b2, epsilon=tf.cast(self.epsilon, dtype),
                                     grad=tf.cast(gradient, dtype))


class DIP(keras.Model):
    """Fits ``net(z + n)``, cropped to the image size, so that ``A(output)`` matches ``measurement``.

    Logs per step: ``loss``, ``psnr_measured`` (A(output) vs the measurement) and, when
    ``truth`` is given, ``psnr_truth``.  The latest output is kept in ``self.last_output``.
    """

    def __init__(self, net, z, measurement, operator: Operator | None = None, image_shape=None,
                 reg_noise_std: float = 1 / 30, truth=None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.operator = operator or Identity()
        self.z = tf.constant(z)
        self.y = tf.constant(np.asarray(measurement, np.float32)[None])
        h, w, c = image_shape or measurement.shape
        self.image_shape = (int(h), int(w), int(c))
        self.truth = None if truth is None else tf.constant(np.asarray(truth, np.float32)[None])
        self.reg_noise_std = float(reg_noise_std)
        self.noise_gen = tf.random.Generator.from_seed(seed)
        self.last_output = tf.Variable(tf.zeros((1, h, w, c)), trainable=False, name="last_output")

    def call(self, z, training=True):
        h, w, _ = self.image_shape
        return tf.cast(self.net(z, training=training)[:, :h, :w, :], tf.float32)

    def generate(self):
        """The output for the plain input ``z`` (no added noise), as an (H, W, C) array."""
        return np.asarray(self(self.z, training=True)[0])

    def train_step(self, data):
        z = self.z
        if self.reg_noise_std > 0:
            z = z + normal_noise(self.noise_gen, z.shape, self.reg_noise_std)
        variables = self.net.trainable_variables
        with tf.GradientTape() as tape:
            out = self(z, training=True)
            measured = self.operator(out)
            loss = tf.reduce_mean(tf.square(measured - self.y))
        # biases followed by batch norm get no gradient (see skip.ConvBeforeNorm): leave them out
        grads, variables = zip(*[(g, v) for g, v in zip(tape.gradient(loss, variables), variables) if g is not None])
        self.optimizer.apply(grads, variables)
        self.last_output.assign(out)
        logs = {"loss": loss, "psnr_measured": psnr_tf(measured, self.y)}
        if self.truth is not None:
            logs["psnr_truth"] = psnr_tf(out, self.truth)
        return logs


@dataclasses.dataclass
class DIPConfig:
    """Everything that defines a DIP run (the paper's denoising settings by default)."""

    steps: int = 3000
    lr: float = 0.01
    reg_noise_std: float = 1 / 30
    input_channels: int = 32
    input_kind: str = "noise"
    channels: int = 128
    skip_channels: int = 4
    scales: int = 5
    upsample: str = "bilinear"
    pad: str = "reflection"
    seed: int = 0
    ema: float = 0.99
    es_window: int = 100
    es_patience: int = 1000
    early_stop: bool = False
    snapshot_every: int = 100
    jit_compile: bool = False
    precision: str = "float32"

    def validate(self) -> "DIPConfig":
        """Raise ValueError with a readable message for absurd values; return self."""
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (0 < self.lr < 1, "lr must lie in (0, 1); the paper uses 0.01"),
            (0 <= self.reg_noise_std < 1, "reg_noise_std must lie in [0, 1); the paper uses 1/30"),
            (1 <= self.channels <= 1024 and 1 <= self.input_channels <= 1024, "channels must lie in 1..1024"),
            (0 <= self.skip_channels <= 1024, "skip_channels must lie in 0..1024"),
            (1 <= self.scales <= 8, "scales must lie in 1..8"),
            (0 <= self.ema < 1, "ema must lie in [0, 1)"),
            (self.es_window >= 2 and self.es_patience >= 1, "es_window must be >= 2 and es_patience >= 1"),
            (self.snapshot_every >= 1, "snapshot_every must be at least 1"),
            (self.precision in ("float32", "mixed_bfloat16", "mixed_float16"),
             "precision must be float32, mixed_bfloat16 or mixed_float16"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def key(self) -> str:
        """A stable text key (used by the result cache)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


@dataclasses.dataclass
class DIPResult:
    """What a run leaves: images, curves, snapshots, the early-stopping choice and timing."""

    output: np.ndarray
    average: np.ndarray
    history: dict
    snapshots: dict
    es_step: int | None
    es_output: np.ndarray | None
    seconds: float
    config: dict
    notes: list = dataclasses.field(default_factory=list)
    best_step: int | None = None
    best_output: np.ndarray | None = None

    def summary(self) -> dict:
        """Headline numbers: last / average / peak PSNR to the truth (if known), ES step, seconds."""
        h = self.history
        out = {"steps": int(len(h.get("loss", []))), "es_step": self.es_step, "seconds": round(self.seconds, 2)}
        if "psnr_truth" in h and len(h["psnr_truth"]):
            t = np.asarray(h["psnr_truth"])
            out.update(psnr_last=float(t[-1]), psnr_peak=float(t.max()), peak_step=int(t.argmax()) + 1)
            if "psnr_ema" in h:
                out["psnr_ema_last"] = float(np.asarray(h["psnr_ema"])[-1])
            if self.es_step is not None:
                out["psnr_es"] = float(t[self.es_step - 1])
        return out

    def save(self, path) -> Path:
        """Write the result to one ``.npz`` file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        empty = np.zeros(0)
        arrays = {"output": self.output, "average": self.average,
                  "es_output": self.es_output if self.es_output is not None else empty,
                  "best_output": self.best_output if self.best_output is not None else empty}
        arrays.update({f"history_{k}": np.asarray(v) for k, v in self.history.items()})
        arrays.update({f"snapshot_{k}": v for k, v in self.snapshots.items()})
        meta = {"es_step": self.es_step, "seconds": self.seconds, "config": self.config, "notes": self.notes,
                "best_step": self.best_step}
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path) -> "DIPResult":
        """Read a result written by :meth:`save`."""
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            es, best = f["es_output"], f["best_output"]
            return cls(output=f["output"], average=f["average"],
                       history={k[8:]: f[k] for k in f.files if k.startswith("history_")},
                       snapshots=dict(sorted((int(k[9:]), f[k]) for k in f.files if k.startswith("snapshot_"))),
                       es_step=meta["es_step"], es_output=es if es.size else None, seconds=meta["seconds"],
                       config=meta["config"], notes=meta["notes"], best_step=meta["best_step"],
                       best_output=best if best.size else None)


ENGINE_VERSION = "2"  # part of the cache key: bump it when a change alters the results of a run


def _cache_path(cache_dir, config: DIPConfig, measurement, operator, truth) -> Path:
    import hashlib

    h = hashlib.sha256((ENGINE_VERSION + config.key()).encode())
    for a in (measurement, truth, getattr(operator, "mask", None)):
        h.update(b"-" if a is None else np.ascontiguousarray(a, np.float32).tobytes())
    h.update(f"{type(operator).__name__}{getattr(operator, 'factor', '')}{getattr(operator, 'kernel_name', '')}".encode())
    return Path(cache_dir) / f"dip-{h.hexdigest()[:16]}.npz"


def build_dip(measurement, operator: Operator | None, config: DIPConfig, truth=None) -> DIP:
    """The :class:`DIP` model for a measurement: skip network, input ``z`` padded to a multiple of 2**scales."""
    operator = operator or Identity()
    measurement = np.asarray(measurement, np.float32)
    if measurement.ndim != 3 or measurement.shape[-1] not in (1, 3):
        raise ValueError(f"the measurement must be an (H, W, 1) or (H, W, 3) image, got shape {measurement.shape}")
    lh, lw, c = measurement.shape
    h, w = (lh * operator.factor, lw * operator.factor) if isinstance(operator, Downsampler) else (lh, lw)
    if operator.output_shape((h, w, c))[:2] != (lh, lw):
        raise ValueError("the operator does not map the image size onto the measurement size")
    if truth is not None and np.shape(truth) != (h, w, c):
        raise ValueError(f"the ground truth has shape {np.shape(truth)}, expected {(h, w, c)}")
    block = 2**config.scales
    # at least 2x2 pixels at the deepest scale, where reflection padding needs a neighbour
    hp, wp = max(-(-h // block), 2) * block, max(-(-w // block), 2) * block
    keras.utils.set_random_seed(config.seed)
    net = skip_network(config.input_channels, c, (config.channels,) * config.scales, (config.channels,) * config.scales,
                       (config.skip_channels,) * config.scales, pad=config.pad, upsample=config.upsample,
                       dtype=None if config.precision == "float32" else config.precision)
    z = network_input(hp, wp, config.input_channels, config.input_kind, seed=config.seed)
    model = DIP(net, z, measurement, operator, (h, w, c), config.reg_noise_std, truth, seed=config.seed)
    model.compile(optimizer=FusedAdam(config.lr), jit_compile=config.jit_compile)
    return model


def fit_dip(measurement, operator: Operator | None = None, config: DIPConfig | None = None, truth=None,
            callbacks=(), live=None, log_dir=None, cache_dir=None, force: bool = False, verbose: bool = True) -> DIPResult:
    """Run Deep Image Prior on ``measurement`` and return a :class:`DIPResult`.

    ``live``: redraw image and curves every ``live`` steps (a text progress line outside
    notebooks); ``log_dir``: TensorBoard logs; ``cache_dir``: reuse a finished run with
    the same configuration and data unless ``force``.
    """
    from . import callbacks as cb

    config = (config or DIPConfig()).validate()
    cache = _cache_path(cache_dir, config, measurement, operator or Identity(), truth) if cache_dir else None
    if cache is not None and cache.is_file() and not force:
        if verbose:
            print(f"Loaded a finished run from the cache: {cache}")
        return DIPResult.load(cache)
    model = build_dip(measurement, operator, config, truth)
    history = cb.History()
    average = cb.OutputAverage(config.ema)
    es = cb.EarlyStoppingWMV(config.es_window, config.es_patience, stop=config.early_stop)
    snaps = cb.Snapshots(config.snapshot_every)
    guard = cb.DivergenceGuard()
    best = cb.BestOutput()
    cbs = [average, es, guard, snaps, best]
    if log_dir:
        cbs.append(cb.TensorBoardLogger(log_dir, image_every=config.snapshot_every, average=average))
    cbs.append(history)
    if live or verbose:
        cbs.append(cb.LiveView(every=live or max(1, config.steps // 10), total=config.steps, text_only=not live))
    cbs.extend(callbacks)
    start = time.perf_counter()
    model.fit(tf.data.Dataset.from_tensors(0.0).repeat(), steps_per_epoch=config.steps, epochs=1, verbose=0,
              callbacks=cbs, shuffle=False)
    seconds = time.perf_counter() - start
    result = DIPResult(output=np.asarray(model.last_output[0]), average=average.image(), history=history.as_arrays(),
                       snapshots=snaps.images, es_step=es.best_step, es_output=es.best_image, seconds=seconds,
                       config=dataclasses.asdict(config), notes=guard.events, best_step=best.step, best_output=best.image)
    if cache is not None:
        result.save(cache)
    return result
