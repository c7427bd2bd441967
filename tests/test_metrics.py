"""MSE, PSNR and SSIM against scikit-image and against formulas."""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import dip_helpers as dh


@pytest.fixture(scope="module")
def pair():
    x = dh.load_image("astronaut", size=128)
    return x, dh.add_gaussian_noise(x, 25, seed=0)


def test_psnr_agrees_with_skimage_and_formula(pair):
    x, y = pair
    assert dh.psnr(x, y) == pytest.approx(peak_signal_noise_ratio(x, y, data_range=1.0), abs=1e-4)
    assert dh.psnr(x, y) == pytest.approx(10 * math.log10(1 / np.mean((x.astype(float) - y) ** 2)), abs=1e-9)
    assert dh.psnr(x * 255, y * 255, data_range=255) == pytest.approx(dh.psnr(x, y), abs=1e-4)


def test_psnr_of_gaussian_noise_matches_theory():
    flat = np.full((256, 256, 1), 0.5, np.float32)
    for sigma in (5, 25):
        noisy = dh.add_gaussian_noise(flat, sigma, seed=1, clip=False)
        assert dh.psnr(flat, noisy) == pytest.approx(20 * math.log10(255 / sigma), abs=0.05)


def test_psnr_edge_cases():
    a = np.zeros((4, 4, 3))
    assert dh.psnr(a, a) == math.inf
    assert dh.psnr(a, np.ones_like(a)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same shape"):
        dh.psnr(a, np.zeros((4, 5, 3)))


def test_ssim_agrees_with_skimage(pair):
    x, y = pair
    ref = structural_similarity(
        x, y, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert dh.ssim(x, y) == pytest.approx(ref, abs=1e-5)
    g = dh.load_image("camera", size=64)
    gy = dh.add_gaussian_noise(g, 50, seed=2)
    ref = structural_similarity(
        g[..., 0], gy[..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert dh.ssim(g, gy) == pytest.approx(ref, abs=1e-5)


def test_ssim_range_and_errors(pair):
    x, y = pair
    assert dh.ssim(x, x) == pytest.approx(1.0)
    assert dh.ssim(x, y) < dh.ssim(x, dh.add_gaussian_noise(x, 5, seed=0)) < 1.0
    with pytest.raises(ValueError, match="11x11"):
        dh.ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_psnr_y_matches_skimage_ycbcr_and_crops():
    from skimage.color import rgb2ycbcr

    x = dh.load_image("coffee", size=48)
    y = dh.add_gaussian_noise(x, 10, seed=3)
    ref_x, ref_y = rgb2ycbcr(x)[..., 0] / 255, rgb2ycbcr(y)[..., 0] / 255
    assert dh.metrics.rgb_to_y(x) == pytest.approx(ref_x, abs=1e-6)
    want = peak_signal_noise_ratio(ref_x[4:-4, 4:-4], ref_y[4:-4, 4:-4], data_range=1.0)
    assert dh.metrics.psnr_y(x, y) == pytest.approx(want, abs=1e-6)
    border = x.copy()
    border[:4] = 0  # damage only the border: the cropped PSNR does not see it
    assert dh.metrics.psnr_y(x, border) == math.inf and dh.psnr(x, border) < 30
