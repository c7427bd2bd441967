"""TensorFlow's fast paths (dip_helpers.engine.backend.tensorflow), each against the stock computation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dip_helpers.engine import DIPConfig, count_trainable, skip_network
from dip_helpers.engine.fit import build_network
from dip_helpers.engine.backend.tensorflow import fast_skip_network

assert keras.backend.backend() == "tensorflow", "these tests are for the TensorFlow backend"


def test_fast_network_is_the_stock_function_with_the_same_parameters():
    for kw in (
        dict(channels=8, input_channels=8, skip_channels=2, scales=3),
        dict(channels=6, input_channels=4, skip_channels=3, scales=2, upsample="nearest"),
        dict(channels=8, input_channels=8, skip_channels=0, scales=2),
    ):
        cfg = DIPConfig(**kw)
        stock, fast = build_network(cfg, 3), build_network(cfg, 3, fast=True)
        assert count_trainable(stock) == count_trainable(fast)
        assert sum(w.size for w in stock.get_weights()) == sum(np.size(w) for w in fast.get_weights())
        z = np.random.default_rng(0).random((1, 32, 40, cfg.input_channels)).astype(np.float32)
        assert np.allclose(stock(z, training=True), fast(z, training=True), atol=2e-6), kw
    assert count_trainable(fast_skip_network()) == count_trainable(skip_network()) == 2_217_831


def test_fused_batch_norm_matches_keras():

    from dip_helpers.engine.backend.tensorflow import BatchNorm

    x = np.random.default_rng(0).normal(2, 3, (1, 12, 10, 5)).astype(np.float32)
    ours, ref = BatchNorm(), keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    assert np.allclose(ours(x, training=True), ref(x, training=True), atol=1e-5)
    assert np.allclose(ours.moving_mean.numpy(), ref.moving_mean.numpy(), atol=1e-5)
    n = 12 * 10  # like PyTorch, the running variance uses the unbiased batch variance
    unbiased = 0.9 + 0.1 * x.reshape(-1, 5).var(axis=0) * n / (n - 1)
    assert np.allclose(ours.moving_variance.numpy(), unbiased, rtol=1e-5)
    assert len(ours.trainable_weights) == 2


def test_concat_conv_equals_concatenate_batch_norm_conv():
    """The split computation is the plain one: concatenate, batch norm, reflection pad, one convolution."""

    from dip_helpers.engine.backend.tensorflow import concat_conv

    rng = np.random.default_rng(1)
    s_in, d_in = keras.Input((None, None, 3)), keras.Input((None, None, 8))
    split = keras.Model([s_in, d_in], concat_conv(s_in, d_in, 6, 3, name="m", concat_name="c"))
    s, d = rng.normal(1, 2, (1, 9, 11, 3)).astype(np.float32), rng.normal(-1, 3, (1, 9, 11, 8)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, 11).astype(np.float32), rng.normal(0, 1, 11).astype(np.float32)
    kernel, bias = rng.normal(0, 0.1, (3, 3, 11, 6)).astype(np.float32), rng.normal(0, 1, 6).astype(np.float32)
    split.get_layer("c_bn_skip").set_weights([gamma[:3], beta[:3], np.zeros(3), np.ones(3)])
    split.get_layer("c_bn").set_weights([gamma[3:], beta[3:], np.zeros(8), np.ones(8)])
    split.get_layer("m_skip").set_weights([kernel[:, :, :3]])
    split.get_layer("m").set_weights([kernel[:, :, 3:], bias])
    x = np.concatenate([s, d], axis=-1)
    x = (x - x.mean(axis=(0, 1, 2))) / np.sqrt(x.var(axis=(0, 1, 2)) + 1e-5) * gamma + beta
    x = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    ref = tf.nn.conv2d(x, kernel, 1, "VALID") + bias
    assert np.allclose(split([s, d], training=True), ref, atol=1e-4)
    assert count_trainable(split) == 2 * 11 + 3 * 3 * 11 * 6 + 6  # as one concatenation would have


def test_biases_before_batch_norm_cannot_change_the_output_and_get_no_gradient():
    net = fast_skip_network(8, 3, (8, 8), (8, 8), (2, 2))
    z = np.random.default_rng(0).random((1, 16, 16, 8)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = net(z, training=True)
        loss = tf.reduce_mean(tf.square(out - 0.5))
    grads = dict(zip([v.path for v in net.trainable_variables], tape.gradient(loss, net.trainable_variables)))
    before_norm = [v for v in net.trainable_variables if v.path.endswith("bias") and not v.path.startswith("to_image")]
    assert len(before_norm) == 10 and all(grads[v.path] is None for v in before_norm)
    assert grads["to_image/bias"] is not None and all(g is not None for p, g in grads.items() if not p.endswith("bias"))
    for v in before_norm:  # shifting them by a lot leaves the output as it was: batch norm removes them
        v.assign(v + 3.0)
    assert np.allclose(net(z, training=True), out, atol=1e-5)
    bias = net.get_layer("to_image").bias
    bias.assign(bias + 0.5)  # the last bias does matter
    assert not np.allclose(net(z, training=True), out, atol=1e-3)


@pytest.mark.parametrize("p", [1, 2])
def test_reflect_pad_matches_mirror_pad_forward_and_backward(p):
    from dip_helpers.engine.backend.tensorflow import reflect_pad

    x = tf.constant(np.random.default_rng(p).normal(size=(2, 7, 9, 3)).astype(np.float32))
    w = tf.constant(np.random.default_rng(5).normal(size=(2, 7 + 2 * p, 9 + 2 * p, 3)).astype(np.float32))
    assert np.array_equal(reflect_pad(x, p), np.pad(x.numpy(), [(0, 0), (p, p), (p, p), (0, 0)], mode="reflect"))
    grads = []
    for pad in (lambda t: reflect_pad(t, p), lambda t: tf.pad(t, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(pad(x) * w)
        grads.append(tape.gradient(loss, x).numpy())
    assert np.allclose(*grads, atol=1e-6)


def test_box_muller_noise_is_standard_normal():
    from scipy import stats

    from dip_helpers.engine.backend.tensorflow import normal_noise

    gen = tf.random.Generator.from_seed(3)
    x = normal_noise(gen, (1, 501, 999, 2), 0.5).numpy()  # an odd count of values
    assert x.shape == (1, 501, 999, 2) and np.isfinite(x).all()
    flat = x.ravel().astype(np.float64) / 0.5
    assert abs(flat.mean()) < 0.005 and abs(flat.std() - 1) < 0.005
    assert stats.kstest(flat, "norm").pvalue > 1e-3 and abs(stats.kurtosis(flat)) < 0.02
    assert not np.allclose(x, normal_noise(gen, (1, 501, 999, 2), 0.5).numpy())  # fresh noise each call


@pytest.mark.parametrize("fused", [True, False], ids=["fused-kernel", "fallback-to-keras"])
def test_fused_adam_matches_keras_adam(fused, monkeypatch):
    from dip_helpers.engine.backend import tensorflow as tf_fast

    if not fused:  # a Keras version without the private slots FusedAdam reads
        monkeypatch.setattr(tf_fast, "_has_fused_path", lambda optimizer: False)
    calls = []
    monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam", lambda **kw: calls.append(1) or _apply_adam(**kw))

    from dip_helpers.engine.backend.tensorflow import FusedAdam

    z = np.random.default_rng(0).random((1, 16, 16, 8)).astype(np.float32)
    runs = []
    for make in (lambda: keras.optimizers.Adam(0.01), lambda: FusedAdam(0.01)):
        keras.utils.set_random_seed(0)
        net, opt = skip_network(8, 3, (8, 8), (8, 8), (2, 2)), make()
        start = [v.numpy() for v in net.trainable_variables]
        for _ in range(6):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(net(z, training=True) - 0.5))
            pairs = [
                (g, v)
                for g, v in zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables)
                if g is not None
            ]
            opt.apply(*zip(*pairs))
        kernels = [(v.numpy(), s) for v, s in zip(net.trainable_variables, start) if v.path.endswith("kernel")]
        runs.append((kernels, net(z, training=True).numpy()))
    (k_keras, out_keras), (k_fused, out_fused) = runs
    assert min(np.abs(k - s).max() for k, s in k_keras) > 0.01  # every kernel moved
    assert all(np.allclose(a, b, atol=1e-5) for (a, _), (b, _) in zip(k_keras, k_fused))
    assert np.allclose(out_keras, out_fused, atol=1e-5)
    assert bool(calls) == fused  # the fused kernel ran, or Keras' own update did


_apply_adam = tf.raw_ops.ResourceApplyAdam


@pytest.mark.parametrize(
    "n, h, w, k, cin, cout, stride",
    [
        (1, 11, 13, 3, 5, 7, 1),
        (2, 9, 8, 3, 4, 6, 1),
        (1, 7, 9, 1, 8, 3, 1),
        (1, 13, 12, 5, 3, 4, 1),
        (2, 12, 11, 3, 3, 4, 2),
    ],
)
def test_conv2d_and_its_gradients_are_tensorflows(n, h, w, k, cin, cout, stride):
    """The convolution with gradients computed another way (forward convolution, matrix products) is
    tf.nn.conv2d's: the same output and, for a loss that weighs each output differently, the same gradients."""
    from dip_helpers.engine.backend.tensorflow import conv2d

    rng = np.random.default_rng(k + stride)
    x = tf.Variable(rng.standard_normal((n, h, w, cin)).astype(np.float32))
    kernel = tf.Variable(rng.standard_normal((k, k, cin, cout)).astype(np.float32))
    results = []
    for conv in (lambda x, w: tf.nn.conv2d(x, w, stride, "VALID"), lambda x, w: conv2d(x, w, stride)):
        with tf.GradientTape() as tape:
            y = conv(x, kernel)
            loss = tf.reduce_sum(tf.sin(y) * y)
        results.append([y.numpy(), *(g.numpy() for g in tape.gradient(loss, [x, kernel]))])
    for ref, ours, what in zip(*results, ("output", "input gradient", "kernel gradient")):
        assert ours.shape == ref.shape, what
        assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max(), what


def test_kernel_gradient_is_the_sum_over_pixels_of_input_times_output_gradient():
    from dip_helpers.engine.backend.tensorflow import _kernel_gradient

    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((1, 8, 9, 3)), rng.standard_normal((1, 6, 5, 4))  # a 3x5 kernel
    by_hand = np.zeros((3, 5, 3, 4))
    for i in range(3):
        for j in range(5):
            by_hand[i, j] = np.einsum("nhwc,nhwd->cd", x[:, i : i + 6, j : j + 5], dy)
    ours = _kernel_gradient(tf.constant(x, tf.float32), tf.constant(dy, tf.float32), 3, 5).numpy()
    assert np.abs(ours - by_hand).max() < 1e-4


def test_fast_network_gradients_are_the_same_with_either_convolution_gradient(monkeypatch):
    """The whole fast network: every parameter's gradient, with TensorFlow's convolution gradients and with conv2d's."""
    from dip_helpers.engine.backend import tensorflow as backend

    cfg = DIPConfig(channels=8, input_channels=8, skip_channels=2, scales=3)
    net = build_network(cfg, 3, fast=True)
    z = np.random.default_rng(0).random((1, 32, 40, 8)).astype(np.float32)
    grads, calls, conv2d = {}, [], backend.conv2d
    monkeypatch.setattr(backend, "conv2d", lambda *a: calls.append(1) or conv2d(*a))
    for by_matmul in (False, True):
        monkeypatch.setattr(backend, "GRADIENTS_BY_MATMUL", by_matmul)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(net(z, training=True) - 0.5))
        grads[by_matmul] = [g.numpy() for g in tape.gradient(loss, net.trainable_variables) if g is not None]
        assert (len(calls) > 10) is by_matmul  # every convolution of the network, or none
    assert len(grads[True]) == len(grads[False]) > 20
    for ours, ref in zip(grads[True], grads[False]):
        assert np.abs(ours - ref).max() <= 1e-4 * max(np.abs(ref).max(), 1e-3)


def test_convolution_gradients_by_matmul_exactly_when_tensorflow_runs_without_onednn(monkeypatch):
    from dip_helpers.engine.backend import tensorflow as backend

    monkeypatch.setattr(backend, "GRADIENTS_BY_MATMUL", None)
    assert backend.gradients_by_matmul() is (not backend.onednn_enabled())
    monkeypatch.setattr(backend, "GRADIENTS_BY_MATMUL", True)
    assert backend.gradients_by_matmul() is True


def test_profile_sorts_a_steps_time_into_its_parts():
    """bench --parts: every part of a small network's step is found, and the parts add up to the step's time."""
    from dip_helpers.engine.backend.tensorflow import PARTS
    from dip_helpers.engine.bench import bench

    out = bench(size=64, channels=16, steps=3, parts=True)
    parts = out["parts"]
    assert list(parts) == list(PARTS)
    assert all(parts[p]["ms"] > 0 for p in PARTS), parts
    for p in PARTS[:3]:  # the convolutions: their FLOP/s, against the machine's product
        assert parts[p]["gflops"] > 0 and parts[p]["fraction_of_matmul"] > 0, p
    total = sum(row["ms"] for row in parts.values())
    assert 0.3 * out["ms_per_step"] < total < 3 * out["ms_per_step"], (total, out["ms_per_step"])


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("0", "0")])
def test_the_course_turns_on_tensorflows_memory_pool_unless_told_otherwise(preset, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPU_ALLOCATOR_USE_BFC", "KERAS_BACKEND")}
    if preset is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = preset
    code = "import os, dip_helpers; print(os.environ.get('TF_CPU_ALLOCATOR_USE_BFC'))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == expected


def test_cpu_attempts_times_an_attempt_in_turns_with_the_default_engine():
    """benchmarks/cpu_attempts.py at toy size: each attempt in its own process, and one Markdown table."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_attempts.py"
    args = ["--onednn", "0", "--rounds", "1", "--size", "64", "--channels", "8", "--steps", "1", "--only", "before"]
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| attempt | ms / step") and len(table) == 4, done.stdout
    assert table[2].startswith("| the course's default engine |") and table[3].startswith("| neither: the engine")
    assert "oneDNN off" in done.stdout
