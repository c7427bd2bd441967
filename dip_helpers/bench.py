"""``python -m dip_helpers bench``: speed and memory of one DIP training step.

Reports ms per step; the step's GFLOP, counted from the layers (each convolution's forward
pass, its gradient to the weights and, except for the layers that read the fixed input z, its
gradient to its input); achieved GFLOP/s; this machine's convolution throughput (one 3x3,
C->C convolution in the step's compute precision, forward and both gradients, at the same
size); their ratio; peak memory and the parameter count. The step and the convolution are
timed in alternating rounds and each round's ratio is kept, so that both see the same machine:
on a shared machine the speed drifts. The medians are reported.
"""

from __future__ import annotations

import platform
import resource
import time

import numpy as np


def _reads_network_input(layer, model) -> bool:
    """Whether ``layer`` reads the model's input (directly or through a padding layer): no input gradient then."""
    from .skip import ReflectionPad

    src = layer.input
    op = getattr(getattr(src, "_keras_history", None), "operation", None)
    if isinstance(op, ReflectionPad):
        src = op.input
    return src is model.inputs[0]


def conv_flops(model, height: int, width: int, training: bool = False) -> float:
    """FLOP (multiply-adds x 2) of every Conv2D at ``height`` x ``width``: one forward pass, or with
    ``training`` the forward pass and its gradients (3x, 2x for the layers that read the input)."""
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    sub = keras.Model(model.inputs, [layer.output for layer in convs])
    shapes = sub.compute_output_spec(keras.KerasTensor((1, height, width, model.input_shape[-1])))
    total = 0.0
    for layer, out in zip(convs, shapes):
        kh, kw, cin, cout = layer.kernel.shape
        forward = 2.0 * out.shape[1] * out.shape[2] * cout * cin * kh * kw
        total += forward * ((2 if _reads_network_input(layer, model) else 3) if training else 1)
    return total


def _finish(out) -> None:
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


def conv_step(size: int, channels: int, dtype: str = "float32"):
    """A 3x3 ``channels``->``channels`` convolution at ``size`` with both gradients, and its FLOP count."""
    import tensorflow as tf

    x = tf.random.uniform((1, size, size, channels), dtype=dtype)
    w = tf.Variable(tf.random.uniform((3, 3, channels, channels), -0.05, 0.05, dtype=dtype))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, w, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        gx, gw = tape.gradient(loss, [x, w])
        return tf.cast(tf.reduce_sum(gx) + tf.reduce_sum(gw), tf.float32)

    return step, 3 * 2.0 * size * size * channels * channels * 9


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os

    return f"CPU: {cpu}, {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def peak_memory_mb() -> float:
    """Peak memory: the GPU allocator's peak on a GPU, else the process's peak resident size."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024


def bench(size: int = 256, channels: int = 128, steps: int = 10, jit_compile: bool = False, precision: str = "float32") -> dict:
    """Measure the paper's denoising network (``channels`` at every scale) at ``size`` x ``size``."""
    import tensorflow as tf

    from .dip import DIPConfig, build_dip
    from .skip import count_trainable

    cfg = DIPConfig(steps=steps, channels=channels, jit_compile=jit_compile, precision=precision).validate()
    y = np.random.default_rng(0).random((size, size, 3)).astype(np.float32)
    model = build_dip(y, None, cfg)
    model.make_train_function()
    train = model.train_function
    data = iter(tf.data.Dataset.from_tensors(0.0).repeat())
    conv, conv_flop = conv_step(size, channels, {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(precision, "float32"))
    step_times, conv_times = _time_rounds([lambda: train(data)["loss"], conv], steps)
    gflop = conv_flops(model.net, model.z.shape[1], model.z.shape[2], training=True) / 1e9
    sec, peak_conv = float(np.median(step_times)), conv_flop / float(np.median(conv_times)) / 1e9
    ratio = float(np.median([gflop / s * c / conv_flop * 1e9 for s, c in zip(step_times, conv_times)]))
    return {
        "ms_per_step": round(1000 * sec, 2), "gflop_per_step": round(gflop, 2), "gflops": round(gflop / sec, 1),
        "conv_peak_gflops": round(peak_conv, 1), "efficiency": round(ratio, 3),
        "peak_rss_mb": round(peak_memory_mb(), 1), "params": count_trainable(model.net), "device": device_name(),
        "size": size, "channels": channels, "steps": steps, "jit_compile": jit_compile, "precision": precision,
    }
