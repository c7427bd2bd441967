"""The engine on TensorFlow: the training step notebook 05 reads, and the fast twin of the network and optimiser.

:class:`TensorFlowDIP` holds the step written with ``GradientTape``. The fast twin computes the same
functions as the stock code (:mod:`..network`, :mod:`..model`) with faster TensorFlow kernels on CPUs;
it is used by default (``DIPConfig.fast``), the way Keras swaps in backend-specific optimizers, and each
piece is tested against the stock computation. What each one saves is measured in ``benchmarks/README.md``.

- :class:`BatchNorm`: TensorFlow's fused batch-norm kernel (one pass for mean, variance, scaling).
- :func:`concat_conv`: ``conv(batch_norm(concatenate([skip, deeper])))`` as the sum of two
  convolutions, so that the large one keeps a CPU-friendly channel count (128, not 132).
- :class:`ConvBeforeNorm`: a bias followed by batch norm cannot change the output; it keeps its
  place as a parameter but gets no gradient.
- :func:`conv2d`: without oneDNN, a convolution's two gradients by TensorFlow's faster kernels: the
  input gradient as a forward convolution, the kernel gradient as matrix products.
- :func:`reflect_pad`: reflection padding by concatenation, with MirrorPad's gradient.
- :class:`FusedAdam`: Keras' Adam with one ``ResourceApplyAdam`` kernel per variable.
- :func:`normal_noise`: the input noise by the Box-Muller transform from one uniform draw.

The rest is the interface every backend module gives (see :mod:`dip_helpers.engine.backend`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import network
from ..model import DIP
from ..network import skip_network

#: this backend has a fast twin of the network and the optimiser
FAST = True


def reflect_pad(x, p: int):
    """Mirror-pad height and width of an NHWC tensor by ``p`` pixels, like ``tf.pad(..., mode="REFLECT")``.

    The forward pass copies by concatenation; the gradient is MirrorPad's.
    """
    paddings = [[0, 0], [p, p], [p, p], [0, 0]]

    @tf.custom_gradient
    def pad(x):
        y = tf.concat([tf.reverse(x[:, 1 : p + 1], [1]), x, tf.reverse(x[:, -p - 1 : -1], [1])], 1)
        y = tf.concat([tf.reverse(y[:, :, 1 : p + 1], [2]), y, tf.reverse(y[:, :, -p - 1 : -1], [2])], 2)
        return y, lambda dy: tf.raw_ops.MirrorPadGrad(input=dy, paddings=paddings, mode="REFLECT")

    return pad(x)


class ReflectionPad(network.ReflectionPad):
    """:class:`..network.ReflectionPad` by :func:`reflect_pad`."""

    def call(self, x):
        return reflect_pad(x, self.pad)


class BatchNorm(layers.Layer):
    """Batch normalisation over batch, height and width by TensorFlow's fused kernel (scale and shift per channel).

    Under mixed precision its statistics and weights stay float32 while bfloat16 inputs are
    normalised without a round trip through float32. Its running variance is the unbiased one,
    as in PyTorch (DIP always runs in training mode, where running statistics are not used).
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(autocast=False, **kwargs)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        c = (input_shape[-1],)
        self.gamma = self.add_weight(shape=c, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=c, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=c, initializer="zeros", trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=c, initializer="ones", trainable=False, name="moving_variance")

    def call(self, x, training=None):
        gamma, beta = self.gamma, self.beta
        if training:
            y, mean, var = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, epsilon=self.epsilon, is_training=True)
            m = self.momentum
            self.moving_mean.assign(m * self.moving_mean + (1 - m) * mean)
            self.moving_variance.assign(m * self.moving_variance + (1 - m) * var)
            return y
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            x,
            gamma,
            beta,
            mean=self.moving_mean,
            variance=self.moving_variance,
            epsilon=self.epsilon,
            is_training=False,
        )
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


#: compute the convolutions' gradients by :func:`conv2d`: None (the default) when TensorFlow runs without oneDNN
GRADIENTS_BY_MATMUL: bool | None = None


def gradients_by_matmul() -> bool:
    """Whether the fast twin's convolutions take :func:`conv2d`'s gradients (see :data:`GRADIENTS_BY_MATMUL`)."""
    return not onednn_enabled() if GRADIENTS_BY_MATMUL is None else GRADIENTS_BY_MATMUL


def _kernel_gradient(x, dy, kh: int, kw: int):
    """The gradient to the kernel of a stride-1 "VALID" convolution of one NHWC image ``x``, ``dy`` its output's
    gradient, as ``kh`` matrix products.

    With the image's pixels in one column (``xf``, row after row), the input a kernel tap
    ``(i, j)`` reads for each output pixel is a contiguous run of rows of ``xf``, if the output is
    computed on the input's full width (``dy`` padded with zero columns): no copy is made. The
    ``kw`` taps of one kernel row are one product, against ``dy`` shifted by 0 ... kw - 1 rows.
    """
    _, hp, wp, cin = x.shape
    ho, wo, cout = dy.shape[1], dy.shape[2], dy.shape[3]
    length = ho * wp + kw - 1
    xf = tf.pad(tf.reshape(x, (hp * wp, cin)), [[0, kw - 1], [0, 0]])
    dyf = tf.reshape(tf.pad(dy, [[0, 0], [0, 0], [0, wp - wo], [0, 0]]), (ho * wp, cout))
    shifted = tf.concat([tf.pad(dyf, [[j, kw - 1 - j], [0, 0]]) for j in range(kw)], 1)  # (length, kw * cout)
    rows = [tf.matmul(xf[i * wp : i * wp + length], shifted, transpose_a=True) for i in range(kh)]
    return tf.transpose(tf.reshape(tf.stack(rows), (kh, cin, kw, cout)), [0, 2, 1, 3])


def conv2d(x, kernel, stride: int = 1):
    """``tf.nn.conv2d(x, kernel, stride, "VALID")`` (NHWC, HWIO), with its gradients computed another way.

    TensorFlow's kernels without oneDNN compute a convolution's forward pass faster than its two
    gradients. So, at stride 1, the gradient to the input is the forward convolution of the
    output's gradient, zero-padded by the kernel size - 1, with the kernel flipped and its
    channels swapped, and the gradient to the kernel is a few matrix products
    (:func:`_kernel_gradient`). Other strides keep TensorFlow's gradients.
    """
    kh, kw, cin, cout = kernel.shape

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, stride, "VALID")

        def grad(dy):
            if stride != 1:
                strides = [1, stride, stride, 1]
                return (
                    tf.raw_ops.Conv2DBackpropInput(
                        input_sizes=tf.shape(x), filter=kernel, out_backprop=dy, strides=strides, padding="VALID"
                    ),
                    tf.raw_ops.Conv2DBackpropFilter(
                        input=x, filter_sizes=tf.shape(kernel), out_backprop=dy, strides=strides, padding="VALID"
                    ),
                )
            with tf.name_scope("conv_input_gradient"):  # the names profile_step sorts by
                flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
                padded = tf.pad(dy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]])
                dx = tf.nn.conv2d(padded, flipped, 1, "VALID")
            with tf.name_scope("conv_kernel_gradient"):
                dw = tf.add_n([_kernel_gradient(x[b : b + 1], dy[b : b + 1], kh, kw) for b in range(x.shape[0])])
            return dx, dw

        return y, grad

    return conv(x, tf.convert_to_tensor(kernel))


class Conv(layers.Conv2D):
    """A ``Conv2D`` whose convolution is :func:`conv2d` when :func:`gradients_by_matmul` (float32, "valid" padding,
    equal strides, no dilation or groups)."""

    def convolution_op(self, inputs, kernel):
        sh, sw = self.strides
        plain = self.padding == "valid" and self.data_format == "channels_last" and sh == sw
        plain = plain and tuple(self.dilation_rate) == (1, 1) and self.groups == 1 and inputs.dtype == tf.float32
        if plain and gradients_by_matmul():
            return conv2d(inputs, kernel, sh)
        return super().convolution_op(inputs, kernel)


class ConvBeforeNorm(Conv):
    """A ``Conv2D`` followed by batch norm: its bias stays a parameter but gets no gradient.

    Batch norm subtracts each channel's mean, and the bias with it, so this bias cannot change
    the output: its exact gradient is zero (rounding noise in practice).
    """

    def call(self, inputs):
        x = self.convolution_op(inputs, self.kernel)
        return tf.nn.bias_add(x, tf.stop_gradient(self.bias)) if self.use_bias else x


def conv(
    x,
    filters: int,
    size: int,
    stride: int = 1,
    pad: str = "reflection",
    downsample: str = "stride",
    bias: bool = True,
    name: str = "conv",
    dtype=None,
    fan_in: int | None = None,
    norm_follows: bool = False,
    seeds=None,
):
    """``network.conv`` with the fast padding and :class:`Conv`; ``norm_follows``: batch norm comes next
    (:class:`ConvBeforeNorm`)."""
    return network.conv(
        x,
        filters,
        size,
        stride,
        pad,
        downsample,
        bias,
        name,
        dtype,
        seeds,
        fan_in,
        layer_types=(ReflectionPad, ConvBeforeNorm if norm_follows else Conv),
    )


def bn_act(x, bn: bool = True, act: bool = True, name: str = "conv", dtype=None):
    """:class:`BatchNorm` (``name``_bn) and LeakyReLU 0.2 (``name``_act), each optional."""
    if bn:
        x = BatchNorm(name=f"{name}_bn")(x)
    if act:
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act", dtype=dtype)(x)
    return x


def conv_block(
    x,
    filters: int,
    size: int,
    stride: int = 1,
    pad: str = "reflection",
    downsample: str = "stride",
    bias: bool = True,
    bn: bool = True,
    act: bool = True,
    name: str = "conv",
    dtype=None,
    seeds=None,
):
    x = conv(x, filters, size, stride, pad, downsample, bias, name, dtype, norm_follows=bn, seeds=seeds)
    return bn_act(x, bn, act, name, dtype)


def concat_conv(
    skip,
    deeper,
    filters: int,
    size: int,
    pad: str = "reflection",
    bias: bool = True,
    bn: bool = True,
    name: str = "up",
    concat_name: str = "concat",
    dtype=None,
    norm_follows: bool = False,
    seeds=None,
):
    """``conv(batch_norm(concatenate([skip, deeper])))``, computed as the sum of two convolutions.

    A convolution of a concatenation is the sum of the convolutions of its parts, each with
    its own slice of the kernel, and batch norm works channel by channel: the same function
    with the same parameters. ``bn``: batch norm on the concatenation; ``norm_follows``: batch
    norm comes after this convolution.
    """
    fan_in = (skip.shape[-1] + deeper.shape[-1]) * size * size
    parts = []
    for x, suffix, with_bias in ((skip, "_skip", False), (deeper, "", bias)):
        if bn:
            x = BatchNorm(name=f"{concat_name}_bn{suffix}")(x)
        parts.append(
            conv(
                x,
                filters,
                size,
                pad=pad,
                bias=with_bias,
                name=f"{name}{suffix}",
                dtype=dtype,
                fan_in=fan_in,
                norm_follows=norm_follows,
                seeds=seeds,
            )
        )
    return layers.Add(name=f"{name}_sum", dtype=dtype)(parts)


def join(skip, deeper, filters: int, size: int, i: int, pad="reflection", bias=True, bn=True, dtype=None, seeds=None):
    """``network.join`` with :func:`concat_conv` (no concatenation) and :class:`BatchNorm`."""
    if skip is None:
        y = conv(
            bn_act(deeper, bn, False, f"concat{i}"),
            filters,
            size,
            pad=pad,
            bias=bias,
            name=f"up{i}_a",
            dtype=dtype,
            norm_follows=bn,
            seeds=seeds,
        )
    else:
        y = concat_conv(
            skip, deeper, filters, size, pad, bias, bn, f"up{i}_a", f"concat{i}", dtype, norm_follows=bn, seeds=seeds
        )
    return bn_act(y, bn, True, f"up{i}_a", dtype)


def fast_skip_network(*args, name: str = "skip_fast", **kwargs) -> keras.Model:
    """``network.skip_network`` built from the pieces above: the same arguments, the same function."""
    return skip_network(*args, name=name, blocks=(conv_block, join), **kwargs)


def copy_stock_weights(stock: keras.Model, fast: keras.Model) -> keras.Model:
    """Give ``fast`` (from :func:`fast_skip_network`) the weights of ``stock`` (from ``network.skip_network``).

    Layers with the same name get the same weights. A concatenation's batch norm (``concat{i}_bn``)
    and the convolution after it (``up{i}_a``) exist twice in ``fast``: the part that reads the
    skip branch (``*_skip``) gets the first channels of the stock weights, the other part the rest.
    """
    names = {layer.name for layer in fast.layers}
    for layer in fast.layers:
        if not layer.weights:
            continue
        base = layer.name.removesuffix("_skip")
        weights = [np.asarray(w) for w in stock.get_layer(base).get_weights()]
        if f"{base}_skip" in names:
            is_skip = layer.name.endswith("_skip")
            if isinstance(layer, BatchNorm):  # gamma, beta, mean, variance: one value per input channel
                n = fast.get_layer(f"{base}_skip").gamma.shape[0]
                weights = [w[:n] if is_skip else w[n:] for w in weights]
            else:  # kernel (h, w, input channels, filters), then the bias on the deeper part only
                n = fast.get_layer(f"{base}_skip").kernel.shape[2]
                weights = [weights[0][:, :, :n]] if is_skip else [weights[0][:, :, n:], *weights[1:]]
        layer.set_weights(weights)
    return fast


def normal_noise(gen: tf.random.Generator, shape, std: float = 1.0):
    """``std`` times standard normal samples of a static ``shape``, by the Box-Muller transform."""
    n = math.prod(shape)
    u = gen.uniform((2, (n + 1) // 2))  # in [0, 1), so 1 - u is never 0
    radius = std * tf.sqrt(-2.0 * tf.math.log1p(-u[0]))
    angle = (2 * math.pi) * u[1]
    return tf.reshape(tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], 0)[:n], shape)


def _has_fused_path(optimizer) -> bool:
    """Whether this Keras version keeps Adam's moments where :class:`FusedAdam` reads them."""
    return all(hasattr(optimizer, a) for a in ("_momentums", "_velocities", "_get_variable_index"))


class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam, same formula, with each variable updated by one TensorFlow kernel (ResourceApplyAdam).

    It reads Keras' private slots for the moments; a Keras version without them, and
    ``amsgrad``, fall back to Keras' own update.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or not _has_fused_path(self):
            return super().update_step(gradient, variable, learning_rate)
        i = self._get_variable_index(variable)
        dtype = variable.dtype

        def handle(v):
            return (v.value if isinstance(v, keras.Variable) else v).handle

        t = tf.cast(self.iterations + 1, dtype)
        b1, b2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=handle(variable),
            m=handle(self._momentums[i]),
            v=handle(self._velocities[i]),
            beta1_power=b1**t,
            beta2_power=b2**t,
            lr=tf.cast(learning_rate, dtype),
            beta1=b1,
            beta2=b2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


class TensorFlowDIP(DIP):
    """:class:`..model.DIP` with its training step in TensorFlow: the step notebook 05 reads."""

    def train_step(self, data):
        z = self.z
        if self.reg_noise_std > 0:
            z = z + self.input_noise(z.shape)
        variables = self.net.trainable_variables
        with tf.GradientTape() as tape:
            out = self(z, training=True)
            loss, logs = self.loss_and_logs(out)
        grads = tape.gradient(loss, variables)
        # the fast network's biases before batch norm get no gradient (None): leave them out
        grads, variables = zip(*[(g, v) for g, v in zip(grads, variables) if g is not None])
        self.optimizer.apply(grads, variables)
        self.last_output.assign(out)
        return logs


class FastDIP(TensorFlowDIP):
    """:class:`TensorFlowDIP` with the input noise by :func:`normal_noise`; the network and optimiser come from
    :func:`fast_skip_network` and :class:`FusedAdam` (see :func:`build_network` and :func:`build_optimizer`)."""

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, seed=seed, **kwargs)
        self.noise_gen = tf.random.Generator.from_seed(seed)

    def input_noise(self, shape):
        return normal_noise(self.noise_gen, shape, self.reg_noise_std)


def model_class(fast: bool = True) -> type:
    """:class:`FastDIP` (``fast``) or :class:`TensorFlowDIP`."""
    return FastDIP if fast else TensorFlowDIP


def build_network(kwargs: dict, fast: bool = True) -> keras.Model:
    """``skip_network(**kwargs)``; with ``fast``, its fast twin given the same weights."""
    stock = skip_network(**kwargs)
    return copy_stock_weights(stock, fast_skip_network(**kwargs)) if fast else stock


def build_optimizer(lr: float, fast: bool = True) -> keras.optimizers.Optimizer:
    """Adam: :class:`FusedAdam` (``fast``) or Keras' own."""
    return FusedAdam(lr) if fast else keras.optimizers.Adam(lr)


def jit_compile(requested: bool) -> bool:
    """TensorFlow compiles the step with XLA only when asked (it is slower on CPUs)."""
    return bool(requested)


def has_gpu() -> bool:
    """Whether TensorFlow lists a GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def gpu() -> dict | None:
    """The first GPU's name and peak memory (TensorFlow does not say how much is free); None without one."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    return {"name": name, "free_gb": None, "peak_mb": tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20}


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs oneDNN's CPU kernels (TensorFlow reads the choice when it loads)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def step_function(model):
    """One training step of a compiled ``model``, as a function of no arguments that returns the loss."""
    model.make_train_function()
    data = iter(tf.data.Dataset.from_tensors(0.0).repeat())
    return lambda: model.train_function(data)["loss"]


def conv_step(x0: np.ndarray, w0: np.ndarray, dtype: str = "float32"):
    """One 3x3 convolution of the NHWC ``x0`` by the HWIO ``w0`` ("same" padding) with both gradients, in
    ``dtype``, as a function of no arguments."""
    x, w = tf.constant(x0, dtype), tf.Variable(tf.constant(w0, dtype))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, w, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        gx, gw = tape.gradient(loss, [x, w])
        return tf.cast(tf.reduce_sum(gx) + tf.reduce_sum(gw), tf.float32)

    return step


#: the parts of a training step that :func:`profile_step` times
PARTS = (
    "convolutions, forward",
    "convolutions, input gradient",
    "convolutions, kernel gradient",
    "batch norm, forward and gradient",
    "the rest",
)


def _part(op_name: str, op_type: str) -> str:
    """Which of :data:`PARTS` a TensorFlow op belongs to, from its name and type (oneDNN's types included)."""
    if "BackpropInput" in op_type or "conv_input_gradient" in op_name:
        return PARTS[1]
    if "BackpropFilter" in op_type or "conv_kernel_gradient" in op_name:
        return PARTS[2]
    if "Conv2D" in op_type:
        return PARTS[0]
    if "BatchNorm" in op_type:
        return PARTS[3]
    return PARTS[4]


def _xplane_proto():
    """The protobuf module of the profiler's traces, where this TensorFlow version keeps it."""
    import importlib

    for where in ("tensorflow.tsl.profiler.protobuf", "tsl.profiler.protobuf", "tensorflow.core.profiler.protobuf"):
        try:
            return importlib.import_module(f"{where}.xplane_pb2")
        except ImportError:
            continue
    raise ImportError(f"TensorFlow {tf.__version__} has no xplane_pb2 module for its profiler's traces")


def profile_step(step, calls: int = 3) -> dict[str, float]:
    """Seconds per call of ``step`` spent in each of :data:`PARTS`, by TensorFlow's profiler.

    The profiler gives each op's start and end. Ops run side by side on several cores: each
    moment of the calls' wall time is shared equally among the ops running then, and the
    moments when none runs (the framework between ops) go to "the rest".
    """
    import glob
    import tempfile
    import time

    xplane_pb2 = _xplane_proto()
    float(step())  # compiled and warm before the profiler starts
    with tempfile.TemporaryDirectory() as log_dir:
        tf.profiler.experimental.start(log_dir)
        start = time.perf_counter()
        for _ in range(calls):
            out = step()
        float(out)
        wall = (time.perf_counter() - start) / calls
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        for path in glob.glob(f"{log_dir}/**/*.xplane.pb", recursive=True):
            with open(path, "rb") as f:
                space.MergeFromString(f.read())
    edges = []  # (time in ps, +1 start / -1 end, part)
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            for event in line.events:
                op_name, _, op_type = plane.event_metadata[event.metadata_id].name.rpartition(":")
                if op_name and ":" not in op_name and op_type.isidentifier():  # an op, "scope/name:Type"
                    begin = line.timestamp_ns * 1000 + event.offset_ps
                    part = _part(op_name, op_type)
                    edges += [(begin, 1, part), (begin + event.duration_ps, -1, part)]
    shares = dict.fromkeys(PARTS, 0.0)
    running = dict.fromkeys(PARTS, 0)
    edges.sort()
    for (t, change, part), (t_next, _, _) in zip(edges, edges[1:] + edges[-1:]):
        running[part] += change
        n = sum(running.values())
        for p, k in running.items():
            if k:
                shares[p] += (t_next - t) * k / n
    busy = sum(shares.values()) / 1e12 / calls
    out = {part: t / 1e12 / calls for part, t in shares.items()}
    out[PARTS[-1]] += max(0.0, wall - busy)  # no op running: the framework's own time
    return out


def gradient(fn, x) -> np.ndarray:
    """d fn(x) / dx of a scalar function of one array, by ``GradientTape``."""
    t = tf.Variable(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        loss = fn(t)
    return tape.gradient(loss, t).numpy()


class SummaryWriter:
    """TensorBoard scalars and images in ``log_dir`` by TensorFlow's event writer."""

    def __init__(self, log_dir):
        self._writer = tf.summary.create_file_writer(str(log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        with self._writer.as_default(step=step):
            tf.summary.scalar(tag, float(value))

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        with self._writer.as_default(step=step):
            tf.summary.image(tag, image[None])

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
