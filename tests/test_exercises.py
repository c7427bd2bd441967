"""The self-checks accept the worked solutions and reject wrong or missing answers."""

import numpy as np
import pytest

from dip_helpers import exercises
from course_tools.solutions import nb00


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
    from course_tools.solutions import nb01

    assert exercises.check_conv2d(nb01.my_conv2d) is True
    flipped = lambda x, k, p, s: nb01.my_conv2d(x, k[::-1, ::-1], p, s)  # a true convolution: wrong here
    assert exercises.check_conv2d(flipped) is False
    assert exercises.check_conv2d(lambda x, k, p, s: nb01.my_conv2d(x, k, 0, s)) is False  # forgets padding
    assert exercises.check_conv2d(lambda *a: None) is None


def test_output_size_check():
    from course_tools.solutions import nb01

    assert exercises.check_output_size(nb01.OUTPUT_SIZE, 100, 5, 2, 2) is True
    assert exercises.check_output_size(48, 100, 5, 2, 2) is False


def test_neuron_and_conv_param_checks():
    from course_tools.solutions import nb02

    assert exercises.check_neuron(nb02.NEURON, x=[1.0, 3.0, 4.0], a=[2, -1, 0.5], a0=0.5) is True
    assert exercises.check_neuron(2.0, x=[1.0, 3.0, 4.0], a=[2, -1, 0.5], a0=0.5) is False
    assert exercises.check_conv_params(nb02.CONV_PARAMS, 3, 32, 128) is True
    assert exercises.check_conv_params(3 * 3 * 32 * 128, 3, 32, 128) is False


def test_tv_and_masked_gradient_checks():
    from course_tools.solutions import nb03

    assert exercises.check_tv(nb03.my_tv) is True
    assert exercises.check_tv(lambda x: nb03.my_tv(x) * 2) is False
    assert exercises.check_masked_grad(nb03.my_grad) is True
    assert exercises.check_masked_grad(lambda x, y, m: 2 * (x - y) / x.size) is False


def test_figure2_and_denoising_checks():
    from course_tools.solutions import nb04, nb06

    assert exercises.check_steps_to_reach(nb04.my_steps_to_reach) is True
    assert exercises.check_steps_to_reach(lambda losses, v: int(np.argmax(losses <= v))) is False  # 0-based, no None
    assert exercises.check_figure2_order(nb04.ORDER) is True
    assert exercises.check_figure2_order(nb04.ORDER[::-1]) is False
    assert exercises.check_ema(nb06.my_ema) is True
    assert exercises.check_ema(lambda f, d: np.mean(f, axis=0)) is False
    assert exercises.check_window_variance(nb06.my_variance) is True
    assert exercises.check_window_variance(lambda f: float(np.var(np.stack(f)))) is False


def test_psnr_from_loss_check():
    from course_tools.solutions import nb05

    losses = np.array([0.02, 0.005, 0.001], np.float32)
    history = {"loss": losses, "psnr_measured": (10 * np.log10(1 / losses)).astype(np.float32)}
    assert exercises.check_psnr_from_loss(nb05.my_psnr_from_loss) is True
    assert exercises.check_psnr_from_loss(nb05.my_psnr_from_loss, history) is True
    assert exercises.check_psnr_from_loss(lambda loss: 10 * np.log10(loss)) is False  # the sign
    assert exercises.check_psnr_from_loss(lambda loss: 20 * np.log10(1 / loss)) is False  # an amplitude ratio
    assert exercises.check_psnr_from_loss(lambda loss: 10 * np.log(1 / loss)) is False  # the natural logarithm
    assert exercises.check_psnr_from_loss(lambda loss: float(np.mean(10 * np.log10(1 / loss)))) is False  # one number
    off = {"loss": losses, "psnr_measured": history["psnr_measured"] + 0.5}  # a curve it does not give
    assert exercises.check_psnr_from_loss(nb05.my_psnr_from_loss, off) is False
    assert exercises.check_psnr_from_loss(_todo) is None


def test_super_resolution_checks():
    from course_tools.solutions import nb08

    assert exercises.check_rgb_to_y(nb08.my_rgb_to_y) is True
    assert exercises.check_rgb_to_y(lambda x: x.mean(-1)) is False
    assert exercises.check_lr_shape(nb08.LR_SHAPE, (512, 384), 8) is True
    assert exercises.check_lr_shape((64, 64), (512, 384), 8) is False


def test_inpainting_checks():
    from course_tools.solutions import nb07

    assert exercises.check_square_hole(nb07.my_square_hole) is True
    assert exercises.check_square_hole(lambda h, w, s: np.ones((h, w, 1))) is False
    assert exercises.check_missing_psnr(nb07.my_missing_psnr) is True
    assert exercises.check_missing_psnr(lambda x, y, m: exercises.psnr(x, y)) is False


# --- near-misses a student makes, and the "not attempted" path of every checker ------------------------------------


def _todo(*args):
    raise NotImplementedError


def test_psnr_near_misses():
    assert exercises.check_psnr(lambda x, y: 10 * np.log10(255**2 / np.mean((x - y) ** 2))) is False  # 0-255 peak
    assert exercises.check_psnr(lambda x, y: 10 * np.log10(1 / np.sqrt(np.mean((x - y) ** 2)))) is False  # RMSE
    assert exercises.check_psnr(lambda x, y: 20 * np.log10(1 / np.mean((x - y) ** 2))) is False  # 20 instead of 10
    assert exercises.check_psnr(_todo) is None


def test_sigma_near_misses():
    assert exercises.check_sigma_for_psnr(nb00.SIGMA_30DB / 255, 30) is False  # on the [0, 1] scale
    assert exercises.check_sigma_for_psnr(255 * 10 ** (-30 / 10), 30) is False  # 10 log10 of an amplitude
    assert exercises.check_sigma_for_psnr(nb00.SIGMA_30DB * 1.02, 30) is False


def test_conv2d_near_misses():
    from course_tools.solutions import nb01

    assert exercises.check_conv2d(lambda x, k, p, s: nb01.my_conv2d(x, k, p, 1)) is False  # ignores the stride
    assert exercises.check_conv2d(lambda x, k, p, s: nb01.my_conv2d(x, k, p, s)[:-1]) is False  # one row short
    assert exercises.check_conv2d(_todo) is None


def test_output_size_near_misses():
    assert exercises.check_output_size((100 + 4 - 5) // 2, 100, 5, 2, 2) is False  # forgot the + 1
    assert exercises.check_output_size((100 - 5) // 2 + 1, 100, 5, 2, 2) is False  # forgot the padding
    assert exercises.check_output_size(None, 100, 5, 2, 2) is None


def test_neuron_and_conv_param_near_misses():
    kw = dict(x=[1.0, 3.0, 4.0], a=[-2, 1, -0.5])
    assert exercises.check_neuron(0.0, a0=0.5, **kw) is True  # relu(-0.5) = 0
    assert exercises.check_neuron(-0.5, a0=0.5, **kw) is False  # forgot the activation
    assert exercises.check_neuron(-1.0, a0=0.5, **kw) is False  # forgot the bias a0 (and the activation)
    assert exercises.check_neuron(None, a0=0.5, **kw) is None
    assert exercises.check_conv_params(3 * 3 * 32 * 128 + 32, 3, 32, 128) is False  # one bias per input channel
    assert exercises.check_conv_params(None, 3, 32, 128) is None


def test_tv_and_masked_gradient_near_misses():
    from course_tools.solutions import nb03

    anisotropic = lambda x: float(np.mean(np.abs(x[:-1, 1:] - x[:-1, :-1]) + np.abs(x[1:, :-1] - x[:-1, :-1])))
    squared = lambda x: float(np.mean((x[:-1, 1:] - x[:-1, :-1]) ** 2 + (x[1:, :-1] - x[:-1, :-1]) ** 2))
    summed = lambda x: nb03.my_tv(x) * (x.shape[0] - 1) * (x.shape[1] - 1) * x.shape[2]
    for wrong in (anisotropic, squared, summed):
        assert exercises.check_tv(wrong) is False
    assert exercises.check_tv(_todo) is None
    assert exercises.check_masked_grad(lambda x, y, m: 2 * m * (x - y) / (m.sum() * x.shape[-1])) is False  # N = known
    assert exercises.check_masked_grad(lambda x, y, m: m * (x - y) / x.size) is False  # forgot the 2
    assert exercises.check_masked_grad(_todo) is None


def test_figure2_and_denoising_near_misses():
    from course_tools.solutions import nb04

    def strict(losses, level):  # < instead of <=
        hits = np.flatnonzero(np.asarray(losses) < level)
        return int(hits[0]) + 1 if hits.size else None

    assert exercises.check_steps_to_reach(strict) is False
    assert (
        exercises.check_steps_to_reach(lambda losses, v: nb04.my_steps_to_reach(losses, v) or 0) is False
    )  # 0 for never
    assert (
        exercises.check_steps_to_reach(lambda losses, v: (nb04.my_steps_to_reach(losses, v) or 1) - 1) is False
    )  # off by one
    assert exercises.check_steps_to_reach(_todo) is None
    assert exercises.check_figure2_order(None) is None
    assert exercises.check_figure2_order(["image", "shuffled pixels", "image + noise", "white noise"]) is False
    curves = {
        "image": [0.1, 0.002],
        "image + noise": [0.1, 0.007],
        "shuffled pixels": [0.1, 0.03],
        "white noise": [0.1, 0.02],
    }  # a run where white noise ended below the shuffled pixels
    theirs = ["image", "image + noise", "white noise", "shuffled pixels"]
    assert exercises.check_figure2_order(theirs, curves) is True  # the student's own curves decide
    assert exercises.check_figure2_order(nb04.ORDER, curves) is False
    curves["white noise"] = [0.1, 0.05]
    assert exercises.check_figure2_order(nb04.ORDER, curves) is True

    def swapped(frames, decay):  # decay on the new frame instead of the average
        avg = frames[0]
        for f in frames[1:]:
            avg = (1 - decay) * avg + decay * f
        return avg

    def from_zero(frames, decay):
        avg = np.zeros_like(frames[0])
        for f in frames:
            avg = decay * avg + (1 - decay) * f
        return avg

    assert exercises.check_ema(swapped) is False and exercises.check_ema(from_zero) is False
    assert exercises.check_ema(_todo) is None
    per_channel = lambda f: np.mean(np.var(np.stack(f), axis=0), axis=(0, 1))  # one value per channel
    assert exercises.check_window_variance(per_channel) is False
    assert exercises.check_window_variance(lambda f: float(np.mean(np.var(np.stack(f), axis=0, ddof=1)))) is False
    assert exercises.check_window_variance(_todo) is None


def test_super_resolution_near_misses():
    from course_tools.solutions import nb08

    assert exercises.check_rgb_to_y(lambda x: nb08.my_rgb_to_y(x) - 16 / 255) is False  # forgot the offset
    assert exercises.check_rgb_to_y(lambda x: 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]) is False
    assert exercises.check_rgb_to_y(_todo) is None
    assert exercises.check_lr_shape((48, 64), (512, 384), 8) is False  # (W, H) instead of (H, W)
    assert exercises.check_lr_shape(None, (512, 384), 8) is None


def test_inpainting_near_misses():
    from course_tools.solutions import nb07

    assert exercises.check_square_hole(lambda h, w, s: np.roll(nb07.my_square_hole(h, w, s), 1, axis=0)) is False
    assert exercises.check_square_hole(lambda h, w, s: 1 - nb07.my_square_hole(h, w, s)) is False  # 1 = missing
    assert exercises.check_square_hole(lambda h, w, s: nb07.my_square_hole(h, w, s)[..., 0]) is False  # (h, w)
    assert exercises.check_square_hole(_todo) is None
    assert exercises.check_missing_psnr(lambda x, y, m: nb07.my_missing_psnr(x, y, 1 - m)) is False  # known pixels
    assert exercises.check_missing_psnr(_todo) is None


def test_dip_curve_check_and_its_near_misses():
    rng = np.random.default_rng(0)
    engine = 0.1 * np.exp(-np.arange(50) / 15) + 0.01
    drift = engine * (1 + np.r_[np.zeros(2), 0.05 * rng.standard_normal(48)])  # rounding, amplified after step 2
    assert exercises.check_dip_curve(drift, engine) is True
    assert exercises.check_dip_curve(engine * 3 * 64 * 64, engine) is False  # the sum instead of the mean
    slow = engine.copy()
    slow[1:] = engine[0] - 0.1 * (engine[0] - engine[1:])  # a learning rate ten times too small
    assert exercises.check_dip_curve(slow, engine) is False
    first_step_off = engine.copy()
    first_step_off[1] *= 1.05  # the first Adam step differs, even if the run ends in the same place
    assert exercises.check_dip_curve(first_step_off, engine) is False
    assert exercises.check_dip_curve(np.r_[engine[:2], engine[2:] * 1.5], engine) is False  # ends elsewhere
    assert exercises.check_dip_curve(engine[:-1], engine) is False  # a step short
    assert exercises.check_dip_curve(None, engine) is None


def test_every_open_exercise_has_a_model_answer():
    import importlib

    import nbformat

    from course_tools import nbtools

    for path in nbtools.notebook_paths():
        opened = [
            c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown" and "(open)" in c.source
        ]
        answers = getattr(importlib.import_module(f"course_tools.solutions.nb{path.name[:2]}"), "OPEN", "")
        assert not opened or len(answers) > 200, f"{path.name}: an open exercise without a model answer"


def test_the_model_edge_detector_answer_is_right():
    from scipy.signal import correlate2d

    kernel = np.array([[0, -1, -1], [1, 0, -1], [1, 1, 0]])
    from course_tools.solutions import nb01

    assert "[[ 0, -1, -1]" in nb01.OPEN
    assert np.abs(correlate2d(np.tri(8), kernel, mode="valid")).max() == 3
    assert np.abs(correlate2d(np.fliplr(np.tri(8)), kernel, mode="valid")).max() == 0


# --- the operator A, written by the student and put into the loss (07, 08) ----------------------------------------


@pytest.fixture(scope="module")
def small_image():
    return np.random.default_rng(3).random((32, 32, 3)).astype(np.float32)


def test_the_mask_and_its_loss_are_the_engines_and_the_near_misses_fail(small_image):
    import tensorflow as tf

    from course_tools.solutions import nb07
    from dip_helpers import Mask, random_mask

    mask = random_mask(small_image.shape, missing=0.5, seed=0)
    op, my_A = Mask(mask), nb07.mask_operator(mask)
    y = op.measure(small_image)
    assert exercises.check_operator(my_A, op, small_image) is True
    assert exercises.check_operator(lambda image: image * (1 - mask), op, small_image) is False  # mask inverted
    assert exercises.check_operator(_todo, op, small_image) is None
    assert exercises.check_operator_loss(nb07.dip_loss(my_A), op, y) is True
    no_a = lambda out, y: tf.reduce_mean(tf.square(out - y))
    summed = lambda out, y: tf.reduce_sum(tf.square(my_A(out) - y))
    assert exercises.check_operator_loss(no_a, op, y) is False
    assert exercises.check_operator_loss(summed, op, y) is False
    assert exercises.check_operator_loss(_todo, op, y) is None


def test_the_lanczos_downsampler_and_its_loss_are_the_engines_and_the_box_kernel_fails(small_image, capsys):
    from course_tools.solutions import nb07, nb08
    from dip_helpers import Downsampler
    from dip_helpers.engine.operators import box_kernel

    op = Downsampler(4)
    my_A = nb08.lanczos_downsampler(4)
    assert exercises.check_operator(my_A, op, small_image) is True
    capsys.readouterr()
    assert exercises.check_operator(nb08.lanczos_downsampler(4, box_kernel(4)), op, small_image) is False
    assert "box kernel" in capsys.readouterr().out
    y = op.measure(small_image)
    assert exercises.check_operator_loss(nb07.dip_loss(my_A), op, y) is True
    assert exercises.check_operator_loss(nb07.dip_loss(nb08.lanczos_downsampler(4, box_kernel(4))), op, y) is False


def test_a_loss_written_with_numpy_is_refused_with_the_reason(small_image, capsys):
    from course_tools.solutions import nb07
    from dip_helpers import Mask

    op = Mask(np.ones((32, 32, 1), np.float32))
    my_A = nb07.mask_operator(np.ones((32, 32, 1), np.float32))
    numpy_loss = lambda out, y: np.mean(np.square(np.asarray(my_A(out)) - np.asarray(y)))
    assert exercises.check_operator_loss(numpy_loss, op, op.measure(small_image)) is False
    assert "use TensorFlow operations, not NumPy" in capsys.readouterr().out
