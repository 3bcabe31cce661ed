"""Paired comparisons: hand-computed small cases for every function of analysis/paired.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from lstm_odyssey.analysis.paired import (
    Decision,
    Design,
    Differences,
    Family,
    Pairing,
    Verdict,
    compare_task,
    decide,
    n_equivalence,
    paired_differences,
    paired_n_difference,
    paired_test,
    seed_means,
    smallest_n,
    tost_power,
    welch_detectable_effect,
    welch_n_difference,
    welch_n_equivalence,
)


def rows(variant, config, test, replicate=None, valid=None):
    return {"config_id": config, "variant": variant, "outcome_test": test,
            "outcome_valid": test if valid is None else valid, "replicate": replicate}


def diffs(delta, variant="A"):
    delta = np.asarray(delta, float)
    return Differences(variant, "V", Pairing.ALL, tuple(range(len(delta))), delta, 0)


def test_seed_means_average_each_seed_once():
    df = pd.DataFrame([
        rows("V", 0, 1.0, 0), rows("V", 0, 3.0, 1),            # two seeds: mean 2
        rows("A", 0, 4.0, 0), rows("A", 0, 6.0, 0),            # seed 0 run twice: 5 ...
        rows("A", 0, 9.0, 1),                                  # ... and seed 1: mean 7
        rows("A", 1, math.nan, 0), rows("V", 1, 2.0, None),    # no outcome; None = seed 0
    ])
    m = seed_means(df)
    assert m.loc[0, "V"] == 2.0 and m.loc[0, "A"] == 7.0
    assert m.loc[1, "V"] == 2.0 and np.isnan(m.loc[1, "A"])
    assert seed_means(df.drop(columns="replicate")).loc[0, "A"] == pytest.approx(19 / 3)


def test_paired_differences_on_configurations_both_completed():
    df = pd.DataFrame([rows("V", 0, 1.0), rows("A", 0, 1.5), rows("V", 1, 2.0),
                       rows("A", 1, 1.0), rows("V", 2, 3.0), rows("A", 2, math.nan),
                       rows("B", 0, 9.0)])
    d = paired_differences(df, "A", "V")
    assert d.config_ids == (0, 1) and list(d.delta) == [0.5, -1.0] and d.unpaired == 1
    assert d.pairing == Pairing.ALL and d.n == 2
    assert paired_differences(df, "C", "V").n == 0


def test_either_top_pairing_is_the_union_of_both_tops():
    # valid ranks: V best on configs 0, 1; A best on configs 6, 7; fraction 0.25 of 8 = 2
    v = [rows("V", j, 10.0 + j, valid=float(j)) for j in range(8)]
    a = [rows("A", j, 20.0 + j, valid=float(10 - j)) for j in range(8)]
    d = paired_differences(pd.DataFrame(v + a), "A", "V", Pairing.EITHER_TOP, fraction=0.25)
    assert d.config_ids == (0, 1, 6, 7) and list(d.delta) == [10.0] * 4
    assert paired_differences(pd.DataFrame(v + a), "A", "V").n == 8


def test_paired_test_by_hand():
    # Δ = 1..5: mean 3, s = √2.5, se = √0.5, df 4; t_{0.95,4} = 2.131847
    t = paired_test(diffs([1, 2, 3, 4, 5]), margin=5.0, alpha=0.05, task="jsb")
    se, tq = math.sqrt(0.5), 2.131846786
    assert (t.task, t.variant, t.n, t.mean, t.median) == ("jsb", "A", 5, 3.0, 3.0)
    assert t.sd == pytest.approx(math.sqrt(2.5))
    assert t.equivalence_ci == pytest.approx((3 - tq * se, 3 + tq * se), abs=1e-6)
    assert t.lower_bound == pytest.approx(3 - tq * se, abs=1e-6)
    # t = 3/se = 4.2426 on 4 df: two-sided p = 0.013245, one-sided 0.006623
    assert t.p_difference == pytest.approx(0.013245, abs=1e-5)
    assert t.p_worse == pytest.approx(0.0066225, abs=1e-5)
    assert t.p_better == pytest.approx(1 - 0.0066225, abs=1e-5)
    # TOST against ±5: the upper side (3 − 5)/se = −2.8284 decides, p = 0.023710
    assert t.p_equivalence == pytest.approx(0.023710, abs=1e-5)
    # no gain: (3 + 5)/se = 11.31 on 4 df, p = 1.7e-4
    assert t.p_no_gain == pytest.approx(1.73e-4, rel=0.02) and t.no_gain
    # signed ranks all positive, n = 5 exact: P(W+ = 15) = 1/32
    assert t.wilcoxon_p == pytest.approx(2 / 32) and t.wilcoxon_p_worse == pytest.approx(1 / 32)
    assert t.wilcoxon_p_better == pytest.approx(1.0)
    assert t.ci_mean[0] < 3 < t.ci_mean[1] and t.ci_median[0] <= 3 <= t.ci_median[1]
    again = paired_test(diffs([1, 2, 3, 4, 5]), margin=5.0)
    assert again.ci_mean == t.ci_mean                    # a fixed seed: deterministic
    lean = paired_test(diffs([1, 2, 3, 4, 5]), margin=5.0, companions=False)
    assert lean.p_equivalence == t.p_equivalence and np.isnan(lean.wilcoxon_p)


def test_constant_and_too_few_samples():
    c = paired_test(diffs([0.01] * 4), margin=0.05)
    assert c.p_equivalence == 0.0 and c.p_difference == 0.0 and c.equivalence_ci == (0.01, 0.01)
    assert c.ci_mean == (0.01, 0.01) and c.p_worse == 0.0 and c.p_better == 1.0
    z = paired_test(diffs([0.0] * 4), margin=0.05)
    assert z.p_difference == 1.0 and z.wilcoxon_p == 1.0 and z.p_equivalence == 0.0
    few = paired_test(diffs([1.0, 2.0]), margin=1.0)
    assert few.n == 2 and few.mean == 1.5 and np.isnan(few.p_difference)
    (d,) = decide([few], Family("one", ("A",)))
    assert d.verdict == Verdict.TOO_FEW and d.n_needed is None


def test_holm_by_hand():
    f = Family("three", ("a", "b", "c"))
    f8 = Family("eight", tuple("abcdefgh"))
    # sorted 0.01, 0.03, 0.04 → 3·0.01, 2·0.03, 1·0.04, running max → 0.03, 0.06, 0.06
    assert f.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = Family("with a gap", ("a", "b", "c")).holm([0.01, math.nan, 0.04])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)
    rng = np.random.default_rng(5)
    for _ in range(3):      # statsmodels' Holm collects garbage on every call: slow
        p = rng.uniform(0, 0.2, 8)
        assert f8.holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    with pytest.raises(ValueError, match="has 3 members, got 2"):
        f.holm([0.1, 0.2])
    assert Family.per_task("jsb", "V", ["NP", "CIFG"]) == Family(
        "jsb: 2 comparisons against V", ("NP", "CIFG"))


def test_verdicts_within_a_family():
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(200)
    noise = (noise - noise.mean()) / noise.std(ddof=1)        # exactly mean 0, SD 1
    tests = [paired_test(diffs(m + s * noise, v), margin=0.5, companions=False)
             for v, m, s in [("worse", 1.0, 1.0), ("better", -1.0, 1.0), ("same", 0.0, 0.5),
                             ("small", 0.2, 0.3), ("open", 0.1, 3.0)]]
    family = Family("five", ("worse", "better", "same", "small", "open"))
    out = {d.test.variant: d for d in decide(tests, family)}
    assert {v: d.verdict for v, d in out.items()} == {
        "worse": Verdict.WORSE, "better": Verdict.BETTER, "same": Verdict.EQUIVALENT,
        "small": Verdict.EQUIVALENT, "open": Verdict.UNDECIDED}
    assert out["small"].significant and not out["same"].significant   # detectable, yet < margin
    op = out["open"]
    # sample sizes at α/5 with the sample's own mean 0.1 and SD 3
    assert op.n_difference == paired_n_difference(0.1, 3.0, 0.01)
    assert op.n_equivalence == n_equivalence(0.1, 3.0, 0.5, 0.01)
    assert op.n_needed == min(op.n_difference, op.n_equivalence) == op.n_equivalence
    assert out["worse"].n_needed is None and out["worse"].n_equivalence is None
    assert isinstance(op, Decision) and op.family is family
    only_diff = decide(tests, family, equivalence=False)
    assert only_diff[2].verdict == Verdict.UNDECIDED and np.isnan(only_diff[2].p_equivalence_holm)
    with pytest.raises(ValueError, match="lists"):
        decide(tests[:2], family)


def test_sample_sizes_against_textbook_values():
    # Cohen's tables, α = 0.05 two-sided, power 0.8
    assert paired_n_difference(0.5, 1.0) == 34            # one-sample t, d = 0.5
    assert paired_n_difference(-0.5, 1.0) == 34
    assert welch_n_difference(0.5, 1.0) == 64             # two-sample t, d = 0.5, per arm
    assert welch_detectable_effect(10, 2.0) == pytest.approx(2 * 1.3249, abs=2e-3)
    assert welch_detectable_effect(64, 1.0) == pytest.approx(0.5, abs=0.01)
    assert paired_n_difference(0.0, 1.0) is None and welch_n_difference(0.0, 1.0) is None
    assert paired_n_difference(0.5, 0.0) == 3
    # TOST, δ = 0: normal approximation n ≈ (z_{0.95} + z_{0.90})²·(σ/m)², t adds a little
    z = (1.6449 + 1.2816) ** 2
    assert z * 4 < n_equivalence(0.0, 1.0, 0.5) <= z * 4 + 3          # paired: 34.3 → 36
    assert z * 8 < welch_n_equivalence(0.0, 1.0, 0.5) <= z * 8 + 3    # per arm: 68.5 → 70
    assert n_equivalence(0.5, 1.0, 0.5) is None and n_equivalence(0.6, 1.0, 0.5) is None


def test_tost_power_limits():
    assert tost_power(0.0, 0.0, 1.0, 5) == 1.0 and tost_power(1.0, 0.0, 1.0, 5) == 0.0
    assert tost_power(0.0, 1.0, 0.5, 1) == 0.0
    assert tost_power(0.0, 1.0, 0.5, 10**5) == pytest.approx(1.0)
    assert tost_power(0.5, 1.0, 0.5, 10**5) <= 0.05 + 1e-9           # at the margin: ≤ α
    assert tost_power(0.0, 1.0, 0.5, 8) == 0.0                       # clipped at 0
    assert (tost_power(0.0, 1.0, 0.5, 40, design=Design.TWO_SAMPLE)
            < tost_power(0.0, 1.0, 0.5, 40))                          # two samples: se·√2
    assert Design.PAIRED.df(10) == 9 and Design.TWO_SAMPLE.df(10) == 18


def test_smallest_n():
    assert smallest_n(lambda n: n / 100, 0.8) == 80
    assert smallest_n(lambda n: 1.0, 0.8) == 2
    assert smallest_n(lambda n: 0.0, 0.8, n_max=1000) is None


def test_compare_task_on_a_table():
    rng = np.random.default_rng(0)
    base = rng.normal(10, 2, 40)
    rows_ = [rows(v, j, base[j] + off + rng.normal(0, 0.1))
             for v, off in [("V", 0.0), ("WORSE", 1.0), ("SAME", 0.0)] for j in range(40)]
    out = compare_task(pd.DataFrame(rows_), "t", margin=0.3, n_resamples=200)
    assert [d.test.variant for d in out] == ["WORSE", "SAME"]
    assert [d.verdict for d in out] == [Verdict.WORSE, Verdict.EQUIVALENT]
    assert out[0].family.name == "t: 2 comparisons against V"
    assert out[0].test.mean == pytest.approx(1.0, abs=0.05)
