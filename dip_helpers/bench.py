"""``python -m dip_helpers bench``: speed and memory of one DIP training step.

Reports ms per step, the step's GFLOP (counted from the layers: a training step is
taken as 3x the forward convolutions: forward, gradient to inputs, gradient to weights),
achieved GFLOP/s, this machine's convolution throughput measured in the same run
(one 3x3, C->C convolution in the step's compute precision, forward and backward, at the
same size), their ratio,
peak memory and the parameter count.
"""

from __future__ import annotations

import platform
import resource
import time

import numpy as np


def conv_flops(model, height: int, width: int) -> float:
    """Multiply-adds x 2 of every Conv2D in one forward pass at ``height`` x ``width``."""
    import keras

    sub = keras.Model(model.inputs, [layer.output for layer in model.layers if isinstance(layer, keras.layers.Conv2D)])
    shapes = sub.compute_output_spec(keras.KerasTensor((1, height, width, model.input_shape[-1])))
    total = 0.0
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for layer, out in zip(convs, shapes):
        kh, kw, cin, cout = layer.kernel.shape
        total += 2.0 * out.shape[1] * out.shape[2] * cout * cin * kh * kw
    return total


def _time(fn, steps: int) -> float:
    fn()  # compile / warm up
    fn()
    start = time.perf_counter()
    for _ in range(steps):
        out = fn()
    float(np.asarray(out, dtype=np.float32).ravel()[0])  # wait for the device
    return (time.perf_counter() - start) / steps


def conv_throughput(size: int, channels: int, steps: int = 10, dtype: str = "float32") -> float:
    """GFLOP/s of a 3x3 ``channels``->``channels`` convolution, forward + both gradients, at ``size``."""
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

    flops = 3 * 2.0 * size * size * channels * channels * 9
    return flops / _time(step, steps) / 1e9


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
    sec = _time(lambda: train(data)["loss"], steps)
    gflop = 3 * conv_flops(model.net, model.z.shape[1], model.z.shape[2]) / 1e9
    peak_conv = conv_throughput(size, channels, steps, {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(precision, "float32"))
    return {
        "ms_per_step": round(1000 * sec, 2), "gflop_per_step": round(gflop, 2), "gflops": round(gflop / sec, 1),
        "conv_peak_gflops": round(peak_conv, 1), "efficiency": round(gflop / sec / peak_conv, 3),
        "peak_rss_mb": round(peak_memory_mb(), 1), "params": count_trainable(model.net), "device": device_name(),
        "size": size, "channels": channels, "steps": steps, "jit_compile": jit_compile, "precision": precision,
    }
