"""fANOVA against functions with a known variance decomposition and against Optuna."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from lstm_odyssey.analysis.fanova import Fanova, FanovaError
from lstm_odyssey.analysis.importance import training_time
from lstm_odyssey.analysis.table import Dim

N, TREES = 300, 32
CUBE = {k: Dim(-1.0, 1.0, False) for k in ("x1", "x2", "x3")}


def cube(seed: int = 0, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({k: rng.uniform(-1, 1, n) for k in CUBE})


def mains(fa: Fanova) -> dict[str, float]:
    return dict(zip(fa.main_effects()["param"], fa.main_effects()["mean"]))


def pair(fa: Fanova, a: str, b: str) -> float:
    p = fa.pair_effects()
    return float(p[(p.param_a == a) & (p.param_b == b)]["mean"].iloc[0])


@pytest.mark.parametrize("a,b", [(3.0, 1.0), (1.0, 1.0), (1.0, 2.0)])
def test_additive_fractions_are_a2_over_a2_plus_b2(a: float, b: float) -> None:
    X = cube()
    fa = Fanova(X, a * X.x1 + b * X.x2, CUBE, n_trees=TREES)
    m = mains(fa)
    assert m["x1"] == pytest.approx(a**2 / (a**2 + b**2), abs=0.05)
    assert m["x2"] == pytest.approx(b**2 / (a**2 + b**2), abs=0.05)
    assert m["x3"] < 0.01  # irrelevant parameter
    assert pair(fa, "x1", "x2") < 0.03
    assert fa.unexplained()[0] < 0.03
    assert fa.oob_r2 > 0.95


def test_pure_interaction_is_carried_by_the_pair() -> None:
    X = cube()
    fa = Fanova(X, X.x1 * X.x2, CUBE, n_trees=TREES)
    m = mains(fa)
    assert pair(fa, "x1", "x2") > 0.8
    assert m["x1"] < 0.1 and m["x2"] < 0.1 and m["x3"] < 0.02
    assert pair(fa, "x1", "x3") < 0.03 and pair(fa, "x2", "x3") < 0.03


def test_log_scaled_parameter_is_integrated_in_log_space() -> None:
    """f = log10(lr) + 4·x: Var over log10 lr ∈ [−6, −2] is 16/12, over x ∈ [0, 1] 16/12, so
    each explains half. On the raw lr scale almost all of the box has lr near 1e-2, where f is
    nearly flat, and the learning rate looks unimportant."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"lr": 10 ** rng.uniform(-6, -2, N), "x": rng.uniform(0, 1, N)})
    y = np.log10(X.lr) + 4 * X.x
    logged = mains(Fanova(X, y, {"lr": Dim(1e-6, 1e-2, True), "x": Dim(0, 1, False)},
                          n_trees=TREES))
    raw = mains(Fanova(X, y, {"lr": Dim(1e-6, 1e-2, False), "x": Dim(0, 1, False)},
                       n_trees=TREES))
    assert logged["lr"] == pytest.approx(0.5, abs=0.06)
    assert logged["x"] == pytest.approx(0.5, abs=0.06)
    assert raw["lr"] < 0.2  # the raw-scale integration gets it wrong


def test_main_effects_agree_with_optuna_on_linear_parameters() -> None:
    X = cube(seed=3)
    y = 2 * X.x1 + np.sin(2 * X.x2) + 0.3 * X.x3
    dists = {k: optuna.distributions.FloatDistribution(-1, 1) for k in CUBE}
    study = optuna.create_study()
    study.add_trials([optuna.trial.create_trial(params=dict(r), distributions=dists, value=v)
                      for r, v in zip(X.to_dict("records"), y)])
    theirs = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(n_trees=32, seed=0))
    m = mains(Fanova(X, y, CUBE, n_trees=32))  # the same forest as Optuna's
    total = sum(m.values())
    for k in CUBE:
        assert m[k] / total == pytest.approx(theirs[k], abs=0.01), k


def test_marginal_curve_follows_the_main_effect() -> None:
    X = cube()
    fa = Fanova(X, 3 * X.x1 + X.x2, CUBE, n_trees=TREES)
    m = fa.marginal("x1", 21)
    inner = m[(m.x > -0.8) & (m.x < 0.8)]
    assert np.abs(inner["mean"] - 3 * inner["x"]).max() < 0.5
    assert (m["std"] >= 0).all() and m["std"].max() < 1.0
    _xa, _xb, mean, std = fa.marginal_pair("x1", "x2", 11)
    assert mean.shape == std.shape == (11, 11)
    assert mean[-1, -1] - mean[0, 0] == pytest.approx(8.0, abs=1.2)  # 3·2 + 1·2


def test_marginal_x_is_in_raw_units_for_log_parameters() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"lr": 10 ** rng.uniform(-6, -2, 100), "x": rng.uniform(0, 1, 100)})
    fa = Fanova(X, np.log10(X.lr), {"lr": Dim(1e-6, 1e-2, True), "x": Dim(0, 1, False)},
                n_trees=8)
    m = fa.marginal("lr", 5)
    assert m["x"].to_numpy() == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    assert m["mean"].is_monotonic_increasing


def test_seeded_and_deterministic() -> None:
    X = cube()
    y = X.x1 + X.x2 * X.x3
    a, b = Fanova(X, y, CUBE, n_trees=8, seed=5), Fanova(X, y, CUBE, n_trees=8, seed=5)
    pd.testing.assert_frame_equal(a.main_effects(), b.main_effects())
    pd.testing.assert_frame_equal(a.pair_effects(), b.pair_effects())


def test_too_few_trials_is_a_user_error() -> None:
    X = cube(n=3)
    with pytest.raises(FanovaError, match="at least 4"):
        Fanova(X, X.x1, CUBE)


def test_oob_r2_ignores_samples_that_no_tree_left_out() -> None:
    """With 4 trees about 16 % of the samples are in every bootstrap sample; scikit-learn's
    oob_score_ scores them as predicted 0, which would make a near-perfect fit look useless."""
    X = cube()
    y = 10 + 3 * X.x1 + X.x2
    fa = Fanova(X, y, CUBE, n_trees=4)
    assert fa.oob_r2 > 0.8
    assert fa.forest.oob_score_ < 0  # what the fix avoids


def test_marginal_plots_span_the_studys_own_search_space(tmp_path, monkeypatch) -> None:
    """A smoke-sized space (hidden size 4–12, learning rate 1e-3–1e-1, noise 0–0.5): every
    axis of Fig. 4 and Fig. 6 is that range, not the paper's (20–200, 1e-6–1e-2, 0–1)."""
    from lstm_odyssey.analysis import figures
    from lstm_odyssey.analysis.fanova import Fanova
    from lstm_odyssey.analysis.table import Dim

    space = {"hidden_size": Dim(4, 12, True, True), "learning_rate": Dim(1e-3, 1e-1, True),
             "input_noise": Dim(0.0, 0.5, False)}
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"hidden_size": rng.integers(4, 13, 60),
                      "learning_rate": 10 ** rng.uniform(-3, -1, 60),
                      "input_noise": rng.uniform(0, 0.5, 60)})
    y = (np.log10(X["learning_rate"]) + 2) ** 2 + 1 / X["hidden_size"] + X["input_noise"]
    fa = Fanova(X, y, space, n_trees=8)
    shown = []
    monkeypatch.setattr(figures, "save", lambda fig, out_dir, name: shown.append(fig))
    figures.marginals(fa, fa, "t", "nll_per_step", tmp_path)
    figures.interactions(fa, "t", "nll_per_step", tmp_path)
    marg, inter = shown
    for ax in marg.axes:
        param = {v: k for k, v in figures.LABELS.items()}[ax.get_xlabel()]
        assert ax.get_xlim() == pytest.approx((space[param].low, space[param].high))
    hidden = next(ax for ax in marg.axes if ax.get_xlabel() == "hidden size")
    assert [t.get_text() for t in hidden.get_xticklabels()] == ["5", "10"]
    for ax in inter.axes:
        if ax.get_xlabel() == "learning rate":
            assert ax.get_xlim() == pytest.approx((1e-3, 1e-1))
            param = {v: k for k, v in figures.LABELS.items()}[ax.get_ylabel()]
            assert ax.get_ylim() == pytest.approx((space[param].low, space[param].high))


def test_per_tree_effects_and_marginals_are_what_the_summaries_average() -> None:
    X = cube()
    fa = Fanova(X, 3 * X.x1 + X.x2 + 3 * X.x1 * X.x3, CUBE, n_trees=TREES)
    trees = fa.tree_main_effects()
    assert trees.shape == (TREES, 3)
    assert np.allclose(trees.mean().to_numpy(), fa.main_effects()["mean"])
    assert np.allclose(trees.std(ddof=0).to_numpy(), fa.main_effects()["std"])
    pairs = fa.tree_pair_effects()
    assert list(pairs.columns) == [("x1", "x2"), ("x1", "x3"), ("x2", "x3")]
    assert np.allclose(pairs.mean().to_numpy(), fa.pair_effects()["mean"])
    assert pairs[("x1", "x3")].min() > pairs[("x1", "x2")].max()  # the planted pair, per tree
    x, per_tree = fa.tree_marginals("x1", 11)
    assert per_tree.shape == (TREES, 11)
    assert np.allclose(per_tree.mean(0), fa.marginal("x1", 11)["mean"]) and x[0] == -1.0


def test_training_time_is_cpu_time_where_recorded() -> None:
    """The time forest's target: CPU time of the training process (the compute, whatever
    else loads the machine); wall time only where no trial recorded CPU time; never a mix."""
    trials = pd.DataFrame({"wall_time_s": [100.0, 90.0, 80.0],
                           "cpu_time_s": [60.0, None, 70.0]})
    assert training_time(trials).fillna(-1).tolist() == [60.0, -1, 70.0]
    assert training_time(trials.drop(columns="cpu_time_s")).tolist() == [100.0, 90.0, 80.0]
    assert training_time(trials.assign(cpu_time_s=None)).tolist() == [100.0, 90.0, 80.0]
