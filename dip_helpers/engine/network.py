"""The skip encoder-decoder of Deep Image Prior, written with stock Keras layers.

At each scale ``i`` the input goes two ways: a *skip* branch (a small 1x1
convolution) and a *deeper* branch (a stride-2 convolution that halves the
size, a second convolution, everything below, and a 2x upsampling). The two
are concatenated, batch-normalised and mixed by a convolution, then by a 1x1
one. Every convolution is followed by batch norm and LeakyReLU(0.2); a 1x1
convolution and a sigmoid make the output image.

The paper's denoising network is ``skip_network()`` with its defaults. It runs on
every Keras backend (TensorFlow, JAX, PyTorch); :mod:`.backend.tensorflow` builds the
same function with faster TensorFlow pieces.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
from keras import layers, ops


class ReflectionPad(layers.Layer):
    """Mirror-pad height and width by ``pad`` pixels, the edge pixel not repeated (NumPy's ``mode="reflect"``)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, x):
        p = self.pad
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, shape):
        grow = lambda n: None if n is None else n + 2 * self.pad
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


class UniformFanIn(keras.initializers.Initializer):
    """PyTorch's default start for convolutions: uniform in +-1/sqrt(fan_in), fan_in = input channels x kernel area.

    Drawn with NumPy from ``seed``, so the same seed gives the same weights on every backend.
    """

    def __init__(self, fan_in: int, seed: int = 0):
        self.fan_in, self.seed = int(fan_in), int(seed)

    def __call__(self, shape, dtype=None):
        bound = 1.0 / math.sqrt(self.fan_in)
        values = np.random.default_rng(self.seed).uniform(-bound, bound, shape)
        return ops.convert_to_tensor(values, dtype=dtype or "float32")

    def get_config(self):
        return {"fan_in": self.fan_in, "seed": self.seed}


class _Seeds:
    """Hands out 0, 1, 2, ... plus a base seed: one seed per initializer, in the order layers are built."""

    def __init__(self, base: int):
        self.next_seed = 1000 * int(base)

    def __call__(self) -> int:
        self.next_seed += 1
        return self.next_seed


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
    seeds=None,
    fan_in: int | None = None,
    layer_types=(None, None),
):
    """Padding + convolution (+ average pooling when ``downsample='avg'`` and ``stride`` > 1).

    ``fan_in`` (default: input channels x size^2) sets the starting weights' range; ``layer_types``:
    the padding and convolution classes, ``ReflectionPad`` and ``Conv2D`` unless given.
    """
    pad_type, conv_type = layer_types[0] or ReflectionPad, layer_types[1] or layers.Conv2D
    seeds = seeds or _Seeds(0)
    fan_in = fan_in or x.shape[-1] * size * size
    if size > 1 and pad == "reflection":
        x = pad_type((size - 1) // 2, name=f"{name}_pad", dtype=dtype)(x)
    x = conv_type(
        filters,
        size,
        strides=stride if downsample == "stride" else 1,
        padding="valid" if pad == "reflection" else "same",
        use_bias=bias,
        kernel_initializer=UniformFanIn(fan_in, seeds()),
        bias_initializer=UniformFanIn(fan_in, seeds()),
        name=name,
        dtype=dtype,
    )(x)
    if stride > 1 and downsample == "avg":
        x = layers.AveragePooling2D(stride, name=f"{name}_avg", dtype=dtype)(x)
    return x


def bn_act(x, bn: bool = True, act: bool = True, name: str = "conv", dtype=None):
    """Batch norm (``name``_bn, PyTorch's momentum and epsilon) and LeakyReLU 0.2 (``name``_act), each optional."""
    if bn:
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn", dtype=dtype)(x)
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
    """Convolution, batch norm, LeakyReLU 0.2. ``pad``: 'reflection' or 'zero'; ``downsample``: 'stride' or 'avg'.

    ``dtype``: a Keras dtype policy, e.g. ``"mixed_bfloat16"`` (None: float32).
    """
    x = conv(x, filters, size, stride, pad, downsample, bias, name, dtype, seeds)
    return bn_act(x, bn, act, name, dtype)


def join(skip, deeper, filters: int, size: int, i: int, **common):
    """The skip branch joined to the deeper one (``concat{i}``), batch norm, then the convolution ``up{i}_a``."""
    x = deeper if skip is None else layers.Concatenate(name=f"concat{i}", dtype=common.get("dtype"))([skip, deeper])
    x = bn_act(x, common.get("bn", True), False, f"concat{i}", common.get("dtype"))
    return conv_block(x, filters, size, name=f"up{i}_a", **common)


def per_scale(value, n: int, what: str) -> list:
    """``value`` repeated for ``n`` scales, or checked to have ``n`` entries."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} entries but the network has {n} scales")
    return values


def check_options(pad, upsample, downsample, input_channels, output_channels) -> None:
    """Raise ValueError for an option the skip network does not have."""
    if pad not in ("reflection", "zero"):
        raise ValueError(f"pad must be 'reflection' or 'zero', got {pad!r}")
    if upsample not in ("bilinear", "nearest"):
        raise ValueError(f"upsample must be 'bilinear' or 'nearest', got {upsample!r}")
    if downsample not in ("stride", "avg"):
        raise ValueError(f"downsample must be 'stride' or 'avg', got {downsample!r}")
    if output_channels not in (1, 3) or input_channels < 1:
        raise ValueError("output_channels must be 1 or 3 and input_channels at least 1")


#: the authors' argument names, kept for one release: old name -> new name
DEPRECATED = {"channels_skip": "skip_channels", "need_sigmoid": "sigmoid", "need_bias": "bias",
              "need1x1_up": "conv_1x1_up"}  # fmt: skip


def skip_network(input_channels: int = 32, output_channels: int = 3, channels_down=(128,) * 5, channels_up=(128,) * 5,
                 skip_channels=(4,) * 5, filter_size_down: int = 3, filter_size_up: int = 3, filter_skip_size: int = 1,
                 pad: str = "reflection", upsample: str = "bilinear", downsample: str = "stride", sigmoid: bool = True,
                 bias: bool = True, conv_1x1_up: bool = True, batch_norm: bool = True, dtype=None, seed: int = 0,
                 name: str = "skip", blocks=None, **deprecated) -> keras.Model:  # fmt: skip
    """Build the skip network; any input height and width that are multiples of ``2**scales``.

    ``channels_down``, ``channels_up`` and ``skip_channels`` give one number per scale (their
    common length is the number of scales); a skip count of 0 removes that skip connection.
    ``sigmoid``: a sigmoid on the output; ``bias``: biases in the convolutions; ``conv_1x1_up``:
    a 1x1 convolution after each join; ``batch_norm``: batch norm after each convolution.
    ``dtype="mixed_bfloat16"`` computes the hidden layers in bfloat16 (the output layer stays
    float32). ``seed`` fixes the starting weights, the same on every backend. ``blocks``: the two
    builders ``(conv_block, join)``, this module's by default (the TensorFlow backend passes its own).
    The authors' names ``channels_skip``, ``need_sigmoid``, ``need_bias`` and ``need1x1_up`` still work
    for one release, with a DeprecationWarning.
    """
    options = {"skip_channels": skip_channels, "sigmoid": sigmoid, "bias": bias, "conv_1x1_up": conv_1x1_up}
    for old, value in deprecated.items():
        if old not in DEPRECATED:
            raise TypeError(f"skip_network() got an unexpected keyword argument {old!r}")
        warnings.warn(f"skip_network({old}=...) is now {DEPRECATED[old]}=...", DeprecationWarning, stacklevel=2)
        options[DEPRECATED[old]] = value
    skip_channels, sigmoid, bias, conv_1x1_up = options.values()
    block, join_up = blocks or (conv_block, join)
    n = len(channels_down)
    up, skip = per_scale(channels_up, n, "channels_up"), per_scale(skip_channels, n, "skip_channels")
    check_options(pad, upsample, downsample, input_channels, output_channels)
    seeds = _Seeds(seed)
    common = dict(pad=pad, bias=bias, bn=batch_norm, dtype=dtype, seeds=seeds)

    def level(x, i):
        """Scale i: returns the feature map at the same size as x."""
        deeper = block(
            x, channels_down[i], filter_size_down, stride=2, downsample=downsample, name=f"down{i}_a", **common
        )
        deeper = block(deeper, channels_down[i], filter_size_down, name=f"down{i}_b", **common)
        if i + 1 < n:
            deeper = level(deeper, i + 1)
        deeper = layers.UpSampling2D(2, interpolation=upsample, name=f"up{i}_resize", dtype=dtype)(deeper)
        s = block(x, skip[i], filter_skip_size, name=f"skip{i}", **common) if skip[i] else None
        y = join_up(s, deeper, up[i], filter_size_up, i, **common)
        if conv_1x1_up:
            y = block(y, up[i], 1, name=f"up{i}_b", **common)
        return y

    z = keras.Input((None, None, input_channels), name="z")
    out = block(level(z, 0), output_channels, 1, pad=pad, bias=bias, bn=False, act=False, name="to_image", seeds=seeds)
    if sigmoid:
        out = layers.Activation("sigmoid", name="sigmoid")(out)
    return keras.Model(z, out, name=name)


def count_trainable(model: keras.Model) -> int:
    """Number of trainable parameters."""
    return int(sum(math.prod(v.shape) for v in model.trainable_weights))


def receptive_field(model: keras.Model, length: int = 4096) -> dict[str, int]:
    """For each layer of ``model`` (a 2-D convolutional Keras model with one input), the receptive field of its
    output: how many input pixels along one side one output pixel can depend on, from the layers themselves.

    Each layer maps an output position to the first and last input positions it reads: a convolution with a
    ``k``-wide kernel and stride ``s`` reads ``k`` positions from ``s * n``; a bilinear upsampling reads the two
    nearest old pixels (pixel centres at half-integers, as Keras places them); padding shifts the positions;
    layers that join branches take the union; batch norm and activations read their own position. This is done
    along one side of a ``length``-pixel line, and the largest span over the positions in its middle is kept
    (away from the borders): after an upsampling, neighbouring pixels can see spans of different sizes.
    """
    start = model.inputs[0]._keras_history.operation.name
    spans = {start: (np.arange(length), np.arange(length))}  # first and last input position of each output position
    for layer in model.layers:
        if layer.name in spans:
            continue
        parents = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        first, last = (np.array(a) for a in spans[parents[0]._keras_history.operation.name])
        for t in parents[1:]:  # a join: the union of the branches, position by position
            f2, l2 = spans[t._keras_history.operation.name]
            first, last = np.minimum(first, f2), np.maximum(last, l2)
        n = len(first)

        def read(lo, hi, first=first, last=last, n=n):
            return first[np.clip(lo, 0, n - 1)], last[np.clip(hi, 0, n - 1)]

        if isinstance(layer, ReflectionPad):
            out = np.arange(n + 2 * layer.pad) - layer.pad
            first, last = read(out, out)
        elif isinstance(layer, (layers.Conv2D, layers.AveragePooling2D, layers.MaxPooling2D)):
            k = layer.kernel_size[0] if isinstance(layer, layers.Conv2D) else layer.pool_size[0]
            stride = layer.strides[0]
            if layer.padding == "same":  # TensorFlow's rule: the padding's larger half goes after
                size = -(-n // stride)
                out = np.arange(size) * stride - max((size - 1) * stride + k - n, 0) // 2
            else:
                out = np.arange((n - k) // stride + 1) * stride
            first, last = read(out, out + k - 1)
        elif isinstance(layer, layers.UpSampling2D):
            f = layer.size[0]
            centre = (np.arange(n * f) + 0.5) / f - 0.5  # each new pixel's position among the old ones
            if layer.interpolation == "bilinear":
                lo = np.floor(centre).astype(int)
                first, last = read(lo, lo + (centre > lo))
            else:
                first, last = read(np.arange(n * f) // f, np.arange(n * f) // f)
        spans[layer.name] = (first, last)
    middle = {name: slice(len(f) // 4, len(f) - len(f) // 4) for name, (f, _) in spans.items()}
    return {name: int((last - first)[middle[name]].max()) + 1 for name, (first, last) in spans.items()}
