"""Calibration by simulation, at the variances of the shipped study (odyssey-free-2).

Per task, from results/odyssey-free-2/report/trials.csv (scored): the number of configurations
n, the SD of vanilla's test outcome across configurations (σ_y) and the median over the eight
variants of the SD of the paired Δ (σ_Δ). A simulated study draws, per configuration j, a
configuration effect c_j ~ N(0, σ_y² − σ_Δ²/2) shared by all nine arms and an arm noise
e_vj ~ N(0, σ_Δ²/2), y_vj = c_j + e_vj (+ a planted effect), so Var(y) = σ_y², Var(Δ) = σ_Δ²
and the eight Δs share the reference arm as in the study. Every rate is checked against the
binomial 99.9 % interval of its nominal value for the number of simulated comparisons.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind
from threadpoolctl import threadpool_limits

from lstm_odyssey.analysis.outcomes import score
from lstm_odyssey.analysis.paired import (
    Differences,
    Family,
    Pairing,
    Verdict,
    decide,
    n_equivalence,
    paired_differences,
    paired_n_difference,
    paired_test,
    welch_n_difference,
    welch_n_equivalence,
)
from lstm_odyssey.analysis.preregistration import DEFAULT_MARGINS

SHIPPED = Path(__file__).resolve().parents[2] / "results/odyssey-free-2/report/trials.csv"
TASKS = ("jsb", "timit-synth", "handwriting-synth")
VARIANTS = ("NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")
ALPHA, POWER = 0.05, 0.8
M = len(VARIANTS)
FAMILY = Family("simulated task: 8 comparisons against V", VARIANTS)


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Thousands of small dot products: BLAS threads only contend (100× slower on a busy
    machine)."""
    with threadpool_limits(limits=1):
        yield


def within_mc(hits: int, n: int, p: float) -> bool:
    """Whether hits/n lies in the binomial 99.9 % interval around p."""
    low, high = stats.binom.interval(0.999, n, p)
    return low <= hits <= high


def at_most_mc(hits: int, n: int, p: float) -> bool:
    return hits <= stats.binom.interval(0.999, n, p)[1]


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict]:
    trials = score(pd.read_csv(SHIPPED))
    out = {}
    for task in TASKS:
        tg = trials[trials["task"] == task]
        deltas = {v: paired_differences(tg, v, "V").delta for v in VARIANTS}
        v = tg[tg["variant"] == "V"]["outcome_test"].dropna()
        out[task] = {"n": len(v), "sd_y": float(v.std()), "deltas": deltas,
                     "sd_delta": float(np.median([d.std(ddof=1) for d in deltas.values()]))}
    return out


def test_the_shipped_variances(shipped):
    """The simulation's inputs, as read (they fix the scale of every check below)."""
    assert [shipped[t]["n"] for t in TASKS] == [100, 60, 60]
    assert 0.1 < shipped["jsb"]["sd_delta"] < 0.3 < shipped["jsb"]["sd_y"]
    assert 1 < shipped["timit-synth"]["sd_delta"] < shipped["timit-synth"]["sd_y"]
    assert 10 < shipped["handwriting-synth"]["sd_delta"] < shipped["handwriting-synth"]["sd_y"]


def study(rng, n, sd_y, sd_delta, effects=None) -> np.ndarray:
    """Δ of the eight variants against V in one simulated study, shape (8, n)."""
    config = rng.normal(0, np.sqrt(max(sd_y**2 - sd_delta**2 / 2, 0)), n)
    arms = config + rng.normal(0, sd_delta / np.sqrt(2), (M + 1, n))
    delta = arms[1:] - arms[0]
    return delta if effects is None else delta + np.asarray(effects)[:, None]


def family_tests(deltas, margin):
    return [paired_test(Differences(v, "V", Pairing.ALL, (), d, 0), margin, ALPHA,
                        companions=False) for v, d in zip(VARIANTS, deltas)]


@pytest.mark.parametrize("task", TASKS)
def test_null_studies_give_false_verdicts_at_alpha(shipped, task):
    """No variant effect: the paired t rejects (worse or better) at α per comparison, each
    direction at α/2, and Holm keeps the family's chance of any false verdict at ≤ α."""
    s, margin = shipped[task], DEFAULT_MARGINS[task]
    rng = np.random.default_rng(11)
    studies, worse, better, any_false = 150, 0, 0, 0
    for _ in range(studies):
        tests = family_tests(study(rng, s["n"], s["sd_y"], s["sd_delta"]), margin)
        worse += sum(t.p_difference < ALPHA and t.mean > 0 for t in tests)
        better += sum(t.p_difference < ALPHA and t.mean < 0 for t in tests)
        verdicts = [d.verdict for d in decide(tests, FAMILY)]
        any_false += any(v in (Verdict.WORSE, Verdict.BETTER) for v in verdicts)
    comparisons = studies * M
    assert within_mc(worse + better, comparisons, ALPHA), (worse, better)
    assert within_mc(worse, comparisons, ALPHA / 2) and within_mc(better, comparisons, ALPHA / 2)
    assert at_most_mc(any_false, studies, ALPHA)


@pytest.mark.parametrize("task", TASKS)
def test_sign_flipped_shipped_differences_are_not_anticonservative(shipped, task):
    """The shipped Δs themselves — heavy-tailed, with ties at zero where both arms sat at the
    baseline — under the exchangeability null (each configuration's arms swapped at random):
    the t-based difference test rejects at no more than α."""
    deltas = shipped[task]["deltas"]
    rng = np.random.default_rng(12)
    studies, hits = 150, 0
    for _ in range(studies):
        flipped = [d * rng.choice([-1.0, 1.0], len(d)) for d in deltas.values()]
        hits += sum(t.p_difference < ALPHA for t in family_tests(flipped, DEFAULT_MARGINS[task]))
    assert at_most_mc(hits, studies * M, ALPHA), hits


def fixed_members(rng, n, sd, mean, margin):
    """Seven other members of the family, drawn once: their p-values only set Holm's steps."""
    return family_tests([rng.normal(mean, sd, n) for _ in range(M - 1)], margin)


@pytest.mark.parametrize("task", TASKS)
def test_a_margin_sized_effect_is_found_at_the_stated_power(shipped, task):
    """A variant worse by exactly the margin, with the study's σ_Δ, in a family of 8 with
    Holm: at n = paired_n_difference(margin, σ_Δ, α/8) configurations it is found WORSE at
    the target power."""
    sd, margin = shipped[task]["sd_delta"], DEFAULT_MARGINS[task]
    n = paired_n_difference(margin, sd, ALPHA / M, POWER)
    rng = np.random.default_rng(13)
    others = fixed_members(rng, n, sd, 0.0, margin)
    sims, found = 400, 0
    for _ in range(sims):
        planted = family_tests([rng.normal(margin, sd, n)], margin)[0]
        decisions = decide([planted, *others], Family("planted", (VARIANTS[0], *[
            t.variant for t in others])))
        found += decisions[0].verdict == Verdict.WORSE
    assert within_mc(found, sims, POWER), (n, found)


@pytest.mark.parametrize("task", TASKS)
def test_planted_equivalence_is_found_at_the_stated_power(shipped, task):
    """A variant with no effect, at n = n_equivalence(0, σ_Δ, margin, α/8) configurations:
    EQUIVALENT at the target power (the TOST power approximation is slightly conservative,
    not by more than Monte-Carlo error here); and a variant exactly at the margin is
    (falsely) called equivalent at most at α."""
    sd, margin = shipped[task]["sd_delta"], DEFAULT_MARGINS[task]
    n = n_equivalence(0.0, sd, margin, ALPHA / M, POWER)
    rng = np.random.default_rng(14)
    others = fixed_members(rng, n, sd, 10 * margin, margin)     # far from equivalent: TOST p ≈ 1
    sims, found, at_margin = 400, 0, 0
    for _ in range(sims):
        planted, edge = [
            paired_test(Differences(VARIANTS[0], "V", Pairing.ALL, (), d, 0), margin, ALPHA,
                        companions=False)
            for d in (rng.normal(0.0, sd, n), rng.normal(margin, sd, n))]
        family = Family("planted", (VARIANTS[0], *[t.variant for t in others]))
        found += decide([planted, *others], family)[0].verdict == Verdict.EQUIVALENT
        at_margin += edge.p_equivalence < ALPHA
    assert within_mc(found, sims, POWER), (n, found)
    assert at_most_mc(at_margin, sims, ALPHA), at_margin


def test_welch_rule_sample_sizes_deliver_their_power():
    """The Welch-rule sizes: two independent best-fraction samples of SD σ (jsb's vanilla
    best-10 % SD, 0.073 nats) and a difference of the margin, at α/8."""
    sd, margin, alpha = 0.073, DEFAULT_MARGINS["jsb"], ALPHA / M
    rng = np.random.default_rng(15)
    n = welch_n_difference(margin, sd, alpha, POWER)
    a, b = rng.normal(margin, sd, (2000, n)), rng.normal(0, sd, (2000, n))
    hits = int((stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue < alpha).sum())
    assert within_mc(hits, 2000, POWER), (n, hits)
    n_eq = welch_n_equivalence(0.0, sd, margin, alpha, POWER)
    sims = 400
    found = sum(ttost_ind(rng.normal(0, sd, n_eq), rng.normal(0, sd, n_eq), -margin,
                          margin)[0] < alpha for _ in range(sims))
    assert within_mc(found, sims, POWER), (n_eq, found)
