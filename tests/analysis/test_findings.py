"""The PAPER.md §7 table's variant findings on hand-made verdicts."""

from __future__ import annotations

import pandas as pd

from lstm_odyssey.analysis.findings import (
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    TaskAnalysis,
    findings_table,
)

TASKS = [TaskAnalysis("timit", "frame_error_pct", "real", None, None),
         TaskAnalysis("iam", "cer_pct", "real", None, None),
         TaskAnalysis("jsb", "nll_per_step", "real", None, None)]
PAPER = {  # the paper's verdicts: task → variant → verdict
    "timit": {"NIG": "worse", "NFG": "worse", "NOG": "worse", "NIAF": "worse", "NOAF": "worse",
              "NP": "n.s.", "CIFG": "n.s.", "FGR": "n.s."},
    "iam": {"NIG": "worse", "NFG": "worse", "NOG": "worse", "NIAF": "worse", "NOAF": "worse",
            "NP": "n.s.", "CIFG": "n.s.", "FGR": "n.s."},
    "jsb": {"NIG": "n.s.", "NFG": "worse", "NOG": "n.s.", "NIAF": "n.s.", "NOAF": "worse",
            "NP": "n.s.", "CIFG": "n.s.", "FGR": "worse"},
}


def comparison(verdicts: dict[str, dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"task": t, "variant": v, "verdict": x, "diff": 1.0, "welch_p": 0.01}
                         for t, row in verdicts.items() for v, x in row.items()])


def trials() -> pd.DataFrame:
    return pd.DataFrame([{"task": t.task, "variant": "V", "status": "complete",
                          "valid_metric": 1.0, "test_metric": 30.0} for t in TASKS])


def verdicts(cmp: pd.DataFrame, tasks: list[TaskAnalysis] = TASKS) -> dict[int, str]:
    return findings_table(trials(), cmp, tasks).set_index("#")["verdict"].to_dict()


def test_the_papers_own_verdicts_reproduce_findings_1_to_5() -> None:
    v = verdicts(comparison(PAPER))
    assert [v[i] for i in range(1, 6)] == [REPRODUCED] * 5
    assert [v[i] for i in range(6, 11)] == [NOT_TESTABLE] * 5  # no fANOVA given
    assert v[11] == NOT_REPRODUCED  # a test metric of 30 is outside JSB's 8.4–8.8


def test_one_contradiction_is_not_reproduced() -> None:
    changed = {t: dict(row) for t, row in PAPER.items()}
    changed["jsb"]["NIG"] = "worse"  # the paper: not worse on JSB
    changed["iam"]["CIFG"] = "better"
    v = verdicts(comparison(changed))
    assert v[1] == NOT_REPRODUCED and v[3] == NOT_REPRODUCED and v[4] == NOT_REPRODUCED
    assert v[2] == REPRODUCED and v[5] == REPRODUCED


def test_missing_dataset_or_too_few_trials_is_not_testable() -> None:
    v = verdicts(comparison({t: PAPER[t] for t in ("timit", "jsb")}), TASKS[::2])
    assert v[2] == NOT_TESTABLE and v[3] == NOT_TESTABLE  # they name IAM
    assert v[1] == REPRODUCED  # "on any dataset" holds where tested
    few = {t: dict(row) for t, row in PAPER.items()}
    few["jsb"]["FGR"] = "too few trials"
    assert verdicts(comparison(few))[5] == NOT_TESTABLE
