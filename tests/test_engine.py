"""The DIP engine: skip network, operators, model, callbacks, cache, CLI, benchmark."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import dip_helpers as dh
from dip_helpers import callbacks as cb
from dip_helpers.dip import DIPConfig, DIPResult, build_dip, fit_dip, network_input
from dip_helpers.masks import random_mask, text_mask
from dip_helpers.operators import Downsampler, Identity, Mask, box_kernel, gaussian_kernel, lanczos_kernel
from dip_helpers.skip import count_trainable, skip_network

TINY = dict(channels=8, input_channels=8, skip_channels=2, scales=3, es_window=3, es_patience=4, snapshot_every=3)


# --- skip network ---------------------------------------------------------------------------------------------

def test_paper_denoising_network_has_2217831_parameters():
    net = skip_network()
    assert count_trainable(net) == 2_217_831
    out = net(np.zeros((1, 64, 96, 32), np.float32), training=True)
    assert out.shape == (1, 64, 96, 3)
    assert 0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1  # sigmoid


def test_fused_batch_norm_matches_keras():
    import keras

    from dip_helpers.skip import BatchNorm

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
    import keras

    from dip_helpers.skip import concat_conv

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
    net = skip_network(8, 3, (8, 8), (8, 8), (2, 2))
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
    from dip_helpers.skip import reflect_pad

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


def test_skip_network_knobs():
    base = skip_network(8, 1, (8, 8), (8, 8), (2, 2))
    no_skip = skip_network(8, 1, (8, 8), (8, 8), (0, 0))
    assert count_trainable(no_skip) < count_trainable(base)
    assert not any("concat" in layer.name and "bn" not in layer.name for layer in no_skip.layers)
    no_bn = skip_network(8, 1, (8, 8), (8, 8), (2, 2), batch_norm=False)
    assert not any("bn" in layer.name for layer in no_bn.layers) and count_trainable(no_bn) < count_trainable(base)
    for kw in (dict(pad="zero"), dict(upsample="nearest"), dict(downsample="avg"), dict(need_sigmoid=False)):
        net = skip_network(8, 3, (8, 8), (8, 8), (2, 2), **kw)
        assert net(np.zeros((1, 16, 20, 8), np.float32)).shape == (1, 16, 20, 3)
    with pytest.raises(ValueError, match="scales"):
        skip_network(8, 3, (8, 8), (8,), (2, 2))
    with pytest.raises(ValueError, match="pad"):
        skip_network(pad="circular")


def test_mixed_precision_keeps_a_float32_image(noisy_pair):
    x, y = noisy_pair
    net = skip_network(8, 3, (8, 8), (8, 8), (2, 2), dtype="mixed_bfloat16")
    assert count_trainable(net) == count_trainable(skip_network(8, 3, (8, 8), (8, 8), (2, 2)))
    assert net(np.zeros((1, 8, 8, 8), np.float32)).dtype == "float32"
    res = fit_dip(y, None, DIPConfig(steps=4, precision="mixed_bfloat16", **TINY), truth=x, verbose=False)
    assert res.output.dtype == np.float32 and res.history["loss"][-1] < res.history["loss"][0]


def test_network_input():
    z = network_input(16, 24, 32, seed=1)
    assert z.shape == (1, 16, 24, 32) and z.dtype == np.float32 and 0 <= z.min() and z.max() < 0.1
    assert np.array_equal(z, network_input(16, 24, 32, seed=1)) and not np.array_equal(z, network_input(16, 24, 32, seed=2))
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


def test_downsampler_matches_a_direct_2d_convolution():
    rng = np.random.default_rng(0)
    x = rng.random((32, 24, 2)).astype(np.float32)
    d = Downsampler(4, "lanczos2")
    k2 = np.outer(d.kernel, d.kernel)
    p = d.pad
    xp = np.pad(x, [(p, p), (p, p), (0, 0)], mode="edge")
    n = len(d.kernel)
    ref = np.zeros((8, 6, 2))
    for i in range(8):
        for j in range(6):
            ref[i, j] = np.tensordot(k2, xp[4 * i : 4 * i + n, 4 * j : 4 * j + n], axes=([0, 1], [0, 1]))
    assert np.allclose(d.measure(x), ref, atol=1e-5)


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
    y = tf.constant(np.random.default_rng(1).random((1, 16, 16, 3)), tf.float32)
    x = tf.Variable(tf.random.uniform((1, 16, 16, 3)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(op(x) - op(y)))
    g = tape.gradient(loss, x).numpy()[0]
    missing = mask[..., 0] == 0
    assert np.all(g[missing] == 0) and np.all(np.abs(g[~missing]).sum(-1) > 0)
    assert 0.4 < missing.mean() < 0.6
    t = text_mask((64, 128))
    assert t.shape == (64, 128, 1) and 0.01 < (t == 0).mean() < 0.5


# --- the model and its callbacks --------------------------------------------------------------------------------

def test_box_muller_noise_is_standard_normal():
    from scipy import stats

    from dip_helpers.dip import normal_noise

    gen = tf.random.Generator.from_seed(3)
    x = normal_noise(gen, (1, 501, 999, 2), 0.5).numpy()  # an odd count of values
    assert x.shape == (1, 501, 999, 2) and np.isfinite(x).all()
    flat = x.ravel().astype(np.float64) / 0.5
    assert abs(flat.mean()) < 0.005 and abs(flat.std() - 1) < 0.005
    assert stats.kstest(flat, "norm").pvalue > 1e-3 and abs(stats.kurtosis(flat)) < 0.02
    assert not np.allclose(x, normal_noise(gen, (1, 501, 999, 2), 0.5).numpy())  # fresh noise each call


def test_fused_adam_matches_keras_adam():
    import keras

    from dip_helpers.dip import FusedAdam

    z = np.random.default_rng(0).random((1, 16, 16, 8)).astype(np.float32)
    runs = []
    for make in (lambda: keras.optimizers.Adam(0.01), lambda: FusedAdam(0.01)):
        keras.utils.set_random_seed(0)
        net, opt = skip_network(8, 3, (8, 8), (8, 8), (2, 2)), make()
        start = [v.numpy() for v in net.trainable_variables]
        for _ in range(6):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(net(z, training=True) - 0.5))
            pairs = [(g, v) for g, v in zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables)
                     if g is not None]
            opt.apply(*zip(*pairs))
        kernels = [(v.numpy(), s) for v, s in zip(net.trainable_variables, start) if v.path.endswith("kernel")]
        runs.append((kernels, net(z, training=True).numpy()))
    (k_keras, out_keras), (k_fused, out_fused) = runs
    assert min(np.abs(k - s).max() for k, s in k_keras) > 0.01  # every kernel moved
    assert all(np.allclose(a, b, atol=1e-5) for (a, _), (b, _) in zip(k_keras, k_fused))
    assert np.allclose(out_keras, out_fused, atol=1e-5)


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
    _, logdir, _ = tiny_run
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    tags = acc.Tags()["tensors"]
    assert {"loss", "psnr_truth", "output", "average"} <= set(tags)
    losses = [tf.make_ndarray(e.tensor_proto).item() for e in acc.Tensors("loss")]
    assert len(losses) == 9


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


def test_superres_and_inpainting_models_build(noisy_pair):
    x, _ = noisy_pair
    d = Downsampler(4)
    m = build_dip(d.measure(x), d, DIPConfig(steps=1, **TINY), truth=x)
    assert m.generate().shape == x.shape
    with pytest.raises(ValueError, match="ground truth"):
        build_dip(d.measure(x), d, DIPConfig(**TINY), truth=x[:8])
    with pytest.raises(ValueError, match="lr"):
        DIPConfig(lr=5).validate()


class _FakeModel:
    """Just enough of a DIP model for callbacks: an output and a network with weights."""

    def __init__(self, shape=(4, 4, 1)):
        self.last_output = tf.Variable(tf.zeros((1, *shape)))
        self.truth = None
        self.stop_training = False
        self.net = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])


def _drive(callback, model, outputs, logs=None):
    callback.set_model(model)
    for i, out in enumerate(outputs):
        model.last_output.assign(np.full(model.last_output.shape, out, np.float32))
        callback.on_train_batch_end(i, dict(logs[i]) if logs else {})
        if model.stop_training:
            return i + 1
    return len(outputs)


def test_output_average_is_an_ema():
    avg = cb.OutputAverage(0.5)
    _drive(avg, _FakeModel(), [1.0, 3.0, 5.0])
    assert np.allclose(avg.image(), 0.5 * (0.5 * 1 + 0.5 * 3) + 0.5 * 5)


def test_es_wmv_picks_the_calmest_window_and_stops():
    seq = list(np.random.default_rng(0).normal(0, 1, 20)) + [0.1] * 6 + list(np.random.default_rng(1).normal(0, 1, 30))
    es = cb.EarlyStoppingWMV(window=5, patience=25, stop=True)
    logs = [{"psnr_truth": 30.0 - abs(i - 25)} for i in range(len(seq))]
    ran = _drive(es, _FakeModel(), seq, logs)
    assert es.best_step in (25, 26)  # a window made only of the constant run (variance 0)
    assert ran == es.best_step + 25  # stopped `patience` steps after the last new minimum
    assert np.allclose(es.best_image, 0.1)
    assert es.gap_db == pytest.approx(30.0 - logs[es.best_step - 1]["psnr_truth"])  # true peak is at step 26


def test_divergence_guard_restores_and_says_so(capsys):
    model = _FakeModel()
    guard = cb.DivergenceGuard(drop_db=5, every=1)
    guard.set_model(model)
    good = [w.copy() for w in model.net.get_weights()]
    guard.on_train_batch_end(0, {"loss": 0.1, "psnr_measured": 20.0})
    model.net.set_weights([w + 1 for w in good])  # the step that blows up
    guard.on_train_batch_end(1, {"loss": float("nan"), "psnr_measured": float("nan")})
    assert all(np.array_equal(a, b) for a, b in zip(model.net.get_weights(), good))
    guard.on_train_batch_end(2, {"loss": 0.5, "psnr_measured": 12.0})  # a 8 dB drop
    assert len(guard.events) == 2 and "restored" in guard.events[1]
    assert "DivergenceGuard" in capsys.readouterr().out


def test_live_view_prints_progress_outside_notebooks(capsys):
    assert not cb.in_notebook()
    view = cb.LiveView(every=2, total=4)
    view.set_model(_FakeModel())
    view.on_train_begin()
    for i in range(4):
        view.on_train_batch_end(i, {"loss": 0.1, "psnr_truth": 20.0 + i})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("step 4/4") and "psnr_truth 23.00" in lines[-1]


def test_live_view_redraws_in_place_in_a_kernel(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import numpy as np\nfrom dip_helpers.dip import DIPConfig, fit_dip\n"
        "y = np.full((16, 16, 3), 0.5, np.float32)\n"
        "r = fit_dip(y, config=DIPConfig(steps=6, channels=4, input_channels=4, skip_channels=1, scales=2, "
        "es_window=2, es_patience=2), live=2)")])
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(figures) == 1  # one figure, updated in place (nbclient applies the updates to it)
    assert not any(o.output_type == "stream" and "step" in o.get("text", "") for o in outputs)

    quiet = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(nb.cells[0].source.replace("live=2", "verbose=True"))])
    NotebookClient(quiet, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    lines = [o for o in quiet.cells[0].outputs if "step" in o.get("data", {}).get("text/plain", "")]
    assert len(lines) == 1 and lines[0].data["text/plain"].startswith("step 6/6")  # one line, updated


def test_result_save_load_round_trip(tiny_run, tmp_path):
    res = tiny_run[0]
    back = DIPResult.load(res.save(tmp_path / "r.npz"))
    assert np.array_equal(back.output, res.output) and sorted(back.snapshots) == sorted(res.snapshots)
    assert back.best_step == res.best_step and np.array_equal(back.best_output, res.best_output)
    assert back.summary() == res.summary()


# --- command line ---------------------------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "dip_helpers", *args], capture_output=True, text=True)


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
    for args, words in [(("denoise", "nope", "--out", str(tmp_path / "a")), "No image"),
                        (("denoise", "astronaut", "--sigma", "-3", "--out", str(tmp_path / "a")), "0-255"),
                        (("denoise", "astronaut", "--lr", "7", "--out", str(tmp_path / "a")), "lr"),
                        (("superres", "astronaut", "--factor", "3", "--out", str(tmp_path / "a")), "invalid choice")]:
        done = _cli(*args)
        assert done.returncode != 0 and words in done.stderr, (args, done.stderr)
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    done = _cli("denoise", "astronaut", "--out", str(tmp_path / "full"))
    assert done.returncode == 2 and "--overwrite" in done.stderr and (tmp_path / "full" / "keep.txt").exists()


def test_conv_flops_counted_by_hand():
    from dip_helpers.bench import conv_flops

    net, size, forward, first = skip_network(), 256, 0.0, 0.0
    for i in range(5):
        r, cin = size // 2**i, 32 if i == 0 else 128
        level = [2 * (r // 2) ** 2 * 128 * cin * 9, 2 * (r // 2) ** 2 * 128 * 128 * 9,  # down_a, down_b
                 2 * r * r * 4 * cin,  # skip 1x1
                 2 * r * r * 128 * (4 + 128) * 9, 2 * r * r * 128 * 128]  # up_a (over the concatenation), up_b 1x1
        forward += sum(level)
        first += level[0] + level[2] if i == 0 else 0  # they read z: no gradient to their input
    forward += 2 * size * size * 3 * 128  # to_image
    assert conv_flops(net, size, size) == pytest.approx(forward, rel=1e-12)
    assert conv_flops(net, size, size, training=True) == pytest.approx(3 * forward - first, rel=1e-12)
    assert 115.0e9 < conv_flops(net, size, size, training=True) < 115.1e9


def test_bench_json_line():
    done = _cli("bench", "--size", "32", "--channels", "8", "--steps", "1", "--json")
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("ms_per_step", "gflop_per_step", "gflops", "conv_peak_gflops", "efficiency", "peak_rss_mb", "params", "device"):
        assert key in r
    assert r["params"] == count_trainable(skip_network(32, 3, (8,) * 5, (8,) * 5, (4,) * 5)) and r["ms_per_step"] > 0
    assert _cli("bench", "--size", "0").returncode == 2
