"""Replaying a stopping rule on a finished study, against a small journal computed by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from scipy import stats

from lstm_odyssey.analysis.replay import BaselineGate, ReplayError, make_rule, replay
from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.records import Status, StorageURL, StudyMeta, TrialRecord
from lstm_odyssey.sweep import schema
from lstm_odyssey.sweep.space import PAPER_SPACE

ROOT = Path(__file__).resolve().parents[2]
BASELINE = 10.0
# per variant and configuration: the validation metric of each epoch (1 CPU s per epoch)
RUNS = {
    "V": [[9, 8, 7, 6],                 # beats the baseline at once: not stopped
          [11, 10.5, 10.2, 9.0, 8.5],   # not below 10 by epoch 3: stopped, outcome 10, saves 2
          [12, 11, 9.9, 9.8],           # below 10 at epoch 3: not stopped
          [12, 12, 12],                 # ends at epoch 3: the rule never looks
          [9.5, 9.4, 9.3],
          [11, 11, 11, 11, 5]],         # stopped at 3: outcome 10 instead of 5, saves 2
    "NFG": [[9.5, 9.4, 9.3],
            [10.5, 10.4, 10.3, 7.0],    # stopped at 3: outcome 10 instead of 7, saves 1
            [9.9, 9.8, 9.7, 9.6],
            [13, 12, 11, 10.5, 10.4],   # stopped at 3: outcome 10 either way, saves 2
            [8, 8, 8],
            [9.0, 9.0, 9.0, 9.0]],
}


def _journal(path: Path) -> str:
    storage = StorageURL.parse(str(path)).open(create=True)
    for variant, runs in RUNS.items():
        study = optuna.create_study(study_name=f"r/jsb/{variant}", storage=storage)
        meta = StudyMeta(study="r", task="jsb", variant=variant, source="real", metric="nll",
                         protocol={"max_epochs": 10}, trials=len(runs))
        for key, value in meta.to_user_attrs().items():
            study.set_user_attr(key, value)
        for cid, valid in enumerate(runs):
            best = int(np.argmin(valid))
            record = TrialRecord(
                config_id=cid, seed=cid, status=Status.COMPLETE, failure_reason="",
                valid_metric=valid[best], test_metric=valid[best] + 0.5, best_epoch=best + 1,
                epochs=len(valid), cpu_time_s=float(len(valid)), baseline_metric=BASELINE,
                history=[{"epoch": e + 1, "valid_metric": v, "time_s": 1.0}
                         for e, v in enumerate(valid)])
            params = {p: PAPER_SPACE[p].low for p in schema.PARAMS}
            study.add_trial(optuna.trial.create_trial(
                params=params, value=valid[best], user_attrs=record.to_user_attrs(),
                distributions={p: PAPER_SPACE[p].distribution() for p in schema.PARAMS}))
    return str(path)


def test_the_replay_of_a_baseline_gate_matches_the_hand_computed_numbers(tmp_path) -> None:
    trials = load_results(_journal(tmp_path / "journal.log")).trials
    r = replay(trials, BaselineGate(3), fraction=0.5)
    (task,) = r.tasks.itertuples()
    assert (task.trials, task.stopped) == (12, 4)
    assert task.cpu_h * 3600 == pytest.approx(47) and task.saved_cpu_h * 3600 == pytest.approx(7)
    assert task.saved_share == pytest.approx(7 / 47)
    # V's best three: {0, 1, 5} before, {0, 2, 4} after; NFG's: {1, 4, 5} before, {0, 4, 5} after
    assert task.best_members_changed == 3
    (row,) = r.verdicts.itertuples()
    before = stats.ttest_ind([7, 8, 9], [5, 6, 8.5], equal_var=False).pvalue
    after = stats.ttest_ind([8, 9, 9.3], [6, 9.3, 9.8], equal_var=False).pvalue
    assert row.diff == pytest.approx(8 - 6.5) and row.p == pytest.approx(before)
    assert row.diff_replayed == pytest.approx(26.3 / 3 - 25.1 / 3)
    assert row.p_replayed == pytest.approx(after)
    assert row.changed == (row.verdict != row.verdict_replayed)


def test_a_cap_replay_stops_every_longer_run(tmp_path) -> None:
    trials = load_results(_journal(tmp_path / "journal.log")).trials
    (task,) = replay(trials, make_rule("cap", 4), fraction=0.5).tasks.itertuples()
    assert task.stopped == 3 and task.saved_cpu_h * 3600 == pytest.approx(3)


@pytest.mark.parametrize("name, epochs", [("gate", 3), ("cap", 0), ("cap", True)])
def test_a_bad_rule_is_one_line(name, epochs) -> None:
    with pytest.raises(ReplayError) as e:
        make_rule(name, epochs)
    assert "\n" not in str(e.value)


def test_the_replay_command_on_the_shipped_study() -> None:
    out = subprocess.run([sys.executable, "-m", "lstm_odyssey", "replay",
                          str(ROOT / "studies" / "odyssey-free-2.toml"), "--task", "jsb",
                          "--epochs", "30"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("rule: stop a run that has not beaten the trivial baseline")
    assert lines[1].startswith("jsb: ") and "of 900 trials stopped" in lines[1]
    assert lines[2].startswith("verdicts changed: ") and lines[2].endswith(" of 8")
    bad = subprocess.run([sys.executable, "-m", "lstm_odyssey", "replay",
                          str(ROOT / "studies" / "odyssey-free-2.toml"), "--rule", "nope"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("error: unknown rule 'nope'")
    assert len(bad.stderr.strip().splitlines()) == 1
