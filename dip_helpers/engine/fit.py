"""Build and run Deep Image Prior: :func:`build_dip` puts the model together, :func:`fit_dip` runs it.

A :class:`~.config.DIPConfig` holds every setting of a run (the paper's denoising settings by
default); a :class:`~.result.DIPResult` holds what it leaves. Finished runs can be kept in a result
cache, keyed by the configuration, the data, the operator and the backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from .. import settings
from . import backend
from .config import DIPConfig
from .memory import RunTooLarge, check_fits, out_of_memory
from .model import network_input
from .operators import Identity, Operator
from .result import DIPResult
from .stopping import sure_direction


ENGINE_VERSION = "3"  # part of the cache key: bump it when a change alters the results of a run


def cache_path(cache_dir, config: DIPConfig, measurement, operator: Operator, truth) -> Path:
    """Where the result of this run is kept: a hash of everything that defines it."""
    h = hashlib.sha256(
        json.dumps(
            {
                "engine": ENGINE_VERSION,
                "backend": backend.running(),
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
    """The skip network of ``config`` (with ``fast``, the backend's fast twin, given the same weights)."""
    n = config.scales
    kwargs = dict(
        input_channels=config.input_channels,
        output_channels=channels_out,
        channels_down=(config.channels,) * n,
        channels_up=(config.channels,) * n,
        skip_channels=(config.skip_channels,) * n,
        pad=config.pad,
        upsample=config.upsample,
        dtype=None if config.precision == "float32" else config.precision,
        seed=config.seed,
    )
    return backend.get().build_network(kwargs, fast)


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
    framework, fast = backend.get(), backend.fast(config.fast)
    net = build_network(config, c, fast)
    z = network_input(hp, wp, config.input_channels, config.input_kind, seed=config.seed)
    model = framework.model_class(fast)(net, z, measurement, operator, (h, w, c), config.reg_noise_std, truth,
                                        seed=config.seed)  # fmt: skip
    optimizer = framework.build_optimizer(config.lr, fast)
    model.compile(optimizer=optimizer, jit_compile=framework.jit_compile(config.jit_compile))
    optimizer.build(model.net.trainable_variables)  # its moments exist from the start (checkpoints include them)
    return model


def warn_if_slow_precision(precision: str) -> None:
    """Warn when ``mixed_bfloat16`` would run on TensorFlow's plain CPU kernels (no GPU, no oneDNN): there
    bfloat16 convolutions are many times slower than float32 ones (see benchmarks/README.md)."""
    if precision == "mixed_bfloat16" and backend.running() == "tensorflow" and not backend.has_gpu():
        if backend.onednn_enabled() is False:
            warnings.warn(
                "precision='mixed_bfloat16' on TensorFlow's plain CPU kernels (oneDNN is off here) is far slower "
                "than float32 (about 20x at 256x256 with 128 channels on the course's test machine): use float32",
                stacklevel=3,
            )


def _train(model, config: DIPConfig, cbs: list) -> None:
    """``model.fit`` for ``config.steps`` steps with the callbacks ``cbs`` (and Ctrl-C's); a device out of memory
    becomes a :class:`RunTooLarge` that says what to shrink."""
    from . import callbacks as cb

    ctrl_c = cb.CtrlC()
    try:
        # one step per batch: the data is a placeholder, the model holds z and the measurement
        with ctrl_c.listening():
            model.fit(
                np.zeros((config.steps, 1), np.float32), batch_size=1, epochs=1, verbose=0, callbacks=[*cbs, ctrl_c],
                shuffle=False,
            )  # fmt: skip
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


def _perturbed_probes(measurement, b, operator: Operator, config: DIPConfig, verbose: bool) -> list:
    """SURE's second fit: the same run on ``measurement + sure_delta * b``, all its steps; its probes, one per step."""
    from . import callbacks as cb

    if verbose:
        print(f"SURE, fit 1 of 2: the same run on y + {config.sure_delta:g} b, for the divergence")
    perturbed = np.asarray(measurement, np.float32) + config.sure_delta * b
    model = build_dip(perturbed, operator, config)
    sure = cb.SureRisk(perturbed, b, config.sure_sigma, config.sure_delta)
    guard = cb.DivergenceGuard() if config.divergence_guard else None  # what the main fit does to its trajectory
    cbs = [c for c in (cb.OneCopyPerStep(), guard, sure) if c is not None]
    _train(model, config, cbs + ([cb.Progress(total=config.steps)] if verbose else []))
    if verbose:
        print("SURE, fit 2 of 2: the run on y")
    return sure.probes


def fit_dip(measurement, operator: Operator | None = None, config: DIPConfig | None = None, truth=None,
            callbacks=(), progress=None, log_dir=None, cache_dir=None, force: bool = False,
            verbose: bool = True) -> DIPResult:  # fmt: skip
    """Run Deep Image Prior on ``measurement`` and return a :class:`DIPResult`.

    ``progress``: the callback that shows how the run goes (default: a :class:`~.callbacks.Progress` line
    every tenth of the run, when ``verbose``); ``log_dir``: TensorBoard logs; ``cache_dir``: reuse a finished
    run with the same configuration and data unless ``force`` (default: the folder ``$DIP_CACHE`` names, if set,
    so that an instructor can run the notebooks once before class and replay them instantly in it).
    """
    from . import callbacks as cb

    config = (config or DIPConfig()).validate()
    operator = operator or Identity()
    if cache_dir is None:
        cache_dir = settings.get("DIP_CACHE") or None
    cache = cache_path(cache_dir, config, measurement, operator, truth) if cache_dir else None
    if cache is not None and cache.is_file() and not force:
        if verbose:
            print(f"Loaded a finished run from the cache: {cache}")
        return DIPResult.load(cache)
    warn_if_slow_precision(config.precision)
    start, sure = time.perf_counter(), None  # the seconds include SURE's second fit: what the run costs
    if config.sure_sigma > 0:
        if not isinstance(operator, Identity):
            raise ValueError("SURE (sure_sigma > 0) estimates a denoiser's error: it needs the Identity operator")
        b = sure_direction(np.shape(measurement), config.seed)
        perturbed = _perturbed_probes(measurement, b, operator, config, verbose)
        sure = cb.SureRisk(measurement, b, config.sure_sigma, config.sure_delta, perturbed)
    model = build_dip(measurement, operator, config, truth)
    history = cb.History()
    average = cb.OutputAverage(config.ema)
    es = cb.EarlyStoppingWMV(config.es_window, config.es_patience, stop=config.early_stop)
    snaps = cb.Snapshots(config.snapshot_every)
    guard = cb.DivergenceGuard() if config.divergence_guard else None
    back = cb.Backtracking() if config.backtrack else None
    best = cb.BestOutput()
    cbs = [c for c in (cb.OneCopyPerStep(), average, es, guard, back, sure, snaps, best) if c is not None]
    if log_dir:
        cbs.append(cb.TensorBoardLogger(log_dir, image_every=config.snapshot_every, average=average))
    cbs.append(history)
    progress = progress or (cb.Progress(total=config.steps) if verbose else None)
    if progress is not None:
        cbs.append(progress)
    cbs.extend(callbacks)
    _train(model, config, cbs)
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
        notes=guard.events if guard else [],
        best_step=best.step,
        best_output=best.image,
        sure_step=sure.best_step if sure else None,
        sure_output=sure.best_image if sure else None,
    )
    if cache is not None:
        try:
            result.save(cache)
        except OSError as err:  # e.g. a class's shared, read-only cache: the run itself is not lost
            print(f"Could not save the run in the cache ({err}); the result is returned all the same.")
    return result
