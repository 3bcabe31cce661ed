"""The verdicts replayed under a lower epoch cap, on hand-made histories."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lstm_odyssey.analysis.cap import EARLY, best_until, cap_sensitivity, lower_cap, under_lower_cap
from lstm_odyssey.analysis.outcomes import VALID

CAP = 10  # max_epochs; the lower cap is 8


def history(curve: list[float]) -> list[dict]:
    return [{"epoch": e, "valid_metric": v} for e, v in enumerate(curve, start=1)]


def trial(variant: str, cid: int, curve: list[float], status: str = "complete",
          task: str = "t", max_epochs: float = CAP) -> dict:
    best = int(np.argmin(curve)) + 1 if curve else math.nan
    valid = min(curve) if curve else math.nan
    return {"task": task, "variant": variant, "config_id": cid, "status": status,
            "valid_metric": valid, "test_metric": valid + 1.0 if curve else math.nan,
            "best_epoch": best, "epochs": len(curve), "max_epochs": max_epochs,
            "baseline_metric": 50.0, "history": history(curve)}


def slow(end: float) -> list[float]:
    """A run still improving at the cap: ``end`` + 30 at epoch 8, ``end`` at epoch 10."""
    return [45.0] * 7 + [end + 30.0, end + 0.5, end]


def settled(level: float) -> list[float]:
    """A run at its plateau by epoch 3, stopped early."""
    return [level + 20.0, level + 10.0, level, level + 0.1, level + 0.2]


def test_lower_cap_and_best_until() -> None:
    assert lower_cap(10) == 8 and lower_cap(150) == 120 and lower_cap(40) == 32
    assert lower_cap(1) == 1
    h = history([5.0, 3.0, 4.0, 1.0])
    assert best_until(h, 3) == 3.0 and best_until(h, 4) == 1.0 and math.isnan(best_until(h, 0))


def test_the_replay_keeps_runs_that_peaked_before_the_lower_cap() -> None:
    df = pd.DataFrame([
        trial("V", 0, settled(10.0)),            # best at epoch 3: unchanged
        trial("V", 1, slow(12.0)),               # best at epoch 10: 42 at epoch 8
        trial("V", 2, [60.0] * 7 + [55.0, 54.0, 10.0]),  # worse than the baseline until 10
        trial("V", 3, slow(12.0)[:9], status="diverged"),  # diverged at 10, best at 9
        trial("V", 4, [], status="diverged"),     # before its first validation: baseline
    ])
    out = under_lower_cap(df).set_index("config_id")
    assert out.loc[0, EARLY] == out.loc[0, VALID] == 10.0
    assert out.loc[1, VALID] == 12.0 and out.loc[1, EARLY] == 42.0
    assert out.loc[2, EARLY] == 50.0  # 55 clipped at the baseline, like every outcome
    assert out.loc[3, VALID] == 12.5 and out.loc[3, EARLY] == 42.0
    assert out.loc[4, EARLY] == out.loc[4, VALID] == 50.0


def cap_study() -> pd.DataFrame:
    """Vanilla settles at 10; NIG ends 0.05 behind it but only by improving after epoch 8, so
    it looks equal at the cap and worse at the lower cap; NFG is far worse at either cap."""
    rows = []
    for cid in range(10):
        rows.append(trial("V", cid, settled(10.0 + 0.2 * cid)))
        rows.append(trial("NIG", cid, slow(10.05 + 0.2 * cid)))
        rows.append(trial("NFG", cid, settled(30.0 + 0.2 * cid)))
    rows.append(trial("V", 0, settled(1.0), task="no cap", max_epochs=math.nan))
    rows.append(trial("NIG", 0, settled(2.0), task="no cap", max_epochs=math.nan))
    return pd.DataFrame(rows)


def test_a_verdict_that_rests_on_late_epochs_is_flagged() -> None:
    res = cap_sensitivity(cap_study(), fraction=0.3).set_index("variant")
    assert list(res.index) == ["NIG", "NFG"]  # the task without a recorded cap is left out
    nig, nfg = res.loc["NIG"], res.loc["NFG"]
    assert (nig["max_epochs"], nig["lower_cap"], nig["n_top"], nig["n_top_ref"]) == (10, 8, 3, 3)
    assert nig["moved"] == 3 and nig["moved_ref"] == 0
    assert nig["diff"] == pytest.approx(0.05)
    assert nig["verdict"] == "n.s." and nig["verdict_lower"] == "worse" and nig["changed"]
    assert nig["diff_lower"] == pytest.approx(30.05)
    top = [10.05, 10.25, 10.45]  # NIG's best 3 at the cap against vanilla's 10.0, 10.2, 10.4
    assert nig["p"] == pytest.approx(stats.ttest_ind(top, [10.0, 10.2, 10.4],
                                                     equal_var=False).pvalue)
    assert nig["p"] > 0.05 > nig["p_lower"]
    assert nfg["verdict"] == nfg["verdict_lower"] == "worse" and not nfg["changed"]
    assert nfg["diff"] == nfg["diff_lower"] == pytest.approx(20.0)
