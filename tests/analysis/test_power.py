"""The power table: paired and Welch-rule verdicts and sample sizes per (task, variant)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.paired import paired_n_difference, welch_n_difference
from lstm_odyssey.analysis.power import power_table
from lstm_odyssey.analysis.preregistration import AnalysisError, Preregistration, TestKind

SHIPPED = Path(__file__).resolve().parents[2] / "results/odyssey-free-2/report"


def synthetic(n=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    config = rng.normal(10, 2, n)
    rows = []
    for variant, offset in [("V", 0.0), ("BAD", 2.0), ("SAME", 0.0)]:
        test = config + offset + rng.normal(0, 0.1, n)
        rows += [{"task": "mine", "variant": variant, "config_id": j, "status": "complete",
                  "valid_metric": test[j] + rng.normal(0, 0.05), "test_metric": test[j],
                  "baseline_metric": 100.0} for j in range(n)]
    return pd.DataFrame(rows)


def test_power_table_on_a_planted_study():
    prereg = Preregistration(margins={"mine": 0.3})
    t = power_table(synthetic(), prereg).set_index("variant")
    assert list(t.index) == ["BAD", "SAME"] and set(t["task"]) == {"mine"}
    assert list(t["paired_verdict"]) == ["worse", "equivalent"]
    assert list(t["n_paired"]) == [40, 40] and list(t["n_top"]) == [4, 4]
    bad = t.loc["BAD"]
    assert bad["mean_delta"] == pytest.approx(2.0, abs=0.1)
    # sizes at α/m = 0.025 for the family of two
    assert bad["paired_n_difference"] == paired_n_difference(bad["mean_delta"],
                                                             bad["sd_delta"], 0.025)
    assert bad["welch_configs_difference"] == math.ceil(
        welch_n_difference(bad["welch_diff"], bad["welch_sd"], 0.025) / 0.1)
    assert pd.isna(bad["paired_n_equivalence"])          # |Δ̄| ≥ margin: not reachable
    assert bad["paired_n_decide"] == bad["paired_n_difference"]
    assert bad["welch_configs_decide"] == bad["welch_configs_difference"]
    # the Welch rule sees only the best 4 of each arm, still spread across configurations
    # (SD ≈ 1.2 against a difference of 2): not significant where the pairs are decisive
    assert bad["welch_verdict"] == "n.s." and bad["welch_p_holm"] > 0.05
    assert bad["welch_detectable"] > bad["welch_diff"]
    same = t.loc["SAME"]
    assert same["paired_n_equivalence_0"] <= same["paired_n_equivalence"]
    assert same["paired_n_decide"] == min(same["paired_n_difference"],
                                          same["paired_n_equivalence"])
    assert same["welch_detectable"] > 0


def test_power_table_follows_the_preregistered_tests():
    prereg = Preregistration(margins={"mine": 0.3}, tests=frozenset({TestKind.PAIRED}))
    t = power_table(synthetic(), prereg).set_index("variant")
    assert t.loc["SAME", "paired_verdict"] == "undecided"
    assert t["tost_p_holm"].isna().all() and t["paired_n_equivalence"].isna().all()


def test_power_table_needs_a_margin():
    with pytest.raises(AnalysisError, match="task 'mine' has no equivalence margin"):
        power_table(synthetic(), Preregistration())


def test_power_table_on_the_shipped_study_matches_its_report():
    """The Welch columns reproduce the shipped significance table (the paper's rule)."""
    trials = pd.read_csv(SHIPPED / "trials.csv")
    table = power_table(trials, Preregistration()).set_index(["task", "variant"])
    sig = pd.read_csv(SHIPPED / "significance.csv").set_index(["task", "variant"])
    assert set(table.index) == set(sig.index) and len(table) == 24
    joined = table.join(sig.add_suffix("_report"))
    assert np.allclose(joined["welch_p"], joined["welch_p_report"])
    assert np.allclose(joined["welch_p_holm"], joined["holm_p_report"])
    assert (joined["welch_verdict"] == joined["verdict_holm_report"]).all()
    assert (joined["n_top"] == joined["n_top_report"]).all()
    assert "V" not in table.index.get_level_values("variant")
    assert set(table["n_paired"]) == {100, 60}
    assert table.loc[("jsb", "NOAF"), "paired_verdict"] == "worse"
