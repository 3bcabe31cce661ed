"""The outcome rules (no survivor bias), the power rule, the learnability gate and the small
statistics fixes, on hand-made trial tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.outcomes import TEST, VALID, Rule, rule_counts, score, strict
from lstm_odyssey.analysis.stats import (
    Verdict,
    compare_variants,
    learnability,
    n_top,
    powered,
    top_trials,
    welch,
)

NAN = math.nan


def trial(status: str, valid: float, test: float, baseline: float = 10.0, variant: str = "V",
          cid: int = 0) -> dict:
    return {"task": "t", "variant": variant, "config_id": cid, "status": status,
            "valid_metric": valid, "test_metric": test, "baseline_metric": baseline,
            "n_parameters": 1.0, "wall_time_s": 1.0}


def test_every_rule_on_one_table() -> None:
    df = score(pd.DataFrame([
        trial("complete", 3.0, 4.0),          # recorded
        trial("diverged", 5.0, 6.0),          # best epoch of a diverged run
        trial("diverged", NAN, NAN),          # before the first validation: the baseline
        trial("complete", 1e9, 2e9),          # blew up: clipped at the baseline
        trial("time_limit", 2.0, NAN),        # no finite test metric: the baseline
        trial("failed", 1.0, 1.0),            # an error: no outcome
        trial("diverged", NAN, NAN, baseline=NAN),  # and no baseline anywhere... see below
        trial("lost", NAN, NAN),              # its worker was stopped: left out, re-run
    ]))
    assert list(df["rule"]) == [Rule.RECORDED, Rule.BEST_EPOCH, Rule.AT_BASELINE, Rule.RECORDED,
                                Rule.AT_BASELINE, Rule.NONE, Rule.AT_BASELINE, Rule.NONE]
    # the seventh trial has no own baseline: it takes the task's median of the recorded ones
    assert list(df[TEST].fillna(-1)) == [4.0, 6.0, 10.0, 10.0, 10.0, -1, 10.0, -1]
    assert list(df["clipped"]) == [False, False, False, True, False, False, False, False]
    assert list(strict(df).index) == [0]
    counts = rule_counts(df)
    assert counts == {"best_epoch": 1, "at_baseline": 3, "no_baseline": 0, "clipped": 1,
                      "no_outcome": 1, "lost": 1}


def test_without_any_baseline_an_early_divergence_is_left_out_and_counted() -> None:
    df = score(pd.DataFrame([trial("complete", 3.0, 4.0, baseline=NAN),
                             trial("diverged", NAN, NAN, baseline=NAN),
                             trial("complete", 1e9, 1e9, baseline=NAN)]))
    assert list(df["rule"]) == [Rule.RECORDED, Rule.NO_BASELINE, Rule.RECORDED]
    assert not df["clipped"].any() and df.loc[2, TEST] == 1e9  # nothing to clip at
    assert rule_counts(df)["no_baseline"] == 1


def test_best_fraction_is_the_ceiling() -> None:
    assert [n_top(n, 0.1) for n in (1, 9, 10, 11, 25, 200)] == [1, 1, 1, 2, 3, 20]
    df = pd.DataFrame([trial("complete", float(i), float(i), cid=i) for i in range(25)])
    assert len(top_trials(df, 0.1)) == 3  # round(2.5) would be 2


def test_diverged_trials_compete_for_the_best_fraction() -> None:
    rows = [trial("complete", float(i), float(i), cid=i) for i in range(10)]
    rows[0] = trial("diverged", 0.5, 7.0)  # its best epoch validated best of all
    top = top_trials(pd.DataFrame(rows), 0.2)
    assert sorted(top[TEST]) == [1.0, 7.0] and top[VALID].min() == 0.5


def test_two_constant_samples_are_not_testable() -> None:
    assert all(math.isnan(x) for x in welch(np.ones(5), np.full(5, 2.0)))
    rows = [trial("complete", 1.0, 1.0, cid=i) for i in range(30)]
    rows += [trial("complete", 1.0, 2.0, variant="X", cid=i) for i in range(30)]
    row = compare_variants(pd.DataFrame(rows), n_resamples=99).iloc[0]
    assert row["verdict"] == Verdict.CONSTANT and not Verdict(row["verdict"]).testable


def test_power_needs_ten_per_arm_or_a_tight_interval() -> None:
    assert powered(10, 10, (-5.0, 5.0), 30.0)
    assert not powered(9, 10, (-5.0, 5.0), 30.0)
    assert powered(3, 3, (-0.5, 0.59), 30.0)      # within ±2 % of 30 = ±0.6
    assert not powered(3, 3, (-0.5, 0.61), 30.0)
    assert not powered(3, 3, (NAN, NAN), 30.0)


@pytest.mark.parametrize("mean,learned", [(8.9, True), (9.1, False)])
def test_learned_means_at_least_ten_percent_below_the_baseline(mean: float,
                                                               learned: bool) -> None:
    rows = [trial("complete", 1.0, mean, cid=i) for i in range(30)]
    gate = learnability(pd.DataFrame(rows), "t")
    assert gate.baseline == 10.0 and gate.n == 3 and gate.learned is learned
    assert ("did not learn" in gate.reason) is not learned


def test_learnability_is_unknown_without_a_baseline_or_trials() -> None:
    rows = [trial("complete", 1.0, 1.0, baseline=NAN, cid=i) for i in range(30)]
    gate = learnability(pd.DataFrame(rows), "t")
    assert gate.learned is None and "no trivial baseline" in gate.reason
    gate = learnability(pd.DataFrame(rows[:5]).assign(baseline_metric=10.0), "t")
    assert gate.learned is None and gate.n == 1
