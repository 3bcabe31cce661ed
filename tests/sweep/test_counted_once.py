"""A worker that dies after writing its record but before ``tell()``: the
trial is lost, its configuration re-run, and the configuration counted exactly once by
recovery, ``status`` and the analysis."""

from __future__ import annotations

import signal
import subprocess
import sys

import optuna

from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.records import RESULTS, Status, StorageURL
from lstm_odyssey.sweep.status import study_status
from lstm_odyssey.sweep.studyfile import load_study
from lstm_odyssey.sweep.worker import Worker

from .conftest import assert_exactly_once, trials_by_config

# A worker process whose tell() is replaced by a SIGKILL of itself: it dies exactly in the
# window between writing the trial's record (status "complete") and telling the state.
DIES_BEFORE_TELL = """
import os, signal, sys
import optuna
from lstm_odyssey.sweep.plan import plan
from lstm_odyssey.sweep.studyfile import load_study
from lstm_odyssey.sweep.worker import Worker
from lstm_odyssey.records import StorageURL

optuna.study.Study.tell = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
spec = load_study(sys.argv[1])
worker = Worker(spec, StorageURL.parse(sys.argv[2]))
plan(spec, worker.storage, worker.url)
worker.run()
"""


def test_worker_killed_between_record_and_tell_is_counted_once(write_study, tmp_path) -> None:
    path = write_study(trials=1, variants='["V"]')
    url = str(tmp_path / "journal.log")
    died = subprocess.run([sys.executable, "-c", DIES_BEFORE_TELL, str(path), url],
                          capture_output=True, text=True, timeout=300, check=False)
    assert died.returncode == -signal.SIGKILL, died.stderr
    (killed,), = trials_by_config(url, "t")["t/jsb/V"].values()
    assert killed.state == optuna.trial.TrialState.RUNNING
    assert killed.user_attrs["status"] == "complete"      # the record was written

    spec = load_study(path)
    storage = StorageURL.parse(url)
    assert Worker(spec, storage, poll_s=0.1).run() == 1    # reaps the dead one, re-runs it
    found = assert_exactly_once(url, "t", searches=1, trials=1)
    old, new = sorted(found["t/jsb/V"][0], key=lambda t: t.number)
    assert old.state == optuna.trial.TrialState.FAIL and old.user_attrs["status"] == "complete"
    assert new.user_attrs["retry_of"] == old.number
    (row,) = study_status(spec, storage.open(create=False))
    assert (row["complete"], row["lost"], row["failed"]) == (1, 1, 0)
    trials = load_results(url, "t").trials
    assert int(trials["status"].isin(RESULTS).sum()) == 1
    assert sorted(trials["status"]) == ["complete", Status.LOST]
