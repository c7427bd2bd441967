"""Hand-made priors (MAP by gradient descent) and the classical baselines."""

import numpy as np
import pytest
import tensorflow as tf

import dip_helpers as dh
from dip_helpers import classical
from dip_helpers.priors import tikhonov, total_variation


@pytest.fixture(scope="module")
def pair():
    x = dh.load_image("astronaut", size=64)
    return x, dh.add_gaussian_noise(x, 25, seed=0)


def test_prior_values_computed_another_way():
    x = np.random.default_rng(0).random((1, 5, 6, 2)).astype(np.float32)
    dx, dy = np.diff(x, axis=2), np.diff(x, axis=1)
    assert float(tikhonov(tf.constant(x))) == pytest.approx((dx**2).mean() + (dy**2).mean(), rel=1e-5)
    tv = np.sqrt(dx[:, :-1] ** 2 + dy[:, :, :-1] ** 2 + 1e-6).mean()
    assert float(total_variation(tf.constant(x))) == pytest.approx(tv, rel=1e-5)
    flat = tf.fill((1, 8, 8, 3), 0.3)
    assert float(tikhonov(flat)) == 0 and float(total_variation(flat)) == pytest.approx(1e-3, rel=1e-3)


def test_data_term_alone_gives_back_the_measurement(pair):
    x, y = pair
    assert np.allclose(dh.solve_map(y, prior="none", steps=20), y, atol=1e-6)
    m = dh.random_mask(x.shape, 0.5, seed=1)
    holes = dh.Mask(m).measure(x)
    out = dh.solve_map(holes, dh.Mask(m), prior="none", steps=20, lr=0.05)
    assert np.array_equal(out[m[..., 0] == 0], holes[m[..., 0] == 0])


def test_priors_beat_the_noisy_input(pair):
    x, y = pair
    noisy_db = dh.psnr(x, y)
    assert dh.psnr(x, dh.solve_map(y, prior="tv", lam=0.1, steps=150)) > noisy_db + 2
    assert dh.psnr(x, dh.solve_map(y, prior="tikhonov", lam=0.3, steps=150)) > noisy_db + 1
    with pytest.raises(ValueError, match="prior"):
        dh.solve_map(y, prior="l1")


def test_super_resolution_map_has_the_large_shape(pair):
    x, _ = pair
    d = dh.Downsampler(4)
    out = dh.solve_map(d.measure(x), d, prior="tv", lam=0.01, steps=10, shape=x.shape)
    assert out.shape == x.shape


def test_classical_baselines(pair):
    x, y = pair
    for method in (classical.tv_denoise(y), classical.nl_means(y, 25)):
        assert method.shape == x.shape and dh.psnr(x, method) > dh.psnr(x, y) + 2
    grey = x[..., :1]
    assert classical.tv_denoise(dh.add_gaussian_noise(grey, 25)).shape == grey.shape
    m = dh.random_mask(x.shape, 0.5, seed=2)
    filled = classical.biharmonic_inpaint(dh.Mask(m).measure(x), m)
    assert dh.psnr(x, filled) > dh.psnr(x, dh.Mask(m).measure(x)) + 10
    small = dh.Downsampler(4).measure(x)
    for method in ("nearest", "bilinear", "bicubic"):
        assert classical.upscale(small, 4, method).shape == x.shape
    with pytest.raises(ValueError, match="method"):
        classical.upscale(small, 4, "lanczos9")
