"""Budget curves (expected best test after k trials, selected by validation) and seed noise."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.budget import (
    budget_curve,
    budget_curves,
    expected_best,
    first_separation,
)
from lstm_odyssey.analysis.seeds import pooled_seed_sd, seed_summary


def brute_force(valid, test, k):
    """E[test of the best validation among k draws with replacement], enumerating all n^k
    draws; ties broken uniformly among the tied draws."""
    total = 0.0
    for draw in itertools.product(range(len(valid)), repeat=k):
        best = min(valid[i] for i in draw)
        tied = [test[i] for i in draw if valid[i] == best]
        total += sum(tied) / len(tied)
    return total / len(valid) ** k


def test_expected_best_by_hand():
    # k = 2: P(rank 1) = 1 − (2/3)² = 5/9, P(rank 2) = (2/3)² − (1/3)² = 3/9, P(rank 3) = 1/9
    assert expected_best([1, 2, 3], [10, 20, 30], [1, 2]) == pytest.approx([20, 140 / 9])
    # ties in validation share their group's mass: {10, 20} get 1 − (1/3)² = 8/9
    assert expected_best([1, 1, 2], [10, 20, 30], [2]) == pytest.approx([150 / 9])
    # unsorted input; k = 1 is the mean; large k → the test of the best validation
    e = expected_best([3.0, 1.0, 2.0], [7.0, 5.0, 9.0], [1, 200])
    assert e == pytest.approx([7.0, 5.0])
    with pytest.raises(ValueError):
        expected_best([1.0], [1.0, 2.0])


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_expected_best_equals_enumeration(k):
    valid = [0.3, 0.1, 0.3, 0.2, 0.1]            # two tie groups
    test = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert expected_best(valid, test, [k])[0] == pytest.approx(brute_force(valid, test, k))


def test_budget_curve_band_and_separation():
    rng = np.random.default_rng(0)
    valid = rng.normal(0, 1, 60)
    test = valid + rng.normal(0, 0.2, 60)
    a = budget_curve(valid, test, "A", n_resamples=400, seed=1)
    assert a.n == 60 and list(a.k[:3]) == [1, 2, 3] and a.level == 0.95
    assert np.all(a.low <= a.expected + 1e-12) and np.all(a.expected <= a.high + 1e-12)
    assert a.expected[0] == pytest.approx(test.mean())
    again = budget_curve(valid, test, "A", n_resamples=400, seed=1)
    assert np.array_equal(again.low, a.low)                        # seeded
    worse = budget_curve(valid, test + 3.0, "B", n_resamples=400, seed=1)
    assert first_separation(worse, a) == 1                          # apart from the start
    close = budget_curve(valid, test + 0.05, "C", n_resamples=400, seed=1)
    assert first_separation(close, a) is None
    # apart only once the search is large: the same mean, but B's best configurations are
    # better (its validation picks them out at large k)
    spread = budget_curve(valid, test.mean() + 3 * (test - test.mean()), "D", n_resamples=400,
                          seed=1)
    assert spread.expected[0] == pytest.approx(a.expected[0])
    k = first_separation(spread, a)
    assert k is not None and k > 1
    assert spread.expected[k - 1] < a.expected[k - 1]


def test_budget_curves_from_a_table_use_seed_means():
    df = pd.DataFrame({
        "config_id": [0, 0, 1, 2, 0, 1, 2],
        "variant": ["V", "V", "V", "V", "A", "A", "A"],
        "replicate": [0, 1, 0, 0, 0, 0, 0],
        "outcome_valid": [1.0, 3.0, 5.0, np.nan, 1.0, 2.0, 3.0],
        "outcome_test": [2.0, 4.0, 6.0, np.nan, 1.0, 2.0, 3.0],
    })
    curves = budget_curves(df, n_resamples=50)
    assert set(curves) == {"V", "A"}
    assert curves["V"].n == 2 and curves["V"].expected[0] == pytest.approx((3.0 + 6.0) / 2)
    # k = 2 on V: rank 1 (valid 2, test 3) with 3/4, rank 2 (valid 5, test 6) with 1/4
    assert curves["V"].expected[1] == pytest.approx(3 * 0.75 + 6 * 0.25)


def test_seed_summary_and_pooled_sd_by_hand():
    df = pd.DataFrame({
        "task": ["t"] * 7 + ["u"],
        "variant": ["V"] * 7 + ["V"],
        "config_id": [0, 0, 1, 1, 1, 2, 2, 0],
        "replicate": [0, 1, 0, 1, 2, 0, 0, 0],     # config 2: seed 0 twice → one replicate
        "outcome_test": [1.0, 3.0, 0.0, 1.0, 2.0, 5.0, 7.0, 4.0],
    })
    s = seed_summary(df).set_index(["task", "config_id"])
    assert s.loc[("t", 0), "replicates"] == 2 and s.loc[("t", 0), "seed_mean"] == 2.0
    assert s.loc[("t", 0), "seed_sd"] == pytest.approx(math.sqrt(2))
    assert s.loc[("t", 1), "seed_sd"] == pytest.approx(1.0)
    assert s.loc[("t", 2), "replicates"] == 1 and np.isnan(s.loc[("t", 2), "seed_sd"])
    noise = pooled_seed_sd(df)
    # (1·2 + 2·1) / (1 + 2) = 4/3
    t = noise[("t", "V")]
    assert t.sd == pytest.approx(math.sqrt(4 / 3)) and t.df == 3 and t.configs == 2
    assert t.smaller_than_noise(1.0) and not t.smaller_than_noise(-1.2)
    u = noise[("u", "V")]
    assert np.isnan(u.sd) and u.df == 0 and u.smaller_than_noise(0.1) is None
    assert pooled_seed_sd(df.drop(columns="task"))[("", "V")].df == 3
