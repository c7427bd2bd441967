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
