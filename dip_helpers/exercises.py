"""Self-checks for the exercises.  Each prints a verdict and returns True, False or None (not attempted)."""

from __future__ import annotations

import math

import numpy as np

from .metrics import psnr


def _verdict(ok: bool, good: str, bad: str) -> bool:
    print(("✅ " + good) if ok else ("❌ " + bad))
    return ok


def _call(fn, *args):
    """The student's function applied to ``args``; None when it raises NotImplementedError."""
    try:
        return fn(*args)
    except NotImplementedError:
        return None


def _attempted(value, name: str) -> bool:
    if value is None:
        print(f"⏳ {name} is not filled in yet.")
        return False
    return True


def _one_number(value, name: str) -> float | None:
    """``value`` as a float, or None after saying that one number was expected (e.g. one per channel was given)."""
    if np.size(value) != 1:
        print(f"❌ {name} should give one number, but gave shape {np.shape(value)}: average over every axis.")
        return None
    return float(np.asarray(value).ravel()[0])


def check_psnr(my_psnr) -> bool | None:
    """Compare the student's ``my_psnr(x, y)`` with :func:`dip_helpers.psnr` on random images."""
    rng = np.random.default_rng(7)
    x = rng.random((16, 16, 3)).astype(np.float32)
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
    got = _call(my_psnr, x, y)
    if not _attempted(got, "my_psnr"):
        return None
    if (got := _one_number(got, "my_psnr")) is None:
        return False
    want = psnr(x, y)
    return _verdict(
        math.isclose(float(got), want, abs_tol=1e-3),
        f"my_psnr agrees with dip_helpers.psnr ({want:.3f} dB).",
        f"my_psnr gave {float(got):.3f} dB, expected {want:.3f} dB. Hint: MSE first, then 10*log10(1/MSE).",
    )


def check_sigma_for_psnr(sigma, target_db: float) -> bool | None:
    """Check the noise level (0-255 scale) whose expected PSNR, without clipping, is ``target_db``."""
    if not _attempted(sigma, "sigma"):
        return None
    want = 255 * 10 ** (-target_db / 20)
    return _verdict(
        math.isclose(float(sigma), want, rel_tol=1e-2),
        f"sigma = {want:.2f} gives {target_db:g} dB.",
        f"sigma = {float(sigma):.2f} gives {20 * math.log10(255 / float(sigma)):.2f} dB, not {target_db:g}. "
        "Hint: MSE = (sigma/255)^2 without clipping.",
    )


def check_conv2d(my_conv2d) -> bool | None:
    """Compare ``my_conv2d(image, kernel, padding, stride)`` with ``tf.nn.conv2d`` on random inputs."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    cases = [((7, 9), (3, 3), 0, 1), ((8, 8), (2, 3), 1, 1), ((9, 11), (3, 3), 1, 2), ((10, 7), (5, 5), 2, 3)]
    for shape, kshape, pad, stride in cases:
        image, kernel = rng.standard_normal(shape), rng.standard_normal(kshape)
        got = _call(my_conv2d, image, kernel, pad, stride)
        if not _attempted(got, "my_conv2d"):
            return None
        padded = np.pad(image, pad)[None, :, :, None]
        want = tf.nn.conv2d(padded, kernel[:, :, None, None], stride, "VALID").numpy()[0, :, :, 0]
        got = np.asarray(got)
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-6):
            detail = f"shape {got.shape}, expected {want.shape}" if got.shape != want.shape else "values differ"
            return _verdict(
                False,
                "",
                f"image {shape}, kernel {kshape}, padding {pad}, stride {stride}: {detail}. "
                "Hint: TensorFlow does not flip the kernel.",
            )
    return _verdict(True, "my_conv2d matches tf.nn.conv2d on 4 random cases (padding and stride included).", "")


def check_output_size(answer, n: int, k: int, p: int, s: int) -> bool | None:
    """Check the output length of a convolution: input ``n``, kernel ``k``, padding ``p``, stride ``s``."""
    if not _attempted(answer, "the output size"):
        return None
    want = (n + 2 * p - k) // s + 1
    return _verdict(
        int(answer) == want,
        f"{want} is right: floor((n + 2p - k) / s) + 1.",
        f"{answer} is not it. Count the positions the kernel can take: (n + 2p - k) / s, rounded down, plus 1.",
    )


def check_neuron(answer, x, a, a0: float, activation: str = "relu") -> bool | None:
    """Check a formal neuron's output ``phi(a0 + sum_j a_j x_j)`` computed by hand."""
    if not _attempted(answer, "the neuron's output"):
        return None
    z = a0 + float(np.dot(a, x))
    phis = {
        "relu": lambda t: max(t, 0.0),
        "sigmoid": lambda t: 1 / (1 + math.exp(-t)),
        "leaky_relu": lambda t: t if t > 0 else 0.2 * t,
    }
    want = phis[activation](z)
    return _verdict(
        math.isclose(float(answer), want, abs_tol=1e-3),
        f"s = {want:.4g} (pre-activation {z:.4g}).",
        f"{answer} is not it. First the weighted sum a0 + sum a_j x_j, then the activation.",
    )


def check_conv_params(answer, k: int, c_in: int, c_out: int, bias: bool = True) -> bool | None:
    """Check the parameter count of a ``k`` x ``k`` convolution from ``c_in`` to ``c_out`` channels."""
    if not _attempted(answer, "the parameter count"):
        return None
    want = k * k * c_in * c_out + (c_out if bias else 0)
    return _verdict(
        int(answer) == want,
        f"{want}: one k x k x c_in kernel per output channel, plus one bias each.",
        f"{answer} is not it. Each output channel has its own k x k x c_in kernel and a bias.",
    )


def check_tv(my_tv) -> bool | None:
    """Compare ``my_tv(x)`` (x: H x W x C numpy array) with :func:`dip_helpers.priors.total_variation`."""
    import tensorflow as tf

    from .priors import total_variation

    x = np.random.default_rng(5).random((9, 12, 3)).astype(np.float32)
    got = _call(my_tv, x)
    if not _attempted(got, "my_tv"):
        return None
    if (got := _one_number(got, "my_tv")) is None:
        return False
    want = float(total_variation(tf.constant(x[None])))
    return _verdict(
        math.isclose(float(got), want, rel_tol=1e-4),
        f"my_tv agrees with the course's TV ({want:.5f}).",
        f"my_tv gave {float(got):.5f}, expected {want:.5f}. Hint: differences to the right and below, "
        "on the (H-1) x (W-1) pixels that have both, sqrt(dx^2 + dy^2 + 1e-6), then the mean.",
    )


def check_masked_grad(my_grad) -> bool | None:
    """Compare ``my_grad(x, y, m)``, the gradient of ``mean((m*x - m*y)**2)`` in x, with TensorFlow's."""
    import tensorflow as tf

    rng = np.random.default_rng(6)
    x, y = rng.random((6, 7, 3)).astype(np.float32), rng.random((6, 7, 3)).astype(np.float32)
    m = (rng.random((6, 7, 1)) > 0.5).astype(np.float32)
    got = _call(my_grad, x, y, m)
    if not _attempted(got, "my_grad"):
        return None
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(m * xv - m * y))
    want = tape.gradient(loss, xv).numpy()
    ok = np.shape(got) == want.shape and np.allclose(got, want, atol=1e-6)
    return _verdict(
        ok,
        "Right: the gradient is 2 m^2 (x - y) / N, exactly 0 wherever m = 0.",
        "Not quite. Differentiate mean((m x - m y)^2) pixel by pixel; N counts every value of x.",
    )


FIGURE2_ORDER = ["image", "image + noise", "shuffled pixels", "white noise"]


def check_steps_to_reach(my_steps_to_reach) -> bool | None:
    """Check ``my_steps_to_reach(losses, level)``: first step (counted from 1) with loss <= level, else None."""
    cases = [([0.5, 0.3, 0.1, 0.05], 0.1, 3), ([0.5, 0.4], 0.1, None), ([0.01, 0.5], 0.1, 1), ([0.3, 0.2, 0.2], 0.2, 2)]
    try:
        results = [my_steps_to_reach(np.array(losses), level) for losses, level, _ in cases]
    except NotImplementedError:
        results = ["todo"]
    if results == ["todo"] or all(r == "todo" for r in results):
        print("⏳ my_steps_to_reach is not filled in yet.")
        return None
    for (losses, level, want), got in zip(cases, results):
        if got != want:
            return _verdict(
                False,
                "",
                f"for losses {losses} and level {level} you gave {got}, expected {want} "
                "(steps count from 1; None when the level is never reached).",
            )
    return _verdict(True, "my_steps_to_reach is right on every case.", "")


def check_figure2_order(answer, curves=None) -> bool | None:
    """Check the order in which the four targets of the paper's Figure 2 are fitted, fastest first.

    ``curves`` (target name -> per-step losses): judge the answer against these curves, ordered by their final
    loss; without them, against the paper's order.
    """
    if not _attempted(answer, "the order"):
        return None
    if curves is None:
        return _verdict(
            list(answer) == FIGURE2_ORDER,
            "Right: structure first, noise last.",
            f"Not quite. Look at the curves again: which target reaches a low loss first? (options: {FIGURE2_ORDER})",
        )
    final = {name: float(np.asarray(loss)[-1]) for name, loss in curves.items()}
    want = sorted(final, key=final.get)
    same_as_paper = " — the paper's order too" if want == FIGURE2_ORDER else " (the paper's order differs: look why)"
    return _verdict(
        list(answer) == want,
        f"Right: your curves end in this order{same_as_paper}.",
        f"Not what your curves show: ordered by their final loss they give {want}.",
    )


def check_psnr_from_loss(my_psnr_from_loss, history=None) -> bool | None:
    """Check ``my_psnr_from_loss(losses)``: ``10 log10(1 / loss)`` for each mean squared error (images in [0, 1]);
    given a run's ``history``, also that it turns the run's ``loss`` into its ``psnr_measured``."""
    losses = np.array([0.01, 0.001, 0.0004, 0.1])
    got = _call(my_psnr_from_loss, losses)
    if not _attempted(got, "my_psnr_from_loss"):
        return None
    want = 10 * np.log10(1 / losses)
    got = np.asarray(got, np.float64)
    if got.shape != want.shape:
        print(
            f"❌ For {len(losses)} losses my_psnr_from_loss gave shape {got.shape}: give one PSNR per loss "
            "(NumPy's functions work on a whole array at once)."
        )
        return False
    if not np.allclose(got, want, atol=1e-6):
        if np.allclose(got, -want, atol=1e-6):
            hint = "the sign is wrong: a smaller loss is a higher PSNR."
        elif np.allclose(got, 2 * want, atol=1e-6):
            hint = "20 log10 is for a ratio of amplitudes; a mean square is already a power: 10 log10."
        else:
            hint = "PSNR = 10 log10(1 / loss) for images in [0, 1] (a base-10 logarithm)."
        print(
            f"❌ For losses {losses.tolist()} expected {np.round(want, 2).tolist()} dB, got "
            f"{np.round(got, 2).tolist()}: {hint}"
        )
        return False
    if history is None or "loss" not in history or "psnr_measured" not in history:
        return _verdict(True, "Right: 10 log10(1 / loss).", "")
    curve = np.asarray(my_psnr_from_loss(np.asarray(history["loss"], np.float64)), np.float64)
    gap = float(np.max(np.abs(curve - np.asarray(history["psnr_measured"], np.float64))))
    return _verdict(
        gap < 0.01,
        f"Right: 10 log10(1 / loss). On this run it gives psnr_measured at every step (to within {gap:.4f} dB): "
        "the loss and the PSNR to the noisy image are one curve.",
        f"Right on the test losses, but on this run it is up to {gap:.3f} dB from psnr_measured.",
    )


def check_ema(my_ema) -> bool | None:
    """Check ``my_ema(frames, decay)``: the moving average the course uses, started at the first frame."""
    frames = [np.full((2, 2, 1), v, np.float32) for v in (1.0, 3.0, 5.0, 4.0)]
    decay = 0.8  # not 0.5, where decay and 1 - decay are the same number
    got = _call(my_ema, frames, decay)
    if not _attempted(got, "my_ema"):
        return None
    want = frames[0]
    for f in frames[1:]:
        want = decay * want + (1 - decay) * f
    return _verdict(
        np.allclose(got, want),
        f"Right: {float(want.ravel()[0]):.3f} for every pixel.",
        f"Not quite: expected {float(want.ravel()[0]):.3f}. avg = decay * avg + (1 - decay) * frame, "
        "starting from the first frame.",
    )


def check_window_variance(my_variance) -> bool | None:
    """Check ``my_variance(frames)``: ES-WMV's statistic, the per-pixel variance over frames, averaged over pixels."""
    rng = np.random.default_rng(8)
    frames = [rng.random((3, 4, 2)) for _ in range(5)]
    got = _call(my_variance, frames)
    if not _attempted(got, "my_variance"):
        return None
    if (got := _one_number(got, "my_variance")) is None:
        return False
    want = float(np.mean(np.var(np.stack(frames), axis=0)))
    return _verdict(
        math.isclose(float(got), want, rel_tol=1e-6),
        f"Right: {want:.5f}.",
        f"{float(got):.5f} is not it ({want:.5f} expected): variance over the frames for each pixel "
        "(divide by the number of frames), then the mean over pixels.",
    )


def check_rgb_to_y(my_rgb_to_y) -> bool | None:
    """Compare ``my_rgb_to_y(image)`` with :func:`dip_helpers.metrics.rgb_to_y` on a random image."""
    from .metrics import rgb_to_y

    x = np.random.default_rng(9).random((5, 6, 3))
    got = _call(my_rgb_to_y, x)
    if not _attempted(got, "my_rgb_to_y"):
        return None
    ok = np.shape(got) == (5, 6) and np.allclose(got, rgb_to_y(x), atol=1e-6)
    return _verdict(
        ok,
        "Right: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255.",
        "Not quite: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 1], one value per pixel.",
    )


def check_lr_shape(answer, shape, factor: int) -> bool | None:
    """Check the size of an ``(H, W)`` image after downsampling by ``factor``."""
    if not _attempted(answer, "the shape"):
        return None
    want = (shape[0] // factor, shape[1] // factor)
    return _verdict(
        tuple(answer) == want,
        f"{want}: each side divided by {factor}.",
        f"{tuple(answer)} is not it: each side is divided by the factor.",
    )


def check_square_hole(my_square_hole) -> bool | None:
    """Check ``my_square_hole(h, w, side)``: an (h, w, 1) mask of ones with a centred side x side square of zeros."""
    got = _call(my_square_hole, 10, 12, 4)
    if not _attempted(got, "my_square_hole"):
        return None
    want = np.ones((10, 12, 1), np.float32)
    want[3:7, 4:8] = 0
    return _verdict(
        np.shape(got) == want.shape and np.array_equal(np.asarray(got), want),
        "Right: ones everywhere, a centred square of zeros.",
        "Not quite: shape (h, w, 1), 1 = known, the zeros centred: rows (h - side) // 2 onwards.",
    )


def check_missing_psnr(my_missing_psnr) -> bool | None:
    """Check ``my_missing_psnr(x, y, mask)``: PSNR computed on the missing pixels (mask == 0) only."""
    rng = np.random.default_rng(10)
    x, y = rng.random((8, 9, 3)), rng.random((8, 9, 3))
    m = (rng.random((8, 9, 1)) > 0.5).astype(np.float32)
    got = _call(my_missing_psnr, x, y, m)
    if not _attempted(got, "my_missing_psnr"):
        return None
    if (got := _one_number(got, "my_missing_psnr")) is None:
        return False
    sel = np.broadcast_to(m == 0, x.shape)
    want = psnr(x[sel], y[sel])
    return _verdict(
        math.isclose(float(got), want, abs_tol=1e-6),
        f"Right: {want:.3f} dB on the missing pixels.",
        f"{float(got):.3f} dB is not it ({want:.3f} expected): keep only the values where the mask is 0.",
    )


def check_dip_curve(losses, engine_losses, name: str = "your loop") -> bool | None:
    """Compare a hand-written DIP run's per-step ``losses`` with the engine's on the same seed and settings.

    Steps 1 and 2 must agree within 0.1% (the same network, input, loss and first Adam step). After that,
    rounding differs between an eager loop and the engine's compiled step and training amplifies it, so only
    the end is compared: the mean of the last 10 losses within 20%.
    """
    if not _attempted(losses, name):
        return None
    got, want = np.asarray(losses, np.float64).ravel(), np.asarray(engine_losses, np.float64).ravel()
    if got.shape != want.shape:
        return _verdict(False, "", f"{name} has {got.size} losses, the engine {want.size}: run as many steps.")
    if not math.isclose(got[0], want[0], rel_tol=1e-3):
        return _verdict(
            False,
            "",
            f"step 1: {name} has loss {got[0]:.5f}, the engine {want[0]:.5f}. Same network "
            "(seed 0), same z (seed 0), and the loss is the mean of (f_theta(z) - y)^2, not the sum?",
        )
    if not math.isclose(got[1], want[1], rel_tol=1e-3):
        return _verdict(
            False,
            "",
            f"step 2: {name} has loss {got[1]:.5f}, the engine {want[1]:.5f}: the first Adam "
            "step differs. Adam with learning rate 0.01, applied to net.trainable_variables?",
        )
    end, end_want = got[-10:].mean(), want[-10:].mean()
    return _verdict(
        bool(abs(end - end_want) <= 0.2 * end_want),
        f"{name} starts where the engine starts (steps 1-2 within 0.1%) and ends at loss {end:.5f} against "
        f"the engine's {end_want:.5f}.",
        f"{name} starts right but ends at loss {end:.5f} against the engine's {end_want:.5f}: the same "
        "number of steps, and no input noise (reg_noise_std = 0) in both?",
    )


def _as_array(value) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), np.float64)


def check_operator(my_A, operator, image, name: str = "my_A") -> bool | None:
    """Check ``my_A(batch)`` against the engine's ``operator`` on ``image`` (H, W, C) as a batch of one: the same
    shape and values, within 1e-5 of the largest value. A box kernel is named when seen."""
    import keras

    from .engine.operators import Downsampler

    batch = keras.ops.convert_to_tensor(np.asarray(image, np.float32)[None])
    got = _call(my_A, batch)
    if not _attempted(got, name):
        return None
    got, want = _as_array(got), _as_array(operator(batch))
    if got.shape != want.shape:
        return _verdict(False, "", f"{name} gives shape {got.shape}; the engine's A gives {want.shape}.")
    close = np.abs(got - want).max() <= 1e-5 * max(np.abs(want).max(), 1e-6)
    hint = "multiply by the mask: 1 keeps a pixel, 0 hides it."
    if isinstance(operator, Downsampler):
        box = _as_array(Downsampler(operator.factor, "box")(batch))
        hint = (
            "that is the box kernel (the plain average of each block): use the Lanczos-2 taps, operator.kernel."
            if np.abs(got - box).max() <= 1e-5
            else f"blur with the {len(operator.kernel)}x{len(operator.kernel)} kernel np.outer(k, k), edges repeated "
            f"(not mirrored) by {(len(operator.kernel) - operator.factor) // 2} pixels, keeping one pixel in "
            f"{operator.factor}."
        )
    return _verdict(bool(close), f"Right: {name} is the engine's A on this image.", f"Not the engine's A: {hint}")


def check_operator_loss(my_loss, operator, measurement, steps: int = 10, channels: int = 8) -> bool | None:
    """Check ``my_loss(output, y)``, the DIP loss with ``A`` in it: its value on one output, then a short run.

    The run is the engine's own training step (``TensorFlowDIP.train_step``, notebook 05's) with ``my_loss`` in place
    of the engine's loss, compared with the engine's run with ``operator`` on the same seed and settings by
    :func:`check_dip_curve`. A loss without ``A``, or a sum instead of a mean, is named when seen.
    """
    import keras

    from .engine import DIPConfig, backend, build_dip, fit_dip

    shape = operator.image_shape(np.shape(measurement))
    probe = keras.ops.convert_to_tensor(np.random.default_rng(5).random((1, *shape)).astype(np.float32))
    y = keras.ops.convert_to_tensor(np.asarray(measurement, np.float32)[None])
    got = _call(my_loss, probe, y)
    if not _attempted(got, "my_loss"):
        return None
    if (got := _one_number(_as_array(got), "my_loss")) is None:
        return False
    residual = _as_array(operator(probe)) - _as_array(y)
    want = float(np.mean(residual**2))
    if not math.isclose(got, want, rel_tol=1e-4):
        hint = "use the mean of (A(output) - y)^2 over every value, with the A that check_operator accepts"
        if math.isclose(got, float(np.sum(residual**2)), rel_tol=1e-4):
            hint = "a sum, not a mean: use the mean, so that the loss does not grow with the image"
        elif shape == np.shape(measurement) and math.isclose(
            got, float(np.mean((_as_array(probe) - _as_array(y)) ** 2)), rel_tol=1e-4
        ):
            hint = "no A: the loss compares the whole output with y; apply A to the output first"
        return _verdict(False, "", f"my_loss gives {got:.5f} on a test output, the engine's loss {want:.5f}: {hint}.")
    config = DIPConfig(steps=steps, channels=channels, reg_noise_std=0.0)
    model = build_dip(measurement, operator, config)

    def loss_and_logs(out):
        loss = my_loss(out, model.y)
        return loss, {"loss": loss}

    model.loss_and_logs = loss_and_logs  # the engine's step, with your loss
    train = backend.get().step_function(model)
    try:
        losses = [float(train()) for _ in range(steps)]
    except NotImplementedError as err:  # TensorFlow's answer to NumPy inside a compiled step
        return _verdict(
            False,
            "",
            f"my_loss (or my_A) cannot run inside the training step: use TensorFlow "
            f"operations, not NumPy ({str(err).splitlines()[0][:120]})",
        )
    engine = fit_dip(measurement, operator, config, verbose=False).history["loss"]
    return check_dip_curve(losses, engine, "the engine's step with my_loss")
