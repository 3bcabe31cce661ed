"""PostgreSQL storage with heartbeats: a worker killed with SIGKILL mid-trial; a trial whose
worker went silent is failed once and its configuration re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import optuna
import pytest

from lstm_odyssey.records import Status, StorageURL
from lstm_odyssey.sweep.plan import plan
from lstm_odyssey.sweep.studyfile import load_study
from lstm_odyssey.sweep.worker import Worker

from .conftest import CLI, assert_exactly_once, trials_by_config


def _running_of(url: str, pid: int) -> list:
    try:
        groups = trials_by_config(url, "t")
    except Exception:  # noqa: BLE001 — the studies may not exist yet
        return []
    return [t for g in groups.values() for ts in g.values() for t in ts
            if t.state == optuna.trial.TrialState.RUNNING
            and (t.user_attrs.get("worker") or {}).get("pid") == pid]


@pytest.mark.slow
def test_sigkilled_worker_trial_is_rerun_exactly_once(write_study, pg_url) -> None:
    path = write_study(trials=2, variants='["V", "CIFG"]', max_epochs=40, storage=pg_url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [*CLI, "worker", str(path)]
    victim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    survivor = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 180
    while not (running := _running_of(pg_url, victim.pid)) and time.time() < deadline:
        assert victim.poll() is None, victim.communicate()
        time.sleep(0.1)
    (killed,) = running                   # the victim is training this trial right now
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err.decode()[-2000:]
    found = assert_exactly_once(pg_url, "t", searches=2, trials=2)
    everything = [t for g in found.values() for ts in g.values() for t in ts]
    lost = [t for t in everything if t.state == optuna.trial.TrialState.FAIL]
    assert [t.number for t in lost] == [killed.number]  # live workers were never declared lost
    assert lost[0].user_attrs["status"] == Status.LOST and lost[0].user_attrs["failure_reason"]
    rerun = [t for t in found[f"t/jsb/{_variant(found, killed)}"][killed.user_attrs["config_id"]]
             if t.state == optuna.trial.TrialState.COMPLETE]
    assert rerun[0].user_attrs["retry_of"] == killed.number
    # the planned (fixed) values: the snapshot may predate the killed trial's suggest calls
    assert rerun[0].params == lost[0].system_attrs["fixed_params"]
    assert rerun[0].user_attrs["seed"] == killed.user_attrs["seed"]
    assert b"postgres@" in out and b":***@" not in out  # this URL has no password to mask


def _variant(found: dict, trial) -> str:
    for name, groups in found.items():
        if any(t.number == trial.number and t._trial_id == trial._trial_id
               for ts in groups.values() for t in ts):
            return name.rsplit("/", 1)[1]
    raise AssertionError("trial not found")


def test_trial_without_heartbeat_is_failed_once_and_requeued(write_study, pg_url) -> None:
    spec = load_study(write_study(trials=1, variants='["V"]', storage=pg_url))
    first = Worker(spec, StorageURL.parse(pg_url), poll_s=0.1)
    plan(spec, first.storage, first.url)
    search, trial = first.pop()           # claimed, one heartbeat, then silence (a lost host)
    first.storage.record_heartbeat(trial._trial_id)
    assert first.pop() is None            # nothing else is waiting; the trial is fresh
    time.sleep(spec.grace_period + 1.5)
    second = Worker(spec, StorageURL.parse(pg_url), poll_s=0.1)
    third = Worker(spec, StorageURL.parse(pg_url), poll_s=0.1)
    popped = second.pop()
    assert third.pop() is None            # exactly one re-queued copy
    assert popped is not None
    retry = popped[1]
    assert retry.user_attrs["retry_of"] == trial.number
    assert retry.user_attrs["config_id"] == 0
    old = search.study._storage.get_trial(trial._trial_id)
    assert old.state == optuna.trial.TrialState.FAIL
    assert second.pending() == 1          # the FAIL without a status is not a result


def test_workers_starting_together_on_an_empty_database_all_open_it(pg_url) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = StorageURL.parse(pg_url)
    with ThreadPoolExecutor(4) as pool:
        storages = list(pool.map(lambda _: url.open(create=True), range(4)))
    assert len(storages) == 4
