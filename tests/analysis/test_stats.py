"""Statistics against scipy and hand computations on fixed samples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lstm_odyssey.analysis.stats import (
    TOO_FEW,
    compare_variants,
    holm,
    top_trials,
    variant_summary,
    welch,
)

# Two variants of one task, 10 configurations each (fraction 0.3 → best 3 by validation).
V_VALID = [5.0, 1.0, 3.0, 9.0, 2.0, 8.0, 7.0, 6.0, 4.0, 10.0]
V_TEST = [50.0, 10.0, 30.0, 90.0, 21.0, 80.0, 70.0, 60.0, 40.0, 100.0]
X_VALID = [2.0, 3.0, 1.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, math.nan]
X_TEST = [26.0, 33.0, 24.0, 35.0, 41.0, 60.0, 70.0, 80.0, 90.0, math.nan]


def table() -> pd.DataFrame:
    rows = []
    for variant, valid, test in (("V", V_VALID, V_TEST), ("NFG", X_VALID, X_TEST)):
        for cid, (v, t) in enumerate(zip(valid, test)):
            failed = math.isnan(v)
            rows.append({"task": "t", "variant": variant, "config_id": cid,
                         "status": "diverged" if failed else "complete",
                         "valid_metric": v, "test_metric": t, "n_parameters": 100.0,
                         "wall_time_s": 1.0, "epochs": 20, "max_epochs": 30})
    return pd.DataFrame(rows)


def test_top_fraction_is_chosen_by_validation_not_test() -> None:
    df = table()
    top = top_trials(df[df.variant == "V"], 0.3)
    assert sorted(top["test_metric"]) == [10.0, 21.0, 30.0]
    top_x = top_trials(df[df.variant == "NFG"], 0.3)  # the diverged trial counts, never chosen
    assert sorted(top_x["test_metric"]) == [24.0, 26.0, 33.0]


def test_welch_matches_the_formula_and_scipy() -> None:
    a, b = np.array([24.0, 26.0, 33.0]), np.array([10.0, 21.0, 30.0])
    t, p = welch(a, b)
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 3
    assert t == pytest.approx((a.mean() - b.mean()) / math.sqrt(va + vb))
    dof = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    assert p == pytest.approx(2 * stats.t.sf(abs(t), dof))
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_compare_variants_on_fixed_samples() -> None:
    row = compare_variants(table(), fraction=0.3, fractions=(0.3, 0.5), n_resamples=999).iloc[0]
    a, b = np.array([24.0, 26.0, 33.0]), np.array([10.0, 21.0, 30.0])
    assert row["variant"] == "NFG" and row["n_top"] == 3 and row["n_top_ref"] == 3
    assert row["diff"] == pytest.approx(a.mean() - b.mean())
    assert row["welch_p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert row["mwu_p"] == pytest.approx(
        stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert row["holm_p"] == pytest.approx(row["welch_p"])  # one comparison: no correction
    assert row["ci_low"] < row["diff"] < row["ci_high"]
    # Paired: the 9 configurations that completed in both variants.
    d = np.array(X_TEST[:9]) - np.array(V_TEST[:9])
    assert row["paired_n"] == 9
    assert row["paired_p"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert row["paired_median_diff"] == pytest.approx(np.median(d))
    assert row["failure_rate"] == pytest.approx(0.1)
    assert row["divergence_rate"] == pytest.approx(0.1)
    # best 50 %: V {10,21,30,40,50}, NFG {24,26,33,35,41} → Welch p≈0.83, not significant
    assert row["verdict_top50"] == "n.s."


def test_verdict_follows_sign_and_level() -> None:
    df = table()
    df.loc[df.variant == "NFG", "test_metric"] += 100  # clearly worse
    row = compare_variants(df, fraction=0.3, n_resamples=99).iloc[0]
    assert row["verdict"] == "worse" and row["welch_p"] < 0.05
    df.loc[df.variant == "NFG", "test_metric"] -= 200  # clearly better
    row = compare_variants(df, fraction=0.3, n_resamples=99).iloc[0]
    assert row["verdict"] == "better" and row["diff"] < 0


def test_holm_against_hand_computation() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.2, math.nan, 0.9])
    assert out[0] == pytest.approx(0.4) and math.isnan(out[1]) and out[2] == pytest.approx(0.9)


def test_tiny_samples_say_too_few_trials() -> None:
    df = table()
    tiny = df[df.config_id < 3]  # three trials per variant: best 10 % is one trial
    res = compare_variants(tiny, n_resamples=99)
    assert (res["verdict"] == TOO_FEW).all() and (res["verdict_holm"] == TOO_FEW).all()
    assert res["welch_p"].isna().all() and res["ci_low"].isna().all()
    summary = variant_summary(tiny)
    assert list(summary["trials"]) == [3, 3]


def test_variant_summary_rates() -> None:
    df = table()
    lost = df.iloc[[0]].assign(status="lost", valid_metric=math.nan, test_metric=math.nan)
    s = variant_summary(pd.concat([df, lost], ignore_index=True), fraction=0.3)
    s = s.set_index("variant")
    assert s.loc["V", "trials"] == 10  # the trial lost with its worker was re-run: not one more
    assert s.loc["NFG", "complete"] == 9 and s.loc["NFG", "divergence_rate"] == pytest.approx(0.1)
    assert s.loc["V", "mean_test_top30"] == pytest.approx(np.mean([10.0, 21.0, 30.0]))
    assert s.loc["V", "median_test_all"] == pytest.approx(np.median(V_TEST))


def test_variant_summary_counts_the_best_trials_run_to_the_epoch_cap() -> None:
    df = table()
    # V's best three by validation are configurations 1, 4, 2; two of them ran all 30 epochs,
    # and so did configuration 9, which is not among the best
    df.loc[(df.variant == "V") & df.config_id.isin([1, 2, 9]), "epochs"] = 30
    s = variant_summary(df, fraction=0.3).set_index("variant")
    assert s.loc["V", "capped_top30"] == 2 and s.loc["NFG", "capped_top30"] == 0


def test_a_run_stopped_at_the_time_budget_is_a_result() -> None:
    """The sweep tells a ``time_limit`` run COMPLETE with its best epoch's metrics."""
    df = table()
    df.loc[(df.variant == "V") & (df.config_id == 1), "status"] = "time_limit"  # V's best
    assert sorted(top_trials(df[df.variant == "V"], 0.3)["test_metric"]) == [10.0, 21.0, 30.0]
    s = variant_summary(df, fraction=0.3).set_index("variant")
    assert s.loc["V", "complete"] == 10 and s.loc["V", "failure_rate"] == 0
    assert compare_variants(df, fraction=0.3, n_resamples=99).iloc[0]["paired_n"] == 9
