"""``python -m dip_helpers bench``: speed and memory of one DIP training step, and the machine it ran on.

Reports ms per step; the step's GFLOP, counted from the layers (each convolution's forward
pass, its gradient to the weights and, except for the layers that read the fixed input z, its
gradient to its input); achieved GFLOP/s; the machine's limit, its float32 matrix-product
throughput (NumPy's 2048x2048 product on a CPU, the backend's on a GPU), and the step's fraction
of it; the backend's own convolution throughput (one 3x3, C->C convolution in the step's compute
precision, forward and both gradients, at the same size) and the step's fraction of that; peak
memory (the GPU allocator's on a GPU, else the process's resident size) and the parameter count;
the CPU, its vector extensions and whether TensorFlow uses oneDNN.
The step, the convolution and the product are timed in alternating rounds and each round's
ratios are kept, so that all see the same machine: on a shared machine the speed drifts. The
medians are reported.

With ``sure`` (``bench --sure``), also what SURE costs (:func:`sure_cost`): the milliseconds per
step of a whole ``fit_dip`` call, model building included, without SURE and with
``sure_sigma=0.1``, in alternating rounds, and the median of the rounds' ratios.

``python -m dip_helpers machine`` prints the machine part alone.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from . import backend, machine
from .config import DIPConfig
from .fit import build_dip, fit_dip
from .network import ReflectionPad, count_trainable


def _reads_network_input(layer, model) -> bool:
    """Whether ``layer`` reads the model's input (directly or through a padding layer): no input gradient then."""
    src = layer.input
    op = getattr(getattr(src, "_keras_history", None), "operation", None)
    if isinstance(op, ReflectionPad):  # the fast twin's padding is a subclass
        src = op.input
    return src is model.inputs[0]


def conv_flops_by_part(model, height: int, width: int) -> dict[str, float]:
    """FLOP (multiply-adds x 2) of every Conv2D at ``height`` x ``width``: the forward pass, the gradient to the
    inputs (none for the layers that read the input) and the gradient to the kernels."""
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    sub = keras.Model(model.inputs, [layer.output for layer in convs])
    shapes = sub.compute_output_spec(keras.KerasTensor((1, height, width, model.input_shape[-1])))
    parts = {"forward": 0.0, "input gradient": 0.0, "kernel gradient": 0.0}
    for layer, out in zip(convs, shapes):
        kh, kw, cin, cout = layer.kernel.shape
        forward = 2.0 * out.shape[1] * out.shape[2] * cout * cin * kh * kw
        parts["forward"] += forward
        parts["kernel gradient"] += forward
        parts["input gradient"] += 0.0 if _reads_network_input(layer, model) else forward
    return parts


def conv_flops(model, height: int, width: int, training: bool = False) -> float:
    """FLOP (multiply-adds x 2) of every Conv2D at ``height`` x ``width``: one forward pass, or with
    ``training`` the forward pass and its gradients (3x, 2x for the layers that read the input)."""
    parts = conv_flops_by_part(model, height, width)
    return sum(parts.values()) if training else parts["forward"]


def _finish(out) -> None:
    if hasattr(out, "detach"):  # a PyTorch tensor, maybe on a GPU
        out = out.detach().cpu()
    float(np.asarray(out, dtype=np.float32).ravel()[0])  # wait for the device


def _time_rounds(fns, steps: int, rounds: int = 5) -> list[list[float]]:
    """Seconds per call of each function in ``fns``, per round; the functions take turns, round after round."""
    for fn in fns:  # compile and warm up
        _finish(fn()), _finish(fn())
    rounds = max(1, min(rounds, steps))
    calls = -(-steps // rounds)
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, t in zip(fns, times):
            start = time.perf_counter()
            for _ in range(calls):
                out = fn()
            _finish(out)
            t.append((time.perf_counter() - start) / calls)
    return times


def matmul_step(n: int | None = None, on_device: bool | None = None):
    """One float32 ``n`` x ``n`` matrix product, the machine's limit, and its FLOP count: NumPy's on a CPU (its BLAS
    on all cores; ``n`` 2048 by default), the backend's on a GPU (in its default precision, as the step; ``n`` 8192).
    ``on_device``: the backend's product even on a CPU (default: on a GPU only)."""
    on_device = backend.device().kind == "GPU" if on_device is None else on_device
    n = n or (8192 if on_device else 2048)
    rng = np.random.default_rng(1)
    a, b = rng.random((n, n), np.float32), rng.random((n, n), np.float32)
    if on_device:  # Keras puts the tensors on the GPU
        a, b = keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)
        return (lambda: keras.ops.matmul(a, b)[0, 0]), 2.0 * n**3  # one number comes back: no copy timed
    return (lambda: a @ b), 2.0 * n**3


def conv_step(size: int, channels: int, dtype: str = "float32"):
    """A 3x3 ``channels``->``channels`` convolution at ``size`` with both gradients, on the Keras backend, and its
    FLOP count."""
    rng = np.random.default_rng(0)
    x0 = rng.random((1, size, size, channels), np.float32)
    w0 = rng.uniform(-0.05, 0.05, (3, 3, channels, channels)).astype(np.float32)
    return backend.get().conv_step(x0, w0, dtype), 3 * 2.0 * size * size * channels * channels * 9


def bench(
    size: int = 256,
    channels: int = 128,
    steps: int = 10,
    jit_compile: bool = False,
    precision: str = "float32",
    fast: bool = True,
    parts: bool = False,
    sure: bool = False,
) -> dict:
    """Measure the paper's denoising network (``channels`` at every scale) at ``size`` x ``size``.

    ``parts`` (TensorFlow only): also the time per step of each part of the step (:func:`profile_parts`);
    ``sure``: also the cost of SURE (:func:`sure_cost`)."""
    cfg = DIPConfig(steps=steps, channels=channels, jit_compile=jit_compile, precision=precision, fast=fast).validate()
    y = np.random.default_rng(0).random((size, size, 3)).astype(np.float32)
    model = build_dip(y, None, cfg)
    train = backend.get().step_function(model)
    conv, conv_flop = conv_step(
        size, channels, {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(precision, "float32")
    )
    product, product_flop = matmul_step()
    step_times, conv_times, product_times = _time_rounds([train, conv, product], steps)
    gflop = conv_flops(model.net, model.z.shape[1], model.z.shape[2], training=True) / 1e9
    sec = float(np.median(step_times))
    where = backend.device()

    def fraction(times, flop):  # the step's GFLOP/s over the other's, round by round
        return round(float(np.median([gflop / s * t / flop * 1e9 for s, t in zip(step_times, times)])), 3)

    by_part = profile_parts(model, train, product_flop / float(np.median(product_times))) if parts else {}
    out = {
        "ms_per_step": round(1000 * sec, 2),
        "gflop_per_step": round(gflop, 2),
        "gflops": round(gflop / sec, 1),
        "matmul_gflops": round(product_flop / float(np.median(product_times)) / 1e9, 1),
        "fraction_of_matmul": fraction(product_times, product_flop),
        "conv_gflops": round(conv_flop / float(np.median(conv_times)) / 1e9, 1),
        "fraction_of_conv": fraction(conv_times, conv_flop),
        "peak_memory_mb": round(where.peak_mb, 1),
        "params": count_trainable(model.net),
        "device": str(where),
        "backend": backend.running(),
        "fast": backend.fast(fast),
        "size": size,
        "channels": channels,
        "steps": steps,
        "jit_compile": jit_compile,
        "precision": precision,
        **machine.summary(ask_tensorflow=backend.running() == "tensorflow"),
    }
    if sure:
        out.update(sure_cost(y, cfg))
    if parts:
        out["parts"] = by_part
    return out


def sure_cost(measurement, config: DIPConfig, sure_sigma: float = 0.1, rounds: int = 3) -> dict:
    """Milliseconds per step of a whole ``fit_dip`` call on ``measurement`` (building and compiling the model
    included, no cache) with ``config`` as it is (``fit_ms_per_step``) and with ``sure_sigma``
    (``sure_fit_ms_per_step``), in alternating rounds (at most one per step); medians, and the median of the rounds'
    ratios (``sure_cost_ratio``: about 2, as SURE runs a second fit)."""
    plain = dataclasses.replace(config, sure_sigma=0.0, backtrack=False)
    with_sure = dataclasses.replace(plain, sure_sigma=sure_sigma).validate()

    def ms_per_step(cfg):
        start = time.perf_counter()
        fit_dip(measurement, None, cfg, cache_dir="", verbose=False)  # "": no cache, every fit runs
        return 1000 * (time.perf_counter() - start) / cfg.steps

    times = [(ms_per_step(plain), ms_per_step(with_sure)) for _ in range(max(1, min(rounds, config.steps)))]
    return {
        "fit_ms_per_step": round(float(np.median([t for t, _ in times])), 2),
        "sure_fit_ms_per_step": round(float(np.median([t for _, t in times])), 2),
        "sure_cost_ratio": round(float(np.median([s / t for t, s in times])), 2),
    }


def profile_parts(model, train, matmul_flops: float) -> dict[str, dict]:
    """Milliseconds per step of each part of ``train`` (TensorFlow's profiler), and for the convolutions their
    GFLOP/s and its fraction of ``matmul_flops`` (the machine's FLOP/s)."""
    profile = getattr(backend.get(), "profile_step", None)
    if profile is None:
        raise RuntimeError(f"bench --parts needs TensorFlow's profiler; this run is on {backend.running()}")
    flops = conv_flops_by_part(model.net, model.z.shape[1], model.z.shape[2])
    out = {}
    for part, sec in profile(train).items():
        row = {"ms": round(1000 * sec, 1)}
        flop = flops.get(part.removeprefix("convolutions, "))
        if flop is not None and sec > 0:
            row["gflops"] = round(flop / sec / 1e9, 1)
            row["fraction_of_matmul"] = round(flop / sec / matmul_flops, 3)
        out[part] = row
    return out
