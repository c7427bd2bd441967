"""The stopping rules on cases whose answer is known: SURE on a linear smoother, each callback's pick on a scripted
run, and the breaks the tests must catch; then the command line's ``--stop``."""

import json

import numpy as np
import pytest

import dip_helpers as dh
from _cli import run_cli
from dip_helpers.engine import callbacks as cb
from dip_helpers.engine.result import STOP_RULES, DIPResult
from dip_helpers.engine.stopping import first_backtrack, probe, sure_direction, sure_risk

SIGMA = 0.1


def box_blur(img):
    """A linear smoother ``H``: the 3x3 mean with wrap-around edges (its trace is N / 9, so is that of H^T H)."""
    return sum(np.roll(img, (i, j), axis=(0, 1)) for i in (-1, 0, 1) for j in (-1, 0, 1)) / 9


def sure_draws(with_divergence: bool = True, draws: int = 400, delta: float = 1e-3):
    """SURE of the smoother on ``draws`` noisy versions of one image, and the smoother's true risk (closed form)."""
    x = dh.load_image("camera", size=32)[..., 0].astype(np.float64)
    rng = np.random.default_rng(0)
    risks = []
    for _ in range(draws):
        y = x + SIGMA * rng.standard_normal(x.shape)
        b = rng.standard_normal(x.shape)
        fy = box_blur(y)
        mse_y = np.mean((y - fy) ** 2)
        perturbed = probe(box_blur(y + delta * b), b) if with_divergence else probe(fy, b)
        risks.append(sure_risk(mse_y, probe(fy, b), perturbed, SIGMA, delta))
    # E mean((Hy - x)^2) = mean(((H - I) x)^2) + sigma^2 tr(H^T H) / N, and tr(H^T H) / N = 9 / 81
    true = np.mean((box_blur(x) - x) ** 2) + SIGMA**2 / 9
    return np.asarray(risks), true


def test_sure_matches_the_true_risk_of_a_linear_smoother_within_its_standard_error():
    risks, true = sure_draws()
    se = risks.std(ddof=1) / np.sqrt(len(risks))
    assert abs(risks.mean() - true) < 3 * se, (risks.mean(), true, se)


def test_sure_without_its_divergence_term_is_caught():
    risks, true = sure_draws(with_divergence=False)
    se = risks.std(ddof=1) / np.sqrt(len(risks))
    assert abs(risks.mean() - true) > 20 * se  # off by 2 sigma^2 tr(H) / N: far more than the noise of the mean


def test_the_divergence_direction_is_fixed_by_the_seed():
    b = sure_direction((16, 16, 3), seed=4)
    assert b.dtype == np.float32 and b.shape == (16, 16, 3)
    assert np.array_equal(b, sure_direction((16, 16, 3), seed=4))
    assert not np.array_equal(b, sure_direction((16, 16, 3), seed=5))
    assert abs(b.mean()) < 0.1 and abs(b.std() - 1) < 0.1


class ScriptedModel:
    """Stands in for :class:`DIP` in a callback: its outputs are given, its 'weights' are a step number."""

    def __init__(self, outputs):
        self.outputs, self.i, self.weights, self.restored = outputs, -1, [np.array(0.0)], []
        self.net = self
        self.stop_training = False

    def current_output(self):
        return self.outputs[self.i]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]
        self.restored.append(float(weights[0]))


def drive(callback, outputs, psnr_measured=None):
    """Run ``callback`` over a scripted run; each step moves the weights to the step number. Returns the logs."""
    model = ScriptedModel(outputs)
    callback.set_model(model)
    callback.on_train_begin()
    all_logs = []
    for t in range(len(outputs)):
        callback.on_train_batch_begin(t)
        model.i, model.weights = t, [np.array(float(t + 1))]  # the update of step t + 1
        logs = {"loss": 0.0} if psnr_measured is None else {"psnr_measured": psnr_measured[t]}
        callback.on_train_batch_end(t, logs)
        all_logs.append(logs)
    callback.on_train_end()
    return model, all_logs


def test_sure_callback_picks_the_step_of_lowest_estimated_risk_and_the_break_picks_the_last():
    rng = np.random.default_rng(1)
    x = 0.5 + SIGMA * np.sqrt(3) * np.linspace(-1, 1, 64).reshape(8, 8, 1)  # a ramp whose variance is sigma^2
    y = x + SIGMA * rng.standard_normal(x.shape)
    b, delta = sure_direction(y.shape, 0), 1e-3
    lambdas = np.linspace(0.05, 1, 40)  # output t = mean(y) + lambda_t (y - mean(y)): towards y as t grows
    frames = [y.mean() + lam * (y - y.mean()) for lam in lambdas]
    perturbed = [probe((y + delta * b).mean() + lam * (y + delta * b - (y + delta * b).mean()), b) for lam in lambdas]
    sure = cb.SureRisk(y, b, SIGMA, delta, perturbed)
    _, logs = drive(sure, frames)
    # the divergence estimate of this smoother, in closed form: mean(b)^2 + lambda (mean(b^2) - mean(b)^2)
    div = [b.mean() ** 2 + lam * (np.mean(b**2) - b.mean() ** 2) for lam in lambdas]
    expected = [np.mean((y - f) ** 2) - SIGMA**2 + 2 * SIGMA**2 * d for f, d in zip(frames, div)]
    assert np.allclose([lg["sure"] for lg in logs], expected, atol=1e-6)
    assert sure.best_step == int(np.argmin(expected)) + 1 < len(frames) - 5
    assert np.array_equal(sure.best_image, frames[sure.best_step - 1])
    blind = cb.SureRisk(y, b, SIGMA, delta, [probe(f, b) for f in frames])  # no divergence: the loss alone
    drive(blind, frames)
    assert blind.best_step == len(frames)  # the break: it stops at the noisiest step


def test_backtracking_undoes_a_fall_of_more_than_5_db_as_the_authors_code_does():
    frames = [np.zeros((2, 2, 1))] * 6
    back = cb.Backtracking()
    model, logs = drive(back, frames, psnr_measured=[20, 21, 22, 15, 16.5, 22.5])
    assert [lg["backtracked"] for lg in logs] == [0, 0, 0, 1, 1, 0]
    # step 4 fell 7 dB below step 3: the weights step 3 started from (after step 2's update) come back, twice
    assert back.steps == [4, 5] and model.restored == [2.0, 2.0]
    assert back.saved_psnr == 22.5


def test_backtracking_keeps_going_on_small_falls_and_treats_a_nan_as_a_fall():
    back = cb.Backtracking()
    _, logs = drive(back, [np.zeros((2, 2, 1))] * 4, psnr_measured=[20, 16, 12, float("nan")])
    assert [lg["backtracked"] for lg in logs] == [0, 0, 0, 1]  # 4 dB at a time: never 5 below the last good step


def result_with(**kwargs):
    base = dict(output=np.zeros((2, 2, 1)), average=np.ones((2, 2, 1)), history={"loss": np.zeros(7)}, snapshots={},
                es_step=None, es_output=None, seconds=1.0, config={"backtrack": False, "es_window": 100})  # fmt: skip
    return DIPResult(**{**base, **kwargs})


def test_pick_names_each_rule_and_says_what_a_run_lacks(tmp_path):
    r = result_with(sure_step=3, sure_output=np.full((2, 2, 1), 3.0), es_step=5, es_output=np.full((2, 2, 1), 5.0))
    assert r.pick("last")[0] == 7 and r.pick("average")[1].mean() == 1
    assert r.pick("sure")[0] == 3 and r.pick("es-wmv")[1].mean() == 5
    again = DIPResult.load(r.save(tmp_path / "r.npz"))
    assert again.pick("sure")[0] == 3 and np.array_equal(again.sure_output, r.sure_output)
    assert again.summary()["sure_step"] == 3
    bare = result_with()
    for rule, said in [("backtrack", "backtrack=True"), ("sure", "sure_sigma"), ("es-wmv", "es_window"),
                       ("oracle", "truth="), ("median", "one of")]:  # fmt: skip
        with pytest.raises(ValueError, match=said):
            bare.pick(rule)
    assert set(STOP_RULES) == {"last", "average", "backtrack", "es-wmv", "sure"}


def test_config_refuses_sigma_in_8_bit_units_and_sure_with_backtracking():
    with pytest.raises(ValueError, match="25 / 255"):
        dh.DIPConfig(sure_sigma=25).validate()
    with pytest.raises(ValueError, match="cannot be combined"):
        dh.DIPConfig(sure_sigma=0.1, backtrack=True).validate()
    with pytest.raises(ValueError, match="sure_delta"):
        dh.DIPConfig(sure_delta=0).validate()


def test_first_backtrack_finds_the_step_the_callback_undoes_and_none_on_a_calm_run():
    psnr = [20, 21, 22, 15, 16.5, 22.5]
    back = cb.Backtracking()
    drive(back, [np.zeros((2, 2, 1))] * len(psnr), psnr_measured=psnr)
    assert first_backtrack(psnr) == back.steps[0] == 4
    assert first_backtrack([20, 16, 12, 9]) is None  # 4 dB or less at a time
    assert first_backtrack([20, 21, float("nan")]) == 3


# --- the command line's --stop (the TensorFlow half only: the CLI is the same on every backend) ---------------------


@pytest.mark.parametrize(
    "rule, same_as",
    [
        ("last", "result.png"),
        ("average", "average.png"),
        ("backtrack", "result.png"),
        ("es-wmv", "es.png"),
        ("sure", None),
    ],
)
def test_cli_stop_writes_the_output_its_rule_picks(tmp_path, capsys, monkeypatch, rule, same_as):
    """chosen.png is the image ``result.pick(rule)`` gives; the summary, stderr and psnr.png name its step."""
    import matplotlib.pyplot as plt

    from dip_helpers import engine

    runs, figures, fit = [], [], engine.fit_dip
    monkeypatch.setattr(engine, "fit_dip", lambda *a, **k: runs.append(fit(*a, **k)) or runs[-1])
    monkeypatch.setattr(plt, "close", figures.append)  # keep psnr.png's figure, to read its marks
    steps = 110 if rule == "es-wmv" else 20  # ES-WMV's window is 100 outputs
    out = tmp_path / "run"
    code, said, err = run_cli(
        capsys, "denoise", "camera", "--profile", "ci", "--size", "32", "--channels", "8", "--steps", str(steps),
        "--stop", rule, "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    (result,) = runs
    step, image = result.pick(rule)
    assert 1 <= step <= steps and (step == steps or rule in ("es-wmv", "sure"))
    assert step >= 100 or rule != "es-wmv"
    assert np.abs(dh.load_image(out / "chosen.png") - image).max() <= 0.5 / 255 + 1e-6
    if same_as:
        assert (out / "chosen.png").read_bytes() == (out / same_as).read_bytes()
    assert result.config["backtrack"] == ("backtracked" in result.history) == (rule == "backtrack")
    assert result.config["sure_sigma"] == pytest.approx(25 / 255 if rule == "sure" else 0.0)
    assert ("sure" in result.history) == (rule == "sure")
    if rule == "sure":  # the step of the least estimated error
        assert step == int(np.argmin(result.history["sure"])) + 1
    summary = json.loads(said.strip().splitlines()[-1])
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["stop"] == {"rule": rule, "step": step}
    truth = dh.resize_image(dh.load_image("camera"), 32)
    assert summary["psnr_chosen"] == pytest.approx(dh.psnr(truth, image))
    assert err.count(f"chosen: {rule} at step {step} (chosen.png)\n") == 1
    marks = [line for line in figures[-1].axes[0].get_lines() if line.get_label().startswith("chosen")]
    assert [(m.get_label(), list(m.get_xdata())) for m in marks] == [(f"chosen: {rule} (step {step})", [step, step])]


@pytest.mark.parametrize(
    "options, message",
    [
        (("--sigma", "0", "--stop", "sure"), "--stop sure needs the noise level: give --sigma (e.g. --sigma 25)"),
        (
            ("--steps", "99", "--stop", "es-wmv"),
            "--stop es-wmv needs at least 100 steps (ES-WMV's window): give --steps 100 or more",
        ),
    ],
)
def test_cli_stop_refuses_a_rule_the_run_could_not_answer_before_the_fit(tmp_path, capsys, monkeypatch, options,
                                                                         message):  # fmt: skip
    from dip_helpers import engine

    monkeypatch.setattr(engine, "fit_dip", lambda *a, **k: pytest.fail("the fit ran"))
    code, said, err = run_cli(capsys, "denoise", "camera", "--profile", "ci", *options, "--out", str(tmp_path / "run"))
    assert code == 2 and err == f"error: {message}\n" and said == ""
    assert list(tmp_path.iterdir()) == []


def test_the_readme_shell_commands_parse_and_show_every_stopping_rule():
    import re
    import shlex
    from pathlib import Path

    from dip_helpers.__main__ import build_parser
    from dip_helpers.engine import STOP_RULES

    readme = (Path(dh.__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("From the shell:") :]
    section = section[: section.index("\n## ")]
    commands = re.findall(r"^\S*python -m dip_helpers (.*?)(?:\s+#.*)?$", section, re.M)
    parsed = [build_parser().parse_args(shlex.split(c)) for c in commands]  # a wrong option exits here
    assert {a.command for a in parsed} >= {"denoise", "inpaint", "superres", "bench"}
    assert {a.stop for a in parsed if a.command == "denoise"} > {"last"}  # one command shows --stop
    for rule in STOP_RULES:
        assert f"`{rule}`" in section, rule
