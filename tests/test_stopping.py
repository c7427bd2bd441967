"""The stopping rules on cases whose answer is known: SURE on a linear smoother, each callback's pick on a scripted
run, and the breaks the tests must catch."""

import numpy as np
import pytest

import dip_helpers as dh
from dip_helpers.engine import callbacks as cb
from dip_helpers.engine.result import STOP_RULES, DIPResult
from dip_helpers.engine.stopping import probe, sure_direction, sure_risk

SIGMA = 0.1


def box_blur(img):
    """A linear smoother ``H``: the 3x3 mean with wrap-around edges (its trace is N / 9, so is that of H^T H)."""
    return sum(np.roll(img, (i, j), axis=(0, 1)) for i in (-1, 0, 1) for j in (-1, 0, 1)) / 9


def sure_draws(with_divergence: bool = True, draws: int = 400, eps: float = 1e-3):
    """SURE of the smoother on ``draws`` noisy versions of one image, and the smoother's true risk (closed form)."""
    x = dh.load_image("camera", size=32)[..., 0].astype(np.float64)
    rng = np.random.default_rng(0)
    risks = []
    for _ in range(draws):
        y = x + SIGMA * rng.standard_normal(x.shape)
        b = rng.standard_normal(x.shape)
        fy = box_blur(y)
        mse_y = np.mean((y - fy) ** 2)
        perturbed = probe(box_blur(y + eps * b), b) if with_divergence else probe(fy, b)
        risks.append(sure_risk(mse_y, probe(fy, b), perturbed, SIGMA, eps))
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
    b, eps = sure_direction(y.shape, 0), 1e-3
    lambdas = np.linspace(0.05, 1, 40)  # output t = mean(y) + lambda_t (y - mean(y)): towards y as t grows
    frames = [y.mean() + lam * (y - y.mean()) for lam in lambdas]
    perturbed = [probe((y + eps * b).mean() + lam * (y + eps * b - (y + eps * b).mean()), b) for lam in lambdas]
    sure = cb.SureRisk(y, b, SIGMA, eps, perturbed)
    _, logs = drive(sure, frames)
    # the divergence estimate of this smoother, in closed form: mean(b)^2 + lambda (mean(b^2) - mean(b)^2)
    div = [b.mean() ** 2 + lam * (np.mean(b**2) - b.mean() ** 2) for lam in lambdas]
    expected = [np.mean((y - f) ** 2) - SIGMA**2 + 2 * SIGMA**2 * d for f, d in zip(frames, div)]
    assert np.allclose([lg["sure"] for lg in logs], expected, atol=1e-6)
    assert sure.best_step == int(np.argmin(expected)) + 1 < len(frames) - 5
    assert np.array_equal(sure.best_image, frames[sure.best_step - 1])
    blind = cb.SureRisk(y, b, SIGMA, eps, [probe(f, b) for f in frames])  # no divergence: the loss alone
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
    with pytest.raises(ValueError, match="sure_eps"):
        dh.DIPConfig(sure_eps=0).validate()
