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
    grey = np.full(y.shape, 0.5, np.float32)  # start away from y: the optimiser has to move
    out = dh.solve_map(y, prior="none", steps=200, lr=0.02, start=grey)
    assert np.abs(grey - y).mean() > 0.15 and np.abs(out - y).max() < 0.02
    m = dh.random_mask(x.shape, 0.5, seed=1)
    known = m[..., 0] == 1
    holes = dh.Mask(m).measure(x)
    out = dh.solve_map(holes, dh.Mask(m), prior="none", steps=200, lr=0.02, start=grey)
    assert np.abs(out[known] - x[known]).max() < 0.02  # the known pixels are fitted
    assert np.array_equal(out[~known], grey[~known])  # the missing ones get no gradient: never moved


def test_priors_beat_the_noisy_input(pair):
    x, y = pair
    noisy_db = dh.psnr(x, y)
    assert dh.psnr(x, dh.solve_map(y, prior="tv", lam=0.1, steps=150)) > noisy_db + 2
    assert dh.psnr(x, dh.solve_map(y, prior="tikhonov", lam=0.3, steps=150)) > noisy_db + 1
    with pytest.raises(ValueError, match="prior"):
        dh.solve_map(y, prior="l1")


def test_super_resolution_map_agrees_with_the_measurement(pair):
    x, _ = pair
    d = dh.Downsampler(4)
    y = d.measure(x)
    out = dh.solve_map(y, d, prior="tv", lam=0.001, steps=300, lr=0.02, shape=x.shape)
    assert out.shape == x.shape
    assert dh.psnr(y, d.measure(out)) > 35  # Downsampler(out) = y, up to the small TV term
    assert dh.psnr(x, out) > dh.psnr(x, np.full(x.shape, 0.5)) + 5  # and it is an image, not grey


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
