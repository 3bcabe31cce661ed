"""The fault test under repeated random kills: a sweep of 30
short trials with two local workers, on the journal file and on PostgreSQL; a random worker is
killed with SIGKILL twice while it runs a trial; the sweep replaces it and finishes. Every
planned configuration is COMPLETE exactly once, and each trial a killed worker was running is
recorded lost and its configuration re-run."""

from __future__ import annotations

import random
import signal
import subprocess

import optuna
import psutil
import pytest

from lstm_odyssey.records import Status
from lstm_odyssey.sweep import schema

from .conftest import CLI, assert_exactly_once, trials_by_config
from .test_local_workers import _running_pids, _wait, _workers

TRIALS, VARIANTS = 15, '["V", "CIFG"]'   # 30 trials


def _unfinished_of(url: str, pid: int) -> list[tuple[str, int]]:
    """(study, trial number) of the trials of the dead worker ``pid`` that did not finish: the
    one it was running when it died. Read after its death, such a trial is still RUNNING or
    already FAIL: the sweep may notice the death and fail it before this reads the storage."""
    unfinished = (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL)
    return [(name, t.number) for name, g in trials_by_config(url, "t").items()
            for ts in g.values() for t in ts if t.state in unfinished
            and (t.user_attrs.get("worker") or {}).get("pid") == pid]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["journal", "postgresql"])
def test_random_sigkills_lose_nothing_and_count_nothing_twice(backend, write_study, tmp_path,
                                                              request) -> None:
    url = (str(tmp_path / "journal.log") if backend == "journal"
           else request.getfixturevalue("pg_url"))
    path = write_study(trials=TRIALS, variants=VARIANTS, max_epochs=1, storage=url)
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--jobs", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    coordinator, rng = psutil.Process(proc.pid), random.Random(0)
    died_running: list[tuple[int, str, int]] = []   # (pid, study, trial number) per kill
    for _ in range(2):
        busy = _wait(lambda: sorted({w.pid for w in _workers(coordinator)}
                                    & _running_pids(url)), 240, "a worker running a trial")
        victim = psutil.Process(rng.choice(busy))
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        # what it was running when it died (the storage, read after its death)
        died_running += [(victim.pid, *t) for t in _unfinished_of(url, victim.pid)]
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert out.count("died (killed by SIGKILL); restarted it") == 2, out
    assert f"is complete: {2 * TRIALS}/{2 * TRIALS}" in out
    assert "leaked" not in err and "Traceback" not in err, err[-3000:]
    found = assert_exactly_once(url, "t", searches=2, trials=TRIALS)
    lost = [(name, t, ts) for name, g in found.items() for ts in g.values() for t in ts
            if t.state == optuna.trial.TrialState.FAIL]
    assert died_running  # (a kill can land between two trials, but not both of them)
    assert sorted((t.user_attrs["worker"]["pid"], name, t.number) for name, t, _ in lost) == \
        sorted(died_running)
    for _, t, same_config in lost:
        assert schema.trial_status(t.state, t.user_attrs.get("status")) == Status.LOST
        assert t.user_attrs["failure_reason"]
        assert any(r.user_attrs.get("retry_of") == t.number for r in same_config)  # re-queued
