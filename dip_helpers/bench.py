"""``python -m dip_helpers bench``: speed and memory of one DIP training step, and the machine it ran on.

Reports ms per step; the step's GFLOP, counted from the layers (each convolution's forward
pass, its gradient to the weights and, except for the layers that read the fixed input z, its
gradient to its input); achieved GFLOP/s; the machine's limit, its float32 matrix-product
throughput (NumPy's 2048x2048 product on a CPU, the backend's on a GPU), and the step's fraction
of it; the backend's own convolution throughput (one 3x3, C->C convolution in the step's compute
precision, forward and both gradients, at the same size) and the step's fraction of that; peak
memory and the parameter count; the CPU, its vector extensions and whether TensorFlow uses oneDNN.
The step, the convolution and the product are timed in alternating rounds and each round's
ratios are kept, so that all see the same machine: on a shared machine the speed drifts. The
medians are reported.

``python -m dip_helpers machine`` prints the machine part alone.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time

import numpy as np


def _padding_classes() -> tuple:
    import keras

    from .engine.network import ReflectionPad

    if keras.backend.backend() != "tensorflow":
        return (ReflectionPad,)
    from .engine import tf_fast

    return (ReflectionPad, tf_fast.ReflectionPad)


def _reads_network_input(layer, model) -> bool:
    """Whether ``layer`` reads the model's input (directly or through a padding layer): no input gradient then."""
    src = layer.input
    op = getattr(getattr(src, "_keras_history", None), "operation", None)
    if isinstance(op, _padding_classes()):
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
    import keras

    on_device = device_name().startswith("GPU") if on_device is None else on_device
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
    import keras

    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    x0 = rng.random((1, size, size, channels), np.float32)
    w0 = rng.uniform(-0.05, 0.05, (3, 3, channels, channels)).astype(np.float32)
    flop = 3 * 2.0 * size * size * channels * channels * 9
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        x, w = jnp.asarray(x0, dtype), jnp.asarray(w0, dtype)

        def loss(x, w):
            y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            return jnp.sum(jnp.square(y.astype(jnp.float32)))

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return (lambda: sum(jnp.sum(g.astype(jnp.float32)) for g in grad(x, w))), flop
    if backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        tdtype = getattr(torch, dtype)
        x = torch.tensor(x0, device=device, dtype=tdtype).permute(0, 3, 1, 2).contiguous().requires_grad_()
        w = torch.tensor(w0, device=device, dtype=tdtype).permute(3, 2, 0, 1).contiguous().requires_grad_()

        def step():
            x.grad = w.grad = None
            y = torch.nn.functional.conv2d(x, w, padding=1)
            (y.float() ** 2).sum().backward()
            return (x.grad.float().sum() + w.grad.float().sum()).detach().cpu()

        return step, flop
    import tensorflow as tf

    x, w = tf.constant(x0, dtype), tf.Variable(tf.constant(w0, dtype))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, w, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        gx, gw = tape.gradient(loss, [x, w])
        return tf.cast(tf.reduce_sum(gx) + tf.reduce_sum(gw), tf.float32)

    return step, flop


def _cpuinfo(*keys: str) -> list[str]:
    """The values of the /proc/cpuinfo lines that start with one of ``keys`` (none where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as f:
            return [line.split(":", 1)[1].strip() for line in f if line.startswith(keys) and ":" in line]
    except OSError:
        return []


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, sysctl on macOS)."""
    names = _cpuinfo("model name")
    if names:
        return names[0]
    return (
        (platform.system() == "Darwin" and _sysctl("machdep.cpu.brand_string"))
        or platform.processor()
        or platform.machine()
    )


def _sysctl(name: str) -> str:
    try:
        return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


#: the vector extensions that decide TensorFlow's CPU kernels, by the names Linux gives their flags
VECTOR_EXTENSIONS = {
    "AVX2": ("avx2",),
    "AVX-512": ("avx512f",),
    "AVX512-VNNI": ("avx512_vnni",),
    "AVX512-BF16": ("avx512_bf16",),
    "AVX-VNNI": ("avx_vnni",),
    "AMX": ("amx_tile", "amx_bf16", "amx_int8"),
    "NEON": ("asimd", "neon"),
}


def cpu_features() -> list[str]:
    """Which of :data:`VECTOR_EXTENSIONS` this CPU has (empty where the system does not say)."""
    flags = {flag for line in _cpuinfo("flags", "Features") for flag in line.lower().split()}  # x86, ARM
    if platform.system() == "Darwin":
        for name in ("machdep.cpu.features", "machdep.cpu.leaf7_features"):  # Intel Macs
            flags.update(f.replace(".", "_") for f in _sysctl(name).lower().split())
        if platform.machine() == "arm64":  # Apple Silicon: NEON is part of the architecture
            flags.add("neon")
    return [name for name, aliases in VECTOR_EXTENSIONS.items() if flags & set(aliases)]


def onednn_enabled() -> bool | None:
    """Whether this process's TensorFlow runs oneDNN's kernels (it asks TensorFlow); None without TensorFlow."""
    try:
        import tensorflow  # noqa: F401  (the flag is read when TensorFlow loads)
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def threads() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine(ask_tensorflow: bool = True) -> dict:
    """The CPU, its cores and vector extensions, and TensorFlow's kernel set (asked only with ``ask_tensorflow``,
    which imports it): what every CPU timing must name."""
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return {
        "cpu": cpu_model(),
        "cores": threads(),
        "cpu_features": cpu_features(),
        "onednn": onednn_enabled() if ask_tensorflow else None,
        "onednn_chosen_by": f"TF_ENABLE_ONEDNN_OPTS={setting}" if setting else "TensorFlow's default for this CPU",
    }


def _cpu_name() -> str:
    return f"CPU: {cpu_model()}, {threads()} cores"


def device_name() -> str:
    """The device the Keras backend computes on: a GPU's name, else the CPU's."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return f"GPU: {gpus[0].device_kind}" if gpus else _cpu_name()
    if backend == "torch":
        import torch

        return f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else _cpu_name()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU: {tf.config.experimental.get_device_details(gpus[0]).get('device_name', gpus[0].name)}"
    return _cpu_name()


def peak_memory_mb() -> float:
    """Peak memory: the GPU allocator's peak on a GPU, else the process's peak resident size."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            return gpus[0].memory_stats().get("peak_bytes_in_use", 0) / 2**20
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    else:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024


def train_step_function(model):
    """One training step of ``model`` as a function of no arguments that returns the loss."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        model.make_train_function()
        data = iter(tf.data.Dataset.from_tensors(0.0).repeat())
        return lambda: model.train_function(data)["loss"]
    x = np.zeros((1, 1), np.float32)
    return lambda: model.train_on_batch(x, return_dict=True)["loss"]


def bench(
    size: int = 256,
    channels: int = 128,
    steps: int = 10,
    jit_compile: bool = False,
    precision: str = "float32",
    fast: bool = True,
) -> dict:
    """Measure the paper's denoising network (``channels`` at every scale) at ``size`` x ``size``."""
    import keras

    from .engine import DIPConfig, build_dip, count_trainable

    cfg = DIPConfig(steps=steps, channels=channels, jit_compile=jit_compile, precision=precision, fast=fast).validate()
    y = np.random.default_rng(0).random((size, size, 3)).astype(np.float32)
    model = build_dip(y, None, cfg)
    train = train_step_function(model)
    conv, conv_flop = conv_step(
        size, channels, {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(precision, "float32")
    )
    product, product_flop = matmul_step()
    step_times, conv_times, product_times = _time_rounds([train, conv, product], steps)
    gflop = conv_flops(model.net, model.z.shape[1], model.z.shape[2], training=True) / 1e9
    sec = float(np.median(step_times))

    def fraction(times, flop):  # the step's GFLOP/s over the other's, round by round
        return round(float(np.median([gflop / s * t / flop * 1e9 for s, t in zip(step_times, times)])), 3)

    return {
        "ms_per_step": round(1000 * sec, 2),
        "gflop_per_step": round(gflop, 2),
        "gflops": round(gflop / sec, 1),
        "matmul_gflops": round(product_flop / float(np.median(product_times)) / 1e9, 1),
        "fraction_of_matmul": fraction(product_times, product_flop),
        "conv_gflops": round(conv_flop / float(np.median(conv_times)) / 1e9, 1),
        "fraction_of_conv": fraction(conv_times, conv_flop),
        "peak_rss_mb": round(peak_memory_mb(), 1),
        "params": count_trainable(model.net),
        "device": device_name(),
        "backend": keras.backend.backend(),
        "fast": bool(fast and keras.backend.backend() == "tensorflow"),
        "size": size,
        "channels": channels,
        "steps": steps,
        "jit_compile": jit_compile,
        "precision": precision,
        **machine(ask_tensorflow=keras.backend.backend() == "tensorflow"),
    }
