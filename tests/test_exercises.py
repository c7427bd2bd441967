"""The self-checks accept the worked solutions and reject wrong or missing answers."""

import numpy as np

from dip_helpers import exercises
from dip_helpers.solutions import nb00


def test_psnr_check(capsys):
    assert exercises.check_psnr(nb00.my_psnr) is True
    assert exercises.check_psnr(lambda x, y: 10 * np.log10(1 / np.mean(np.abs(x - y)))) is False
    assert exercises.check_psnr(lambda x, y: None) is None
    out = capsys.readouterr().out
    assert "✅" in out and "❌" in out and "⏳" in out


def test_sigma_check():
    assert exercises.check_sigma_for_psnr(nb00.SIGMA_30DB, 30) is True
    assert exercises.check_sigma_for_psnr(25, 30) is False
    assert exercises.check_sigma_for_psnr(None, 30) is None


def test_conv2d_check():
    from dip_helpers.solutions import nb01

    assert exercises.check_conv2d(nb01.my_conv2d) is True
    flipped = lambda x, k, p, s: nb01.my_conv2d(x, k[::-1, ::-1], p, s)  # a true convolution: wrong here
    assert exercises.check_conv2d(flipped) is False
    assert exercises.check_conv2d(lambda x, k, p, s: nb01.my_conv2d(x, k, 0, s)) is False  # forgets padding
    assert exercises.check_conv2d(lambda *a: None) is None


def test_output_size_check():
    from dip_helpers.solutions import nb01

    assert exercises.check_output_size(nb01.OUTPUT_SIZE, 100, 5, 2, 2) is True
    assert exercises.check_output_size(48, 100, 5, 2, 2) is False


def test_neuron_and_conv_param_checks():
    from dip_helpers.solutions import nb02

    assert exercises.check_neuron(nb02.NEURON, x=[1.0, 3.0, 4.0], a=[2, -1, 0.5], a0=0.5) is True
    assert exercises.check_neuron(2.0, x=[1.0, 3.0, 4.0], a=[2, -1, 0.5], a0=0.5) is False
    assert exercises.check_conv_params(nb02.CONV_PARAMS, 3, 32, 128) is True
    assert exercises.check_conv_params(3 * 3 * 32 * 128, 3, 32, 128) is False


def test_tv_and_masked_gradient_checks():
    from dip_helpers.solutions import nb03

    assert exercises.check_tv(nb03.my_tv) is True
    assert exercises.check_tv(lambda x: nb03.my_tv(x) * 2) is False
    assert exercises.check_masked_grad(nb03.my_grad) is True
    assert exercises.check_masked_grad(lambda x, y, m: 2 * (x - y) / x.size) is False


def test_figure2_and_denoising_checks():
    from dip_helpers.solutions import nb04, nb05

    assert exercises.check_steps_to_reach(nb04.my_steps_to_reach) is True
    assert exercises.check_steps_to_reach(lambda l, v: int(np.argmax(l <= v))) is False  # 0-based, no None
    assert exercises.check_figure2_order(nb04.ORDER) is True
    assert exercises.check_figure2_order(nb04.ORDER[::-1]) is False
    assert exercises.check_ema(nb05.my_ema) is True
    assert exercises.check_ema(lambda f, d: np.mean(f, axis=0)) is False
    assert exercises.check_window_variance(nb05.my_variance) is True
    assert exercises.check_window_variance(lambda f: float(np.var(np.stack(f)))) is False


def test_super_resolution_checks():
    from dip_helpers.solutions import nb07

    assert exercises.check_rgb_to_y(nb07.my_rgb_to_y) is True
    assert exercises.check_rgb_to_y(lambda x: x.mean(-1)) is False
    assert exercises.check_lr_shape(nb07.LR_SHAPE, (512, 384), 8) is True
    assert exercises.check_lr_shape((64, 64), (512, 384), 8) is False


def test_inpainting_checks():
    from dip_helpers.solutions import nb06

    assert exercises.check_square_hole(nb06.my_square_hole) is True
    assert exercises.check_square_hole(lambda h, w, s: np.ones((h, w, 1))) is False
    assert exercises.check_missing_psnr(nb06.my_missing_psnr) is True
    assert exercises.check_missing_psnr(lambda x, y, m: exercises.psnr(x, y)) is False
