"""Build and run Deep Image Prior: :func:`build_dip` puts the model together, :func:`fit_dip` runs it.

A :class:`DIPConfig` holds every setting of a run (the paper's denoising settings by
default); a :class:`DIPResult` holds what it leaves. Finished runs can be kept in a result
cache, keyed by the configuration, the data, the operator and the backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from .backends import model_class
from .memory import RunTooLarge, check_fits, out_of_memory
from .model import network_input
from .network import skip_network
from .operators import Identity, Operator


MAX_STEPS = 1_000_000  # far beyond any useful run: a larger number is a typo


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
    fast: bool = True  # under TensorFlow: the fast network and optimiser of tf_fast (the same function)

    def validate(self) -> "DIPConfig":
        """Raise ValueError with a readable message for absurd values; return self."""
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (
                self.steps <= MAX_STEPS,
                f"steps must be at most {MAX_STEPS:,} (the paper's longest run is 11,000; "
                "at 0.4 s a step on a CPU, a million steps take 5 days)",
            ),
            (0 < self.lr < 1, "lr must lie in (0, 1); the paper uses 0.01"),
            (0 <= self.reg_noise_std < 1, "reg_noise_std must lie in [0, 1); the paper uses 1/30"),
            (1 <= self.channels <= 1024 and 1 <= self.input_channels <= 1024, "channels must lie in 1..1024"),
            (0 <= self.skip_channels <= 1024, "skip_channels must lie in 0..1024"),
            (1 <= self.scales <= 8, "scales must lie in 1..8"),
            (0 <= self.ema < 1, "ema must lie in [0, 1)"),
            (self.es_window >= 2 and self.es_patience >= 1, "es_window must be >= 2 and es_patience >= 1"),
            (self.snapshot_every >= 1, "snapshot_every must be at least 1"),
            (
                self.precision in ("float32", "mixed_bfloat16", "mixed_float16"),
                "precision must be float32, mixed_bfloat16 or mixed_float16",
            ),
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
        arrays = {
            "output": self.output,
            "average": self.average,
            "es_output": self.es_output if self.es_output is not None else empty,
            "best_output": self.best_output if self.best_output is not None else empty,
        }
        arrays.update({f"history_{k}": np.asarray(v) for k, v in self.history.items()})
        arrays.update({f"snapshot_{k}": v for k, v in self.snapshots.items()})
        meta = {
            "es_step": self.es_step,
            "seconds": self.seconds,
            "config": self.config,
            "notes": self.notes,
            "best_step": self.best_step,
        }
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
            return cls(
                output=f["output"],
                average=f["average"],
                history={k[8:]: f[k] for k in f.files if k.startswith("history_")},
                snapshots=dict(sorted((int(k[9:]), f[k]) for k in f.files if k.startswith("snapshot_"))),
                es_step=meta["es_step"],
                es_output=es if es.size else None,
                seconds=meta["seconds"],
                config=meta["config"],
                notes=meta["notes"],
                best_step=meta["best_step"],
                best_output=best if best.size else None,
            )


ENGINE_VERSION = "3"  # part of the cache key: bump it when a change alters the results of a run


def cache_path(cache_dir, config: DIPConfig, measurement, operator: Operator, truth) -> Path:
    """Where the result of this run is kept: a hash of everything that defines it."""
    h = hashlib.sha256(
        json.dumps(
            {
                "engine": ENGINE_VERSION,
                "backend": keras.backend.backend(),
                "config": config.key(),
                "operator": operator.config(),
            },
            sort_keys=True,
        ).encode()
    )
    for a in (measurement, truth):
        h.update(b"-" if a is None else np.ascontiguousarray(a, np.float32).tobytes())
    return Path(cache_dir) / f"dip-{h.hexdigest()[:16]}.npz"


def build_network(config: DIPConfig, channels_out: int, fast: bool = False) -> keras.Model:
    """The skip network of ``config`` (with ``fast``, TensorFlow's fast twin, given the same weights)."""
    n = config.scales
    kwargs = dict(
        input_channels=config.input_channels,
        output_channels=channels_out,
        channels_down=(config.channels,) * n,
        channels_up=(config.channels,) * n,
        channels_skip=(config.skip_channels,) * n,
        pad=config.pad,
        upsample=config.upsample,
        dtype=None if config.precision == "float32" else config.precision,
        seed=config.seed,
    )
    net = skip_network(**kwargs)
    if fast:
        from .tf_fast import copy_stock_weights, fast_skip_network

        net = copy_stock_weights(net, fast_skip_network(**kwargs))
    return net


def build_dip(measurement, operator: Operator | None, config: DIPConfig, truth=None):
    """The :class:`~.model.DIP` model for a measurement: skip network, input ``z`` padded to a multiple of 2**scales."""
    operator = operator or Identity()
    measurement = np.asarray(measurement, np.float32)
    if measurement.ndim != 3 or measurement.shape[-1] not in (1, 3):
        raise ValueError(f"the measurement must be an (H, W, 1) or (H, W, 3) image, got shape {measurement.shape}")
    h, w, c = operator.image_shape(measurement.shape)
    if tuple(operator.output_shape((h, w, c))[:2]) != measurement.shape[:2]:
        raise ValueError("the operator does not map the image size onto the measurement size")
    if truth is not None and np.shape(truth) != (h, w, c):
        raise ValueError(f"the ground truth has shape {np.shape(truth)}, expected {(h, w, c)}")
    block = 2**config.scales
    # at least 2x2 pixels at the deepest scale, where reflection padding needs a neighbour
    hp, wp = max(-(-h // block), 2) * block, max(-(-w // block), 2) * block
    check_fits(hp, wp, config.channels, config.precision)  # a clear refusal instead of a crash
    backend = keras.backend.backend()
    fast = config.fast and backend == "tensorflow"
    keras.utils.set_random_seed(config.seed)
    net = build_network(config, c, fast)
    z = network_input(hp, wp, config.input_channels, config.input_kind, seed=config.seed)
    model = model_class(backend, fast)(
        net, z, measurement, operator, (h, w, c), config.reg_noise_std, truth, seed=config.seed
    )
    if fast:
        from .tf_fast import FusedAdam

        optimizer = FusedAdam(config.lr)
    else:
        optimizer = keras.optimizers.Adam(config.lr)
    # JAX must compile its step; TensorFlow compiles with XLA only when asked (slower on CPUs)
    model.compile(optimizer=optimizer, jit_compile=config.jit_compile if backend == "tensorflow" else "auto")
    optimizer.build(model.net.trainable_variables)  # its moments exist from the start (checkpoints include them)
    return model


def fit_dip(
    measurement,
    operator: Operator | None = None,
    config: DIPConfig | None = None,
    truth=None,
    callbacks=(),
    live=None,
    log_dir=None,
    cache_dir=None,
    force: bool = False,
    verbose: bool = True,
) -> DIPResult:
    """Run Deep Image Prior on ``measurement`` and return a :class:`DIPResult`.

    ``live``: redraw image and curves every ``live`` steps (a text progress line outside
    notebooks); ``log_dir``: TensorBoard logs; ``cache_dir``: reuse a finished run with
    the same configuration and data unless ``force`` (default: the folder ``$DIP_CACHE`` names, if set, so
    that an instructor can run the notebooks once before class and replay them instantly in it).
    """
    from . import callbacks as cb

    config = (config or DIPConfig()).validate()
    operator = operator or Identity()
    if cache_dir is None:
        cache_dir = os.environ.get("DIP_CACHE") or None
    cache = cache_path(cache_dir, config, measurement, operator, truth) if cache_dir else None
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
    ctrl_c = cb.CtrlC()
    cbs.append(ctrl_c)
    start = time.perf_counter()
    try:
        # one step per batch: the data is a placeholder, the model holds z and the measurement
        with ctrl_c.listening():
            model.fit(
                np.zeros((config.steps, 1), np.float32), batch_size=1, epochs=1, verbose=0, callbacks=cbs, shuffle=False
            )
    except Exception as err:
        if out_of_memory(err):  # the estimate said it would fit, the device disagreed: explain, not a stack of C++
            h, w = model.z.shape[1:3]
            raise RunTooLarge(
                f"the device ran out of memory during the run ({h}x{w} pixels after padding, "
                f"{config.channels} channels, {config.precision}): {type(err).__name__}. Try a smaller "
                "image (--size, or load_image(..., size=N)), fewer channels (--channels) or mixed "
                "precision (--precision mixed_bfloat16)."
            ) from err
        raise
    seconds = time.perf_counter() - start
    result = DIPResult(
        output=model.current_output(),
        average=average.image(),
        history=history.as_arrays(),
        snapshots=snaps.images,
        es_step=es.best_step,
        es_output=es.best_image,
        seconds=seconds,
        config=dataclasses.asdict(config),
        notes=guard.events,
        best_step=best.step,
        best_output=best.image,
    )
    if cache is not None:
        try:
            result.save(cache)
        except OSError as err:  # e.g. a class's shared, read-only cache: the run itself is not lost
            print(f"Could not save the run in the cache ({err}); the result is returned all the same.")
    return result
