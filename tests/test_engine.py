"""The DIP engine: skip network, operators, model, callbacks, cache, CLI, benchmark."""

import dataclasses
import io
import json
import os
import platform
import subprocess
import sys

import keras
import numpy as np
import pytest

import dip_helpers as dh
from dip_helpers.engine import callbacks as cb
from dip_helpers.engine import DIPConfig, DIPResult, build_dip, count_trainable, fit_dip, network_input, skip_network
from dip_helpers.engine.operators import (
    Downsampler,
    Identity,
    Mask,
    box_kernel,
    downsampling_matrix,
    gaussian_kernel,
    lanczos_kernel,
)
from dip_helpers.masks import random_mask, text_mask

from _backend import gradient
from _cli import run_cli

TINY = dict(channels=8, input_channels=8, skip_channels=2, scales=3, es_window=3, es_patience=4, snapshot_every=3)


# --- skip network ---------------------------------------------------------------------------------------------


def test_paper_denoising_network_has_2217831_parameters():
    net = skip_network()
    assert count_trainable(net) == 2_217_831
    out = net(np.zeros((1, 64, 96, 32), np.float32), training=True)
    assert out.shape == (1, 64, 96, 3)
    out = keras.ops.convert_to_numpy(out)
    assert 0 <= out.min() and out.max() <= 1  # sigmoid


def test_the_network_reads_like_the_paper():
    """Stock Keras layers: concatenation, batch norm, reflection padding, upsampling; one of each where expected."""
    net = skip_network()
    kinds = {}
    for layer in net.layers:
        kinds.setdefault(type(layer).__name__, []).append(layer.name)
    assert kinds["Concatenate"] == [f"concat{i}" for i in range(4, -1, -1)]
    assert len(kinds["BatchNormalization"]) == 5 * 6  # down_a, down_b, skip, concat, up_a, up_b at each scale
    assert len(kinds["UpSampling2D"]) == 5 and len(kinds["Conv2D"]) == 5 * 5 + 1
    assert set(kinds) <= {
        "InputLayer",
        "ReflectionPad",
        "Conv2D",
        "BatchNormalization",
        "LeakyReLU",
        "UpSampling2D",
        "Concatenate",
        "Activation",
    }
    assert net.get_layer("concat0").output.shape[-1] == 4 + 128


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = (skip_network(8, 3, (8, 8), (8, 8), (2, 2), seed=s) for s in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    kernel = lambda m: np.asarray(m.get_layer("down0_a").kernel)
    assert not np.array_equal(kernel(a), kernel(c))
    bound = 1 / np.sqrt(8 * 9)  # PyTorch's default: uniform in +-1/sqrt(fan_in)
    assert np.abs(kernel(a)).max() <= bound and np.abs(kernel(a)).max() > 0.9 * bound


def test_skip_network_knobs():
    base = skip_network(8, 1, (8, 8), (8, 8), (2, 2))
    no_skip = skip_network(8, 1, (8, 8), (8, 8), (0, 0))
    assert count_trainable(no_skip) < count_trainable(base)
    assert not any("concat" in layer.name and "bn" not in layer.name for layer in no_skip.layers)
    no_bn = skip_network(8, 1, (8, 8), (8, 8), (2, 2), batch_norm=False)
    assert not any("bn" in layer.name for layer in no_bn.layers) and count_trainable(no_bn) < count_trainable(base)
    net = skip_network(8, 3, (8, 8), (8, 8), (2, 2), sigmoid=False)
    assert net(np.zeros((1, 16, 20, 8), np.float32)).shape == (1, 16, 20, 3)
    with pytest.raises(ValueError, match="scales"):
        skip_network(8, 3, (8, 8), (8,), (2, 2))
    with pytest.raises(ValueError, match="pad"):
        skip_network(pad="circular")


@pytest.mark.parametrize("dtype", [None, "mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("pad,upsample,downsample", [("reflection", "bilinear", "stride"), ("zero", "nearest", "avg")])
def test_every_network_option_runs_forward_and_backward(pad, upsample, downsample, dtype):
    """Each padding, upsampling, downsampling and precision on this backend's kernels (CI runs TensorFlow with
    oneDNN on and off): the right shape, and a finite gradient that reaches the input."""
    net = skip_network(4, 3, (4, 4), (4, 4), (2, 2), pad=pad, upsample=upsample, downsample=downsample, dtype=dtype)
    x = np.random.default_rng(0).random((1, 16, 20, 4)).astype(np.float32)
    out = keras.ops.convert_to_numpy(net(x, training=True))
    assert out.shape == (1, 16, 20, 3) and np.isfinite(out).all()
    g = gradient(lambda t: keras.ops.sum(net(t, training=True)), x)
    assert np.isfinite(g).all() and np.abs(g).sum() > 0


def test_mixed_precision_keeps_a_float32_image(noisy_pair):
    x, y = noisy_pair
    net = skip_network(8, 3, (8, 8), (8, 8), (2, 2), dtype="mixed_bfloat16")
    assert count_trainable(net) == count_trainable(skip_network(8, 3, (8, 8), (8, 8), (2, 2)))
    assert keras.backend.standardize_dtype(net(np.zeros((1, 8, 8, 8), np.float32)).dtype) == "float32"
    res = fit_dip(y, None, DIPConfig(steps=4, precision="mixed_bfloat16", **TINY), truth=x, verbose=False)
    assert res.output.dtype == np.float32 and res.history["loss"][-1] < res.history["loss"][0]


def test_network_input():
    z = network_input(16, 24, 32, seed=1)
    assert z.shape == (1, 16, 24, 32) and z.dtype == np.float32 and 0 <= z.min() and z.max() < 0.1
    assert np.array_equal(z, network_input(16, 24, 32, seed=1)) and not np.array_equal(
        z, network_input(16, 24, 32, seed=2)
    )
    g = network_input(5, 7, 2, kind="meshgrid")
    assert g.shape == (1, 5, 7, 2) and g[0, 0, -1, 0] == 1 and g[0, -1, 0, 1] == 1
    with pytest.raises(ValueError):
        network_input(4, 4, 3, kind="meshgrid")


# --- operators ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_kernels_sum_to_one_and_are_symmetric(factor):
    for k in (lanczos_kernel(factor, 2), lanczos_kernel(factor, 3), gaussian_kernel(factor), box_kernel(factor)):
        assert k.sum() == pytest.approx(1.0) and np.allclose(k, k[::-1])
    assert len(lanczos_kernel(factor, 2)) == 4 * factor and len(lanczos_kernel(factor, 3)) == 6 * factor


@pytest.mark.parametrize("kernel", ["lanczos2", "lanczos3", "gauss", "box"])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_downsampler_keeps_constants_and_shapes(kernel, factor):
    d = Downsampler(factor, kernel)
    y = d.measure(np.full((64, 48, 3), 0.3, np.float32))
    assert y.shape == (64 // factor, 48 // factor, 3) and np.allclose(y, 0.3, atol=1e-6)
    assert d.output_shape((64, 48, 3)) == y.shape


@pytest.mark.parametrize("kernel", ["lanczos2", "lanczos3", "gauss", "box"])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_downsampler_matches_a_direct_2d_convolution(kernel, factor):
    """The 2-D kernel (outer product of the 1-D one) slid with stride ``factor`` over the image, its edges
    repeated by (taps - factor) / 2 pixels, in float64: what the operator computed as a strided convolution."""
    rng = np.random.default_rng(factor)
    x = rng.random((8 * factor, 6 * factor, 2))
    d = Downsampler(factor, kernel)
    k2 = np.outer(d.kernel, d.kernel)
    n = len(d.kernel)
    p = (n - factor) // 2
    xp = np.pad(x, [(p, p), (p, p), (0, 0)], mode="edge")
    ref = np.zeros((8, 6, 2))
    for i in range(8):
        for j in range(6):
            ref[i, j] = np.tensordot(
                k2, xp[factor * i : factor * i + n, factor * j : factor * j + n], axes=([0, 1], [0, 1])
            )
    assert np.abs(d.measure(x) - ref).max() < 1e-6


def test_downsampler_gradient_is_its_transpose():
    """The loss's gradient goes back through A^T: d<A(x), y>/dx = D_H^T y D_W, checked against the matrices."""
    rng = np.random.default_rng(0)
    d = Downsampler(4)
    x = rng.random((1, 32, 24, 3)).astype(np.float32)
    y = rng.random((1, 8, 6, 3)).astype(np.float32)
    g = gradient(lambda t: keras.ops.sum(d(t) * keras.ops.convert_to_tensor(y)), x)[0]
    dh_, dw = downsampling_matrix(32, d.kernel, 4), downsampling_matrix(24, d.kernel, 4)
    assert dh_.shape == (8, 32) and np.allclose(dh_.sum(1), 1, atol=1e-6)
    assert np.allclose(g, np.einsum("ih,ijc,jw->hwc", dh_, y[0], dw), atol=1e-6)


def test_lanczos2_taps_written_out():
    """Lanczos-2 for factor 2: sinc(t) sinc(t/2) at t = -1.75, -1.25, -0.75, -0.25 (low-resolution pixels,
    half a pixel off the centre) and their mirror images, normalised to sum 1.

    Worked out with math.sin from the formula, not read from the code under test.
    """
    taps = np.array([-0.00886333, -0.04194003, 0.11650009, 0.43430327])
    want = np.concatenate([taps, taps[::-1]])
    assert np.allclose(lanczos_kernel(2, 2), want, atol=1e-7)
    assert np.allclose(Downsampler(2).kernel, want, atol=1e-7)


@pytest.mark.parametrize("kernel", ["lanczos2", "lanczos3", "gauss", "box"])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_downsampler_samples_the_centre_of_each_block(kernel, factor):
    """A linear ramp comes out as the ramp at the block centres: low-res pixel i = f*i + (f - 1)/2."""
    h, w = 16 * factor, 8 * factor
    ramp = np.repeat(np.arange(h, dtype=np.float32)[:, None, None], w, axis=1)
    low = Downsampler(factor, kernel).measure(ramp)[..., 0]
    margin = {"lanczos2": 2, "lanczos3": 3, "gauss": 2, "box": 0}[kernel]  # pixels whose window reaches past the edge
    inner = slice(margin, h // factor - margin)
    i = np.arange(h // factor)[inner]
    assert np.allclose(low[inner, :], (factor * i + (factor - 1) / 2)[:, None], atol=1e-3)
    across = Downsampler(factor, kernel).measure(np.transpose(ramp, (1, 0, 2)))[..., 0]
    assert np.allclose(across[:, inner], (factor * i + (factor - 1) / 2)[None, :], atol=1e-3)


def test_operator_errors():
    with pytest.raises(ValueError, match="factor"):
        Downsampler(3)
    with pytest.raises(ValueError, match="kernel"):
        Downsampler(2, "bicubic")
    with pytest.raises(ValueError, match="multiple"):
        Downsampler(4).output_shape((30, 32, 3))
    with pytest.raises(ValueError, match="0 .missing. and 1"):
        Mask(np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="every pixel"):
        Mask(np.zeros((4, 4)))


def test_masked_pixels_carry_no_gradient():
    mask = random_mask((16, 16), 0.5, seed=0)
    op = Mask(mask)
    y = np.random.default_rng(1).random((1, 16, 16, 3)).astype(np.float32)
    x = np.random.default_rng(2).random((1, 16, 16, 3)).astype(np.float32)
    g = gradient(lambda t: keras.ops.mean(keras.ops.square(op(t) - op(keras.ops.convert_to_tensor(y)))), x)[0]
    missing = mask[..., 0] == 0
    assert np.all(g[missing] == 0) and np.all(np.abs(g[~missing]).sum(-1) > 0)
    assert np.allclose(g[~missing], 2 * (x[0] - y[0])[~missing] / x.size, atol=1e-7)  # computed by hand
    assert 0.4 < missing.mean() < 0.6
    t = text_mask((64, 128))
    assert t.shape == (64, 128, 1) and 0.01 < (t == 0).mean() < 0.5


def test_operators_describe_themselves():
    m = random_mask((8, 12), 0.5, seed=0)
    assert Identity().image_shape((5, 7, 3)) == (5, 7, 3) and Identity().config() == {"name": "identity"}
    assert Mask(m).image_shape((8, 12, 3)) == (8, 12, 3)
    with pytest.raises(ValueError, match="mask is"):
        Mask(m).image_shape((8, 10, 3))
    assert Mask(m).config() != Mask(1 - m).config() and Mask(m).config() == Mask(m.copy()).config()
    assert Downsampler(4).image_shape((6, 5, 1)) == (24, 20, 1)
    assert Downsampler(4).config() == {"name": "downsampler", "factor": 4, "kernel": "lanczos2"}


# --- the model and its callbacks --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_pair():
    x = dh.load_image("astronaut", size=(24, 40))
    return x, dh.add_gaussian_noise(x, 25, seed=0)


@pytest.fixture(scope="module")
def tiny_run(noisy_pair, tmp_path_factory):
    x, y = noisy_pair
    logdir = tmp_path_factory.mktemp("tb")
    hist = cb.History()
    res = fit_dip(y, Identity(), DIPConfig(steps=9, **TINY), truth=x, log_dir=logdir, callbacks=[hist], verbose=False)
    return res, logdir, hist


def test_fit_runs_any_size_and_logs_every_metric(tiny_run, noisy_pair):
    res, _, _ = tiny_run
    x, _ = noisy_pair
    assert res.output.shape == x.shape == res.average.shape  # 24x40 is no multiple of 2**3: padded inside
    h = res.history
    for key in ("loss", "psnr_measured", "psnr_truth", "psnr_ema"):
        assert len(h[key]) == 9 and np.all(np.isfinite(h[key]))
    assert h["loss"][-1] < h["loss"][0]
    assert h["psnr_truth"][-1] == pytest.approx(dh.psnr(x, res.output), abs=0.05)
    assert sorted(res.snapshots) == [1, 3, 6, 9]
    assert np.allclose(res.snapshots[9], res.output)
    assert res.best_step == int(np.argmax(h["psnr_truth"])) + 1
    assert dh.psnr(x, res.best_output) == pytest.approx(h["psnr_truth"].max(), abs=0.05)


def test_history_csv(tiny_run, tmp_path):
    _, _, hist = tiny_run
    rows = hist.to_csv(tmp_path / "m.csv").read_text().splitlines()
    assert rows[0].split(",")[0] == "step" and "psnr_truth" in rows[0] and len(rows) == 10


def test_tensorboard_events_read_back(tiny_run):
    res, logdir, _ = tiny_run
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    assert {"loss", "psnr_truth", "output", "average"} <= set(acc.Tags()["tensors"])
    for key in ("loss", "psnr_measured", "psnr_truth", "psnr_ema"):
        events = acc.Tensors(key)
        assert [e.step for e in events] == list(range(1, 10))
        assert np.allclose([make_ndarray(e.tensor_proto).item() for e in events], res.history[key], rtol=1e-6)
    images = {e.step: e for e in acc.Tensors("output")}
    assert sorted(images) == sorted(res.snapshots)  # an image every snapshot step
    for step, event in images.items():
        png = make_ndarray(event.tensor_proto)[2]  # width, height, then the encoded image
        logged = np.asarray(Image.open(io.BytesIO(png)), np.float64) / 255.0
        # TensorFlow quantises to floor(255.5 v): within 1.5/255 of the snapshot, no more
        assert np.abs(logged - res.snapshots[step]).max() <= 1.5 / 255, step


@pytest.mark.parametrize("kind", ["tensorflow", "tensorboardX"])
def test_event_writer_values_read_back(tmp_path, kind):
    """Both writers (TensorFlow's, and tensorboardX where TensorFlow is missing) write what TensorBoard reads."""
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    from dip_helpers.engine.tensorboard import EventWriter

    image = np.linspace(0, 1, 4 * 5 * 3).reshape(4, 5, 3)
    writer = EventWriter(tmp_path, kind)
    for step in (1, 2, 3):
        writer.scalar("loss", 0.5 / step, step)
    writer.image("output", image, 2)
    writer.close()
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    if kind == "tensorflow":  # TensorFlow 2 writes tensors
        values = [(e.step, make_ndarray(e.tensor_proto).item()) for e in acc.Tensors("loss")]
        step, png = acc.Tensors("output")[0].step, make_ndarray(acc.Tensors("output")[0].tensor_proto)[2]
    else:  # tensorboardX writes scalars and images
        values = [(e.step, e.value) for e in acc.Scalars("loss")]
        step, png = acc.Images("output")[0].step, acc.Images("output")[0].encoded_image_string
    assert [s for s, _ in values] == [1, 2, 3] and np.allclose([v for _, v in values], [0.5, 0.25, 0.5 / 3])
    logged = np.asarray(Image.open(io.BytesIO(png)), np.float64) / 255
    assert step == 2 and logged.shape == (4, 5, 3) and np.abs(logged - image).max() <= 1.5 / 255


def test_same_seed_same_numbers(noisy_pair, tiny_run):
    x, y = noisy_pair
    again = fit_dip(y, Identity(), DIPConfig(steps=9, **TINY), truth=x, verbose=False)
    assert np.array_equal(again.history["loss"], tiny_run[0].history["loss"])
    assert np.array_equal(again.output, tiny_run[0].output)


def test_cache_returns_the_saved_run(noisy_pair, tmp_path, capsys):
    x, y = noisy_pair
    cfg = DIPConfig(steps=3, **TINY)
    first = fit_dip(y, None, cfg, truth=x, cache_dir=tmp_path, verbose=False)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    second = fit_dip(y, None, cfg, truth=x, cache_dir=tmp_path)
    assert "cache" in capsys.readouterr().out
    assert np.array_equal(first.output, second.output) and second.seconds == first.seconds
    assert np.array_equal(first.history["psnr_truth"], second.history["psnr_truth"])
    forced = fit_dip(y, None, cfg, truth=x, cache_dir=tmp_path, force=True, verbose=False)
    assert forced.seconds != first.seconds


def test_the_cache_folder_can_come_from_dip_cache(noisy_pair, tmp_path, monkeypatch, capsys):
    x, y = noisy_pair
    cfg = DIPConfig(steps=2, **TINY)
    monkeypatch.setenv("DIP_CACHE", str(tmp_path / "class"))
    first = fit_dip(y, None, cfg, truth=x, verbose=False)
    assert len(list((tmp_path / "class").glob("*.npz"))) == 1
    fit_dip(y, None, cfg, truth=x)
    assert "Loaded a finished run from the cache" in capsys.readouterr().out
    monkeypatch.setenv("DIP_CACHE", "")
    again = fit_dip(y, None, cfg, truth=x, verbose=False)
    assert again.seconds != first.seconds  # no cache: run afresh


def test_a_cache_that_cannot_be_written_costs_nothing_but_a_message(noisy_pair, tmp_path, capsys):
    x, y = noisy_pair
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    result = fit_dip(y, None, DIPConfig(steps=2, **TINY), truth=x, cache_dir=blocker / "cache", verbose=False)
    assert result.output.shape == y.shape and "Could not save the run in the cache" in capsys.readouterr().out


def test_one_downsampler_serves_runs_in_every_precision_and_compiled(noisy_pair):
    """The same operator object in several compiled steps (mixed precision traces its own; XLA too on TensorFlow):
    nothing it keeps between calls may belong to one of them."""
    x, _ = noisy_pair
    low = Downsampler(2).measure(x)
    d = Downsampler(2)  # first called inside a compiled step
    runs = [dict(precision="float32"), dict(precision="mixed_bfloat16"), dict(precision="mixed_float16")]
    if keras.backend.backend() == "tensorflow":
        runs.append(dict(jit_compile=True))
    for extra in runs:
        r = fit_dip(low, d, DIPConfig(steps=2, **TINY, **extra), truth=x, verbose=False)
        assert r.output.shape == x.shape and np.isfinite(r.history["loss"]).all(), extra


def test_superres_and_inpainting_improve_on_their_input():
    x = dh.load_image("astronaut", size=48)
    cfg = DIPConfig(
        steps=200,
        channels=16,
        input_channels=8,
        skip_channels=4,
        scales=3,
        reg_noise_std=0.0,
        es_window=3,
        es_patience=4,
        snapshot_every=50,
    )
    d = Downsampler(2)
    low = d.measure(x)
    sr = fit_dip(low, d, cfg, truth=x, verbose=False)
    assert sr.output.shape == x.shape
    assert dh.psnr(low, d.measure(sr.output)) > 30  # consistent with the measurement
    assert dh.psnr(x, sr.output) > dh.psnr(x, dh.classical.upscale(low, 2, "nearest")) + 1  # 21.4 against 19.1 dB
    m = random_mask(x.shape, 0.5, seed=0)
    holes = Mask(m).measure(x)
    inp = fit_dip(holes, Mask(m), cfg, truth=x, verbose=False)
    assert dh.psnr(x, inp.output) > dh.psnr(x, holes) + 10
    missing = m[..., 0] == 0
    assert dh.psnr(x[missing], inp.output[missing]) > dh.psnr(x[missing], holes[missing]) + 10  # the holes filled


def test_build_dip_shape_errors(noisy_pair):
    x, y = noisy_pair
    d = Downsampler(4)
    assert build_dip(d.measure(x), d, DIPConfig(steps=1, **TINY), truth=x).generate().shape == x.shape
    with pytest.raises(ValueError, match="ground truth"):
        build_dip(d.measure(x), d, DIPConfig(**TINY), truth=x[:8])
    with pytest.raises(ValueError, match=r"\(H, W, 1\) or \(H, W, 3\)"):
        build_dip(y[..., :2], None, DIPConfig(**TINY))
    with pytest.raises(ValueError, match=r"\(H, W, 1\) or \(H, W, 3\)"):
        build_dip(y[..., 0], None, DIPConfig(**TINY))
    with pytest.raises(ValueError, match="mask is"):
        build_dip(y, Mask(np.ones((8, 8))), DIPConfig(**TINY))


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("steps", 0, "steps must be at least 1"),
        ("lr", 0, "lr must lie in"),
        ("lr", 1.5, "lr must lie in"),
        ("reg_noise_std", -0.1, "reg_noise_std must lie in"),
        ("channels", 0, "channels must lie in"),
        ("input_channels", 2000, "channels must lie in"),
        ("skip_channels", -1, "skip_channels must lie in"),
        ("scales", 9, "scales must lie in"),
        ("ema", 1.0, "ema must lie in"),
        ("es_window", 1, "es_window must be"),
        ("es_patience", 0, "es_patience >= 1"),
        ("snapshot_every", 0, "snapshot_every must be"),
        ("precision", "float64", "precision must be"),
    ],
)
def test_every_config_check_has_its_message(field, value, words):
    assert DIPConfig().validate() == DIPConfig()
    with pytest.raises(ValueError, match=words):
        DIPConfig(**{field: value}).validate()


class _FakeModel:
    """Just enough of a DIP model for callbacks: an output and a network with weights."""

    def __init__(self, shape=(4, 4, 1)):
        self.output = np.zeros(shape, np.float32)
        self.truth_image = None
        self.stop_training = False
        self.net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    def current_output(self):
        return self.output.copy()


def _drive(callback, model, outputs, logs=None):
    callback.set_model(model)
    for i, out in enumerate(outputs):
        model.output = np.full(model.output.shape, out, np.float32)
        callback.on_train_batch_end(i, dict(logs[i]) if logs else {})
        if model.stop_training:
            return i + 1
    return len(outputs)


def test_output_average_is_an_ema():
    avg = cb.OutputAverage(0.5)
    _drive(avg, _FakeModel(), [1.0, 3.0, 5.0])
    assert np.allclose(avg.image(), 0.5 * (0.5 * 1 + 0.5 * 3) + 0.5 * 5)


def test_es_wmv_picks_the_calmest_window_and_stops():
    # steps 21-25 are constant: exactly one window of 5 (ending at step 25) has zero variance
    seq = list(np.random.default_rng(0).normal(0, 1, 20)) + [0.1] * 5 + list(np.random.default_rng(1).normal(0, 1, 40))
    es = cb.EarlyStoppingWMV(window=5, patience=25, stop=True)
    logs = [{"psnr_truth": 30.0 - abs(i - 25)} for i in range(len(seq))]  # true peak: step 26
    ran = _drive(es, _FakeModel(), seq, logs)
    assert es.best_step == 25
    assert ran == 50  # stopped `patience` = 25 steps after the last new minimum
    assert np.allclose(es.best_image, 0.1)
    assert es.gap_db == pytest.approx(1.0)  # 30 dB at step 26 against 29 dB at step 25
    assert np.isnan(es.variances[:4]).all() and es.variances[24] < 1e-12 < min(es.variances[4:24])


def _weights_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _guard_step(guard, logs):
    guard.on_train_batch_begin(guard._step)
    guard.on_train_batch_end(guard._step, logs)


def test_divergence_guard_restores_and_says_so(capsys):
    model = _FakeModel()
    guard = cb.DivergenceGuard(drop_db=5, every=1)
    guard.set_model(model)
    good = [w.copy() for w in model.net.get_weights()]
    _guard_step(guard, {"loss": 0.1, "psnr_measured": 20.0})  # these weights gave 20 dB: a checkpoint
    model.net.set_weights([w + 1 for w in good])  # the update that blows up
    _guard_step(guard, {"loss": float("nan"), "psnr_measured": float("nan")})
    assert _weights_equal(model.net.get_weights(), good)
    model.net.set_weights([w - 2 for w in good])  # an update that loses 8 dB
    _guard_step(guard, {"loss": 0.5, "psnr_measured": 12.0})
    assert _weights_equal(model.net.get_weights(), good)  # restored again, not just reported
    assert len(guard.events) == 2 and "restored the weights of step 1" in guard.events[1] and "12.00" in guard.events[1]
    assert "DivergenceGuard" in capsys.readouterr().out


def test_divergence_guard_without_a_checkpoint_changes_nothing():
    model = _FakeModel()
    guard = cb.DivergenceGuard(every=1)
    guard.set_model(model)
    before = [w + 1 for w in model.net.get_weights()]
    model.net.set_weights(before)
    _guard_step(guard, {"loss": float("inf"), "psnr_measured": 3.0})
    assert guard.events == ["step 1: the loss is not finite, and no checkpoint exists yet"]
    assert guard.saved is None and _weights_equal(model.net.get_weights(), before)


def test_divergence_guard_saves_every_n_steps():
    model, guard = _FakeModel(), cb.DivergenceGuard(every=3)
    guard.set_model(model)
    states = {}
    for step in range(1, 7):  # checkpoints of the weights that steps 1 and 4 start from
        model.net.set_weights([np.full_like(w, step) for w in model.net.get_weights()])
        states[step] = model.net.get_weights()
        _guard_step(guard, {"loss": 0.1, "psnr_measured": 20.0})
    assert guard.saved_step == 4
    _guard_step(guard, {"loss": float("nan"), "psnr_measured": 20.0})
    assert _weights_equal(model.net.get_weights(), states[4]) and "step 4" in guard.events[-1]


class _Poison(keras.callbacks.Callback):
    """Writes ``value`` (NaN by default) into the network's first kernel after step ``at``, as a blow-up would."""

    def __init__(self, at, value=np.nan):
        super().__init__()
        self.at, self.value, self.step = at, value, 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step == self.at:
            self.model.sync_variables()
            v = self.model.net.trainable_variables[0]
            v.assign(np.full(v.shape, self.value, np.float32))


def test_the_divergence_guard_can_be_turned_off_and_the_cache_tells_the_runs_apart(noisy_pair, tmp_path):
    from dip_helpers.engine.fit import cache_path

    x, y = noisy_pair
    cfg = DIPConfig(steps=8, reg_noise_std=0.0, divergence_guard=False, **TINY)
    res = fit_dip(y, None, cfg, truth=x, callbacks=[_Poison(5)], verbose=False)
    assert res.notes == [] and not np.isfinite(res.history["loss"][5:]).any()  # nothing undid the blow-up
    on = dataclasses.replace(cfg, divergence_guard=True)
    assert cache_path(tmp_path, cfg, y, Identity(), x) != cache_path(tmp_path, on, y, Identity(), x)


def test_divergence_guard_rescues_a_real_run(noisy_pair):
    x, y = noisy_pair
    res = fit_dip(
        y, None, DIPConfig(steps=12, reg_noise_std=0.0, **TINY), truth=x, callbacks=[_Poison(5)], verbose=False
    )
    assert res.notes == [
        "step 6: the loss is not finite; restored the weights of step 1 and halved the learning rate to 0.005"
    ], res.notes
    h = res.history["loss"]
    assert not np.isfinite(h[5]) and np.isfinite(h[6:]).all()  # step 6 saw the NaN; the run goes on from step 7
    assert h[6] == pytest.approx(h[0], rel=1e-5)  # step 7 starts again from the weights step 1 started from
    assert abs(h[7] - h[1]) > 1e-4 * h[1]  # but not with the same step: the learning rate is halved, no replay
    assert np.isfinite(res.output).all()


def test_divergence_guard_undoes_a_psnr_drop_on_a_real_run(noisy_pair):
    x, y = noisy_pair
    cfg = DIPConfig(steps=30, reg_noise_std=0.0, **TINY)
    res = fit_dip(y, None, cfg, truth=x, callbacks=[_Poison(20, value=0.3)], verbose=False)
    h = res.history["psnr_measured"]
    assert h[20] < h[19] - 5  # step 21 sees the damage
    assert len(res.notes) == 1 and res.notes[0].startswith("step 21: PSNR to the measurement fell from")
    assert "restored the weights of step 11" in res.notes[0]
    assert h[21] == pytest.approx(h[10], abs=1e-4)  # step 22 starts from the weights step 11 started from
    assert h[-1] > h[10]


def test_live_view_prints_progress_outside_notebooks(capsys):
    from dip_helpers.live import LiveView, in_notebook

    assert not in_notebook()
    view = LiveView(every=2, total=4)
    view.set_model(_FakeModel())
    view.on_train_begin()
    for i in range(4):
        view.on_train_batch_end(i, {"loss": 0.1, "psnr_truth": 20.0 + i})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("step 4/4") and "psnr_truth 23.00" in lines[-1]


def test_live_view_redraws_in_place_in_a_kernel(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import numpy as np\nfrom dip_helpers import DIPConfig, fit_dip\n"
                "y = np.full((16, 16, 3), 0.5, np.float32)\n"
                "r = fit_dip(y, config=DIPConfig(steps=6, channels=4, input_channels=4, skip_channels=1, scales=2, "
                "es_window=2, es_patience=2), live=2)"
            )
        ]
    )
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(figures) == 1  # one figure, updated in place (nbclient applies the updates to it)
    assert not any(o.output_type == "stream" and "step" in o.get("text", "") for o in outputs)

    quiet = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(nb.cells[0].source.replace("live=2", "verbose=True"))]
    )
    NotebookClient(quiet, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    lines = [o for o in quiet.cells[0].outputs if "step" in o.get("data", {}).get("text/plain", "")]
    assert len(lines) == 1 and lines[0].data["text/plain"].startswith("step 6/6")  # one line, updated


def test_the_engine_shows_a_plain_progress_line_and_dh_adds_the_live_view(capsys, monkeypatch):
    import dip_helpers as dh
    from dip_helpers.engine import fit

    y = np.full((16, 16, 3), 0.5, np.float32)
    cfg = DIPConfig(steps=4, channels=4, input_channels=4, skip_channels=1, scales=2)
    fit.fit_dip(y, config=cfg)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" |")[0] for line in lines] == ["step 1/4", "step 2/4", "step 3/4", "step 4/4"]
    seen = []
    monkeypatch.setattr(fit, "fit_dip", lambda *args, **kwargs: seen.append(kwargs["progress"]))
    dh.fit_dip(y, config=cfg, live=2)
    assert type(seen[0]).__name__ == "LiveView" and seen[0].every == 2
    assert seen[0].text_only and not seen[0].notebook  # outside a notebook: the plain line


def test_the_authors_argument_names_still_work_for_one_release():
    new = skip_network(8, 3, (8, 8), (8, 8), skip_channels=(2, 2), sigmoid=False, bias=False, seed=1)
    with pytest.warns(DeprecationWarning, match="is now skip_channels"):
        old = skip_network(8, 3, (8, 8), (8, 8), channels_skip=(2, 2), need_sigmoid=False, need_bias=False, seed=1)
    z = network_input(16, 16, 8)
    assert np.array_equal(keras.ops.convert_to_numpy(new(z)), keras.ops.convert_to_numpy(old(z)))
    assert "sigmoid" not in [layer.name for layer in old.layers] and count_trainable(old) == count_trainable(new)
    with pytest.raises(TypeError, match="need_batch_norm"):
        skip_network(need_batch_norm=False)


def test_result_save_load_round_trip(tiny_run, tmp_path):
    res = tiny_run[0]
    back = DIPResult.load(res.save(tmp_path / "r.npz"))
    assert np.array_equal(back.output, res.output) and sorted(back.snapshots) == sorted(res.snapshots)
    assert back.best_step == res.best_step and np.array_equal(back.best_output, res.best_output)
    assert back.summary() == res.summary()


def test_ctrl_c_inside_a_garbage_collector_callback_still_stops_the_run():
    """Python swallows an exception raised in a gc callback (JAX, which Keras imports, registers one), so a Ctrl-C that
    lands there used to be lost; :class:`CtrlC` keeps it as a flag and stops the run at the end of the step."""
    import gc
    import os
    import signal

    def press_ctrl_c(phase, info):
        if phase == "start":
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # Python runs the handler here, inside the callback

    stopper = cb.CtrlC()
    gc.callbacks.append(press_ctrl_c)
    try:
        with stopper.listening():
            gc.collect()  # no KeyboardInterrupt escapes a gc callback: the flag is what remains
            assert stopper.pressed
            with pytest.raises(KeyboardInterrupt):
                stopper.on_train_batch_end(0)
    finally:
        gc.callbacks.remove(press_ctrl_c)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back
    second = cb.CtrlC()
    with second.listening():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C interrupts at once
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))


# --- command line ---------------------------------------------------------------------------------------------


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "dip_helpers", *args],
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )


def test_cli_denoise_writes_everything(tmp_path):
    out = tmp_path / "run"
    done = _cli("denoise", "astronaut", "--profile", "ci", "--steps", "12", "--size", "32", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("psnr_input", "psnr_last", "psnr_ema_last", "psnr_peak", "peak_step", "es_step", "seconds"):
        assert key in summary
    assert 19 < summary["psnr_input"] < 22
    for name in ("result.png", "average.png", "input.png", "metrics.csv", "psnr.png", "summary.json"):
        assert (out / name).is_file()
    assert any((out / "tb").iterdir())
    assert len((out / "metrics.csv").read_text().splitlines()) == 13


def test_cli_bad_arguments_leave_nothing(tmp_path):
    for args, words in [
        (("denoise", "nope", "--out", str(tmp_path / "a")), "No image"),
        (("denoise", "astronaut", "--sigma", "-3", "--out", str(tmp_path / "a")), "0-255"),
        (("denoise", "astronaut", "--lr", "7", "--out", str(tmp_path / "a")), "lr"),
        (("superres", "astronaut", "--factor", "3", "--out", str(tmp_path / "a")), "invalid choice"),
    ]:
        done = _cli(*args)
        assert done.returncode != 0 and words in done.stderr, (args, done.stderr)
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    done = _cli("denoise", "astronaut", "--out", str(tmp_path / "full"))
    assert done.returncode == 2 and "--overwrite" in done.stderr and (tmp_path / "full" / "keep.txt").exists()


def test_conv_flops_counted_by_hand():
    from dip_helpers.engine.bench import conv_flops, conv_flops_by_part

    net, size, forward, first = skip_network(), 256, 0.0, 0.0
    for i in range(5):
        r, cin = size // 2**i, 32 if i == 0 else 128
        level = [
            2 * (r // 2) ** 2 * 128 * cin * 9,
            2 * (r // 2) ** 2 * 128 * 128 * 9,  # down_a, down_b
            2 * r * r * 4 * cin,  # skip 1x1
            2 * r * r * 128 * (4 + 128) * 9,
            2 * r * r * 128 * 128,
        ]  # up_a (over the concatenation), up_b 1x1
        forward += sum(level)
        first += level[0] + level[2] if i == 0 else 0  # they read z: no gradient to their input
    forward += 2 * size * size * 3 * 128  # to_image
    assert conv_flops(net, size, size) == pytest.approx(forward, rel=1e-12)
    assert conv_flops(net, size, size, training=True) == pytest.approx(3 * forward - first, rel=1e-12)
    assert 115.0e9 < conv_flops(net, size, size, training=True) < 115.1e9
    parts = conv_flops_by_part(net, size, size)
    assert parts["forward"] == parts["kernel gradient"] == pytest.approx(forward, rel=1e-12)
    assert parts["input gradient"] == pytest.approx(forward - first, rel=1e-12)


def test_bench_json_line():
    done = _cli("bench", "--size", "32", "--channels", "8", "--steps", "1", "--sure", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout.strip().splitlines()[-1])
    # SURE runs a second fit of the same size first: about twice the time (one round at one step: one ratio)
    assert 1.2 < r["sure_cost_ratio"] < 4
    assert r["sure_cost_ratio"] == pytest.approx(r["sure_fit_ms_per_step"] / r["fit_ms_per_step"], rel=0.02)
    for key in (
        "ms_per_step",
        "gflop_per_step",
        "gflops",
        "matmul_gflops",
        "fraction_of_matmul",
        "conv_gflops",
        "fraction_of_conv",
        "peak_memory_mb",
        "params",
        "device",
        "cpu",
        "cpu_features",
        "onednn",
    ):
        assert key in r
    assert r["params"] == count_trainable(skip_network(32, 3, (8,) * 5, (8,) * 5, (4,) * 5)) and r["ms_per_step"] > 0
    # medians of per-round ratios, close to the ratio of the medians
    assert r["fraction_of_matmul"] == pytest.approx(r["gflops"] / r["matmul_gflops"], rel=0.5)
    assert r["fraction_of_conv"] == pytest.approx(r["gflops"] / r["conv_gflops"], rel=0.5)
    assert (r["onednn"] is None) == (keras.backend.backend() != "tensorflow")
    assert _cli("bench", "--size", "0").returncode == 2


def test_the_matrix_product_that_sets_the_limit():
    """NumPy's product on a CPU; the backend's on a device (the GPU path, tried here on the CPU): the same numbers."""
    from dip_helpers.engine.bench import matmul_step

    rng = np.random.default_rng(1)
    a, b = rng.random((64, 64), np.float32), rng.random((64, 64), np.float32)
    host, flop = matmul_step(64, on_device=False)
    assert flop == 2 * 64**3 and np.allclose(host(), a @ b)
    device, _ = matmul_step(64, on_device=True)
    assert float(keras.ops.convert_to_numpy(device())) == pytest.approx(float((a @ b)[0, 0]), rel=1e-3)


def test_machine_names_the_cpu_and_asks_tensorflow_for_its_kernels():
    """The vector extensions as /proc/cpuinfo lists them (on Linux), and oneDNN as TensorFlow reports it under each
    setting: off with 0 everywhere, on with 1 where TensorFlow is built with it (Linux on x86-64)."""
    linux = sys.platform.startswith("linux")
    flags = set()
    if linux:
        with open("/proc/cpuinfo") as f:
            flags = {w for line in f if line.startswith(("flags", "Features")) for w in line.split(":", 1)[1].split()}
    for setting in ("0", "1"):
        done = _cli("machine", "--json", env={"TF_ENABLE_ONEDNN_OPTS": setting})
        assert done.returncode == 0, done.stderr
        m = json.loads(done.stdout.strip().splitlines()[-1])
        assert m["onednn_chosen_by"] == f"TF_ENABLE_ONEDNN_OPTS={setting}" and isinstance(m["onednn"], bool)
        if setting == "0" or (linux and platform.machine() == "x86_64"):
            assert m["onednn"] is (setting == "1")
        if not linux:
            continue
        assert ("AVX2" in m["cpu_features"]) == ("avx2" in flags)
        assert ("AVX-512" in m["cpu_features"]) == ("avx512f" in flags)
        assert ("AVX-VNNI" in m["cpu_features"]) == ("avx_vnni" in flags)
        assert ("NEON" in m["cpu_features"]) == bool({"asimd", "neon"} & flags)
        assert m["cores"] >= 1 and m["cpu"]


def test_device_says_where_the_engine_computes():
    from dip_helpers import profiles

    done = _cli("device", "--json")
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout.strip().splitlines()[-1])
    assert d["backend"] == keras.backend.backend() and d["kind"] == ("GPU" if profiles.gpu_available() else "CPU")
    assert d["name"] and d["peak_mb"] > 0 and (d["free_gb"] is None or d["free_gb"] > 0)


# --- result cache ---------------------------------------------------------------------------------------------


def test_cache_hits_the_same_inputs_and_misses_any_change(noisy_pair, tmp_path, capsys):
    x, y = noisy_pair
    cfg = DIPConfig(steps=2, **TINY)
    m = random_mask(x.shape, 0.5, seed=0)

    def run(measurement=y, operator=None, config=cfg, truth=x):
        fit_dip(measurement, operator, config, truth=truth, cache_dir=tmp_path, verbose=True)
        said = capsys.readouterr().out
        return "from the cache" in said, len(list(tmp_path.glob("*.npz")))

    assert run() == (False, 1)
    assert run() == (True, 1)  # same inputs: loaded
    changes = [
        dict(config=DIPConfig(steps=2, lr=0.02, **TINY)),
        dict(config=DIPConfig(steps=2, seed=1, **TINY)),
        dict(truth=np.clip(x + 0.01, 0, 1)),
        dict(measurement=Mask(m).measure(x), operator=Mask(m)),
        dict(measurement=Mask(m).measure(x), operator=Mask(1 - m)),
    ]
    for i, change in enumerate(changes):
        assert run(**change) == (False, i + 2), change  # each change: a new run, a new file
    small = Downsampler(2).measure(x)
    assert run(small, Downsampler(2), truth=None) == (False, 7)
    assert run(small, Downsampler(2, "box"), truth=None) == (False, 8)  # another kernel
    assert run(small, Downsampler(4), truth=None) == (False, 9)  # the same measurement, another factor
    assert run(small, Downsampler(2), truth=None) == (True, 9)


# --- command line, in this process ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--steps", "0", "steps must be at least 1"),
        ("--lr", "0", "lr must lie in"),
        ("--channels", "0", "channels must lie in"),
    ],
)
def test_cli_zero_is_an_error_not_the_default(tmp_path, capsys, option, value, words):
    out = str(tmp_path / "r")
    code, _, err = run_cli(capsys, "denoise", "astronaut", "--profile", "ci", option, value, "--out", out)
    assert code == 2 and words in err and not (tmp_path / "r").exists()


def test_cli_inpaint_with_random_text_and_file_masks(tmp_path, capsys):
    mask_file = tmp_path / "mask.png"
    hole = np.ones((50, 70, 1), np.float32)
    hole[10:30, 20:40] = 0
    dh.save_image(hole, mask_file)
    grey = tmp_path / "grey.png"  # no black pixel of its own: every black input pixel is a hole
    dh.save_image(np.full((50, 70, 3), 0.6, np.float32), grey)
    for name, mask in (("random", "random:0.3"), ("text", "text"), ("file", str(mask_file))):
        out = tmp_path / name
        code, said, err = run_cli(
            capsys,
            "inpaint",
            str(grey),
            "--profile",
            "ci",
            "--steps",
            "3",
            "--size",
            "32",
            "--mask",
            mask,
            "--out",
            str(out),
        )
        assert code == 0, err
        summary = json.loads(said.strip().splitlines()[-1])
        missing = (dh.load_image(out / "input.png") == 0).all(-1).mean()
        if name == "random":
            assert 0.2 < missing < 0.4
        elif name == "file":  # the 50x70 mask is centre-cropped to 50x50 with the 50x70 image, then resized
            assert missing == pytest.approx(20 * 20 / (50 * 50), abs=0.02)
        else:
            assert 0.01 < missing < 0.5
        assert summary["task"] == "inpaint" and summary["steps"] == 3 and (out / "result.png").is_file()


def test_cli_superres_with_and_without_an_original(tmp_path, capsys):
    code, said, err = run_cli(
        capsys,
        "superres",
        "camera",
        "--profile",
        "ci",
        "--steps",
        "3",
        "--size",
        "32",
        "--factor",
        "4",
        "--out",
        str(tmp_path / "sim"),
    )
    assert code == 0, err
    s = json.loads(said.strip().splitlines()[-1])
    assert s["psnr_input"] is not None and s["psnr_last"] is not None  # the original is known
    assert dh.load_image(tmp_path / "sim" / "input.png").shape[:2] == (8, 8)
    assert dh.load_image(tmp_path / "sim" / "result.png").shape[:2] == (32, 32)
    code, said, err = run_cli(
        capsys,
        "superres",
        "camera",
        "--profile",
        "ci",
        "--steps",
        "3",
        "--size",
        "16",
        "--factor",
        "2",
        "--real",
        "--out",
        str(tmp_path / "real"),
    )
    assert code == 0, err
    s = json.loads(said.strip().splitlines()[-1])
    assert "psnr_input" not in s and "psnr_last" not in s  # no original: nothing to compare with
    assert dh.load_image(tmp_path / "real" / "result.png").shape[:2] == (32, 32)  # the file itself is upscaled


def test_cli_overwrite_replaces_the_folder(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    args = ("denoise", "camera", "--profile", "ci", "--steps", "2", "--size", "16", "--out", str(out))
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "--overwrite" in err and (out / "old.txt").exists()
    code, _, err = run_cli(capsys, *args, "--overwrite")
    assert code == 0, err
    assert not (out / "old.txt").exists() and (out / "result.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folder left beside it


def test_cli_failed_fit_leaves_no_temporary_folder(tmp_path, capsys, monkeypatch):
    from dip_helpers import engine

    def broken(*args, **kwargs):
        (kwargs["log_dir"]).mkdir(parents=True)  # it had started writing
        raise RuntimeError("out of memory")

    monkeypatch.setattr(engine, "fit_dip", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_cli(capsys, "denoise", "camera", "--profile", "ci", "--size", "16", "--out", str(tmp_path / "run"))
    assert list(tmp_path.iterdir()) == []


def test_load_mask_at_another_size(tmp_path):
    from dip_helpers.masks import load_mask

    m = np.ones((40, 60, 1), np.float32)
    m[:, :30] = 0  # left half missing
    dh.save_image(m, tmp_path / "m.png")
    same = load_mask(tmp_path / "m.png")
    assert same.shape == (40, 60, 1) and np.array_equal(same, m)
    small = load_mask(tmp_path / "m.png", (20, 30, 3))
    assert small.shape == (20, 30, 1) and set(np.unique(small)) == {0.0, 1.0}
    assert (small[:, :14] == 0).all() and (small[:, 16:] == 1).all()
    with pytest.raises(ValueError, match="the mask is 40x60 but the image is 20x24"):
        load_mask(tmp_path / "m.png", (20, 24, 3))


# --- memory ------------------------------------------------------------------------------------------------------


def test_a_run_too_large_for_the_memory_is_refused_with_advice(monkeypatch, noisy_pair):
    from dip_helpers.engine import memory

    x, y = noisy_pair
    monkeypatch.setattr(memory, "available_gb", lambda: (2.0, "of RAM is available"))
    with pytest.raises(memory.RunTooLarge) as info:
        build_dip(np.zeros((600, 500, 3), np.float32), None, DIPConfig(channels=128))  # padded to 608 x 512
    said = str(info.value)
    assert "608x512 pixels after padding" in said and "2.0 GB of RAM is available" in said
    side = int(said.split("--size ")[1].split(",")[0])
    assert side % 32 == 0 and memory.estimate_gb(side, side, 128) <= 0.9 * 2.0 < memory.estimate_gb(
        side + 32, side + 32, 128
    )
    assert "--channels" in said and "DIP_MEMORY_CHECK=0" in said
    assert build_dip(y, None, DIPConfig(steps=1, **TINY)).generate().shape == x.shape  # a small run still fits
    monkeypatch.setenv("DIP_MEMORY_CHECK", "0")
    memory.check_fits(4096, 4096, 128)  # the user asked to try anyway


@pytest.mark.parametrize("onednn, advised", [(True, True), (None, True), (False, False)])
def test_mixed_precision_is_advised_only_where_it_is_fast(monkeypatch, onednn, advised):
    """Too little memory for float32, enough for bfloat16: bfloat16 is advised, except on TensorFlow's plain CPU
    kernels, where it is many times slower."""
    from dip_helpers.engine import backend, memory

    free = 1.02 * memory.estimate_gb(512, 512, 128, "mixed_bfloat16") / 0.9
    assert memory.estimate_gb(512, 512, 128) > 0.9 * free
    monkeypatch.setattr(memory, "available_gb", lambda: (free, "of RAM is available"))
    monkeypatch.setattr(backend, "has_gpu", lambda: False)
    monkeypatch.setattr(backend, "onednn_enabled", lambda: onednn)
    with pytest.raises(memory.RunTooLarge) as info:
        memory.check_fits(512, 512, 128)
    assert ("--precision mixed_bfloat16" in str(info.value)) is advised


@pytest.mark.parametrize("onednn, gpu, warned", [(False, False, True), (True, False, False), (False, True, False)])
def test_bfloat16_on_tensorflows_plain_cpu_kernels_is_warned_about(monkeypatch, onednn, gpu, warned):
    import warnings

    from dip_helpers.engine import backend
    from dip_helpers.engine.fit import warn_if_slow_precision

    monkeypatch.setattr(backend, "running", lambda: "tensorflow")
    monkeypatch.setattr(backend, "has_gpu", lambda: gpu)
    monkeypatch.setattr(backend, "onednn_enabled", lambda: onednn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_slow_precision("mixed_bfloat16")
        warn_if_slow_precision("float32")
    assert [("plain CPU kernels" in str(w.message)) for w in caught] == ([True] if warned else [])


def test_the_estimate_matches_what_bench_measured():
    from dip_helpers.engine.memory import estimate_gb

    # bench's peak memory on the 2-core CPU: 1.49 GB at 256x256 and 3.27 GB at 512x512, 128 channels, float32
    assert estimate_gb(256, 256, 128) == pytest.approx(1.49, rel=0.35)
    assert estimate_gb(512, 512, 128) == pytest.approx(3.27, rel=0.1)
    assert estimate_gb(512, 512, 128, "mixed_bfloat16") < estimate_gb(512, 512, 128)


def test_cli_refuses_a_run_too_large_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from dip_helpers.engine import memory

    monkeypatch.setattr(memory, "available_gb", lambda: (1.5, "of RAM is available"))
    code, _, err = run_cli(
        capsys,
        "denoise",
        "astronaut",
        "--size",
        "512",
        "--channels",
        "128",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 2 and err.startswith("error: this run needs about") and "--size" in err
    assert list(tmp_path.iterdir()) == []


def test_receptive_field_of_the_paper_network_by_hand():
    """Down the encoder each scale adds 2 pixels at the jump it reads and 2 at twice it: 6 * 2**i."""
    from dip_helpers.engine import receptive_field

    rf = receptive_field(skip_network())
    assert [rf[f"down{i}_b"] for i in range(5)] == [1 + sum(6 * 2**j for j in range(i + 1)) for i in range(5)]
    assert [rf[f"down{i}_b"] for i in range(5)] == [7, 19, 43, 91, 187]
    assert rf["z"] == 1 and rf["to_image"] == rf["sigmoid"] == 315
    stack = keras.Sequential(
        [
            keras.Input((None, None, 1)),
            keras.layers.Conv2D(1, 5),
            keras.layers.Conv2D(1, 3, strides=2),
            keras.layers.Conv2D(1, 3),
        ]
    )
    assert receptive_field(stack)[stack.layers[-1].name] == 5 + 2 + 2 * 2


@pytest.mark.parametrize("upsample, size", [("bilinear", 75), ("nearest", 59)])
def test_receptive_field_is_where_the_gradient_of_one_output_pixel_is_not_zero(upsample, size):
    """Three scales, batch norm as a fixed affine map (training=False): the largest span of input rows that reach
    one of four neighbouring output pixels is the computed receptive field; farther rows get exactly zero."""
    from dip_helpers.engine import receptive_field

    net = skip_network(4, 1, (4,) * 3, (4,) * 3, (2,) * 3, upsample=upsample)
    assert receptive_field(net)["to_image"] == size
    x = np.random.default_rng(0).random((1, 160, 160, 4)).astype(np.float32)
    spans = []
    for c in range(80, 84):
        g = gradient(lambda t, c=c: net(t, training=False)[0, c, c, 0], x)[0]
        rows = np.nonzero(np.abs(g).sum(axis=(1, 2)))[0]
        spans.append(rows.max() - rows.min() + 1)
    assert max(spans) == size, spans


def test_receptive_field_with_same_padding_and_upsampling_matches_the_gradient():
    """Zero ("same") padding with stride 4 pads 0 pixels before and 1 after, as TensorFlow does: joined with the
    input, an output pixel sees 4 input rows (5 if the padding were split the other way)."""
    from dip_helpers.engine import receptive_field

    inp = keras.Input((None, None, 1))
    a = keras.layers.Conv2D(1, 3, strides=4, padding="same", kernel_initializer="ones")(inp)
    b = keras.layers.UpSampling2D(4, interpolation="nearest")(a)
    c = keras.layers.Concatenate()([b, inp])
    model = keras.Model(inp, keras.layers.Conv2D(1, 1, kernel_initializer="ones")(c))
    assert receptive_field(model)[model.layers[-1].name] == 4
    x = np.random.default_rng(0).random((1, 64, 64, 1)).astype(np.float32)
    spans = []
    for p in range(28, 36):
        g = gradient(lambda t, p=p: model(t)[0, p, p, 0], x)[0, :, :, 0]
        rows = np.nonzero(np.abs(g).sum(axis=1))[0]
        spans.append(rows.max() - rows.min() + 1)
    assert max(spans) == 4, spans


# --- stopping rules on real runs ----------------------------------------------------------------------------------


def test_backtracking_undoes_a_psnr_drop_on_a_real_run(noisy_pair):
    x, y = noisy_pair
    cfg = DIPConfig(steps=30, reg_noise_std=0.0, divergence_guard=False, backtrack=True, **TINY)
    res = fit_dip(y, None, cfg, truth=x, callbacks=[_Poison(20, value=0.3)], verbose=False)
    h, back = res.history["psnr_measured"], res.history["backtracked"]
    assert h[20] < h[19] - 5 and back[20] == 1 and back[:20].sum() == 0  # step 21 sees the damage and undoes it
    assert h[21] == pytest.approx(h[19], abs=1e-4)  # step 22's output is made by the weights step 20's was
    assert back[21:].sum() == 0 and res.pick("backtrack")[0] == 30


def test_sure_on_a_real_run_is_what_two_plain_fits_give(noisy_pair):
    from dip_helpers.engine.stopping import sure_direction

    x, y = noisy_pair
    cfg = DIPConfig(steps=8, sure_sigma=25 / 255, **TINY)
    res = fit_dip(y, None, cfg, truth=x, verbose=False)
    plain = dataclasses.replace(cfg, sure_sigma=0.0)
    b = sure_direction(y.shape, cfg.seed)
    f_y = fit_dip(y, None, plain, verbose=False).output
    f_perturbed = fit_dip(y + cfg.sure_delta * b, None, plain, verbose=False).output
    sigma2, delta = cfg.sure_sigma**2, cfg.sure_delta
    expected = (
        np.mean((y - f_y) ** 2.0) - sigma2 + 2 * sigma2 * np.mean(b * (f_perturbed - f_y.astype(np.float64))) / delta
    )
    assert np.array_equal(res.output, f_y)  # the main fit is the plain run
    assert res.history["sure"][-1] == pytest.approx(expected, rel=1e-5)
    step, image = res.pick("sure")
    assert step == int(np.argmin(res.history["sure"])) + 1 and image.shape == x.shape
    assert res.summary()["sure_step"] == step
    with pytest.raises(ValueError, match="Identity"):
        fit_dip(y[:8, :8], Mask(np.ones((8, 8, 3), np.float32)), cfg, verbose=False)


def test_callbacks_share_one_copy_of_the_output_per_step(noisy_pair, monkeypatch):
    from dip_helpers.engine import backend

    x, y = noisy_pair
    cls, calls = backend.get().model_class(backend.fast(True)), []
    read = cls.read_output
    monkeypatch.setattr(cls, "read_output", lambda self: calls.append(1) or read(self))
    steps = 10
    cfg = DIPConfig(steps=steps, sure_sigma=0.1, **{**TINY, "snapshot_every": 1})
    fit_dip(y, None, cfg, truth=x, verbose=False)
    # average, ES-WMV, SURE and snapshots read every step, the best output when it improves: once per step in each
    # of the two fits, and once after the main one
    assert 2 * steps <= len(calls) <= 2 * steps + 1


def test_a_run_that_backtracking_never_undoes_is_the_same_run_with_it(noisy_pair):
    from dip_helpers.engine.stopping import first_backtrack

    x, y = noisy_pair
    plain = DIPConfig(steps=10, divergence_guard=False, **TINY)
    run = fit_dip(y, None, plain, truth=x, verbose=False)
    assert first_backtrack(run.history["psnr_measured"]) is None
    with_it = fit_dip(y, None, dataclasses.replace(plain, backtrack=True), truth=x, verbose=False)
    assert np.array_equal(with_it.output, run.output) and with_it.history["backtracked"].sum() == 0
