"""Local worker processes under faults: a killed
worker is replaced and nothing leaks; a killed coordinator takes its workers with it; a sweep
whose trials all fail says why and exits non-zero; ``status`` shows a dead worker's trial as
lost and never creates a storage."""

from __future__ import annotations

import signal
import subprocess
import time

import optuna
import psutil
import pytest

from lstm_odyssey.records import Status, StorageError, StorageURL
from lstm_odyssey.sweep import worker
from lstm_odyssey.sweep.executors import SweepFailed, sweep
from lstm_odyssey.sweep.plan import plan
from lstm_odyssey.sweep.recovery import HOST
from lstm_odyssey.sweep.status import open_status
from lstm_odyssey.sweep.studyfile import load_study

from .conftest import CLI, assert_exactly_once, trials_by_config


def _workers(coordinator: psutil.Process) -> list[psutil.Process]:
    """The coordinator's worker processes (not its multiprocessing resource tracker)."""
    out = []
    for p in coordinator.children():
        try:
            if "spawn_main" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _running_pids(url: str) -> set[int]:
    try:
        groups = trials_by_config(url, "t")
    except Exception:  # noqa: BLE001 — the journal may not exist yet
        return set()
    return {t.user_attrs["worker"]["pid"] for g in groups.values() for ts in g.values()
            for t in ts if t.state == optuna.trial.TrialState.RUNNING
            and isinstance(t.user_attrs.get("worker"), dict)}


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_nothing_leaks(write_study, tmp_path) -> None:
    path = write_study(trials=3, variants='["V", "CIFG"]', max_epochs=15)
    url = str(tmp_path / "journal.log")
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--jobs", "2", "--storage", url,
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    coordinator = psutil.Process(proc.pid)
    victim = _wait(lambda: next(iter({w.pid for w in _workers(coordinator)}
                                     & _running_pids(url)), None), 240, "a running trial")
    first = {w.pid for w in _workers(coordinator)}
    psutil.Process(victim).send_signal(signal.SIGKILL)
    replaced = _wait(lambda: len(new := {w.pid for w in _workers(coordinator)} - first) == 1
                     and len(_workers(coordinator)) == 2 and new, 60, "a replacement worker")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "died (killed by SIGKILL); restarted it (1 of at most 6 restarts)" in out, out
    assert "is complete: 6/6" in out
    assert "leaked" not in err and "Traceback" not in err, err
    found = assert_exactly_once(url, "t", searches=2, trials=3)
    lost = [t for g in found.values() for ts in g.values() for t in ts
            if t.state == optuna.trial.TrialState.FAIL]
    assert [t.user_attrs["worker"]["pid"] for t in lost] == [victim]
    assert replaced


@pytest.mark.slow
def test_a_killed_coordinator_takes_its_workers_with_it(write_study, tmp_path) -> None:
    path = write_study(trials=3, variants='["V", "CIFG"]', max_epochs=30)
    url = str(tmp_path / "journal.log")
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--jobs", "2", "--storage", url,
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    coordinator = psutil.Process(proc.pid)
    _wait(lambda: {w.pid for w in _workers(coordinator)} & _running_pids(url), 240,
          "a running trial")
    workers = _workers(coordinator)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"workers still running without their coordinator: {alive}"
    trials = [t for g in trials_by_config(url, "t").values() for ts in g.values() for t in ts]
    assert optuna.trial.TrialState.RUNNING not in {t.state for t in trials}
    lost = [t for t in trials if t.user_attrs.get("status") == Status.LOST]  # stopped cleanly
    assert lost and all(t.state == optuna.trial.TrialState.FAIL for t in lost)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    assert {t.number for t in lost} <= retried             # each one re-queued


def test_a_sweep_whose_trials_all_fail_says_why_and_fails(write_study, tmp_path,
                                                          monkeypatch) -> None:
    path = write_study(trials=2, variants='["V"]')
    url = str(tmp_path / "journal.log")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in training\nwith a second line")
    monkeypatch.setattr(worker, "train_run", broken)
    message = "all 2 trials of study 't' failed, the same error: RuntimeError: a bug in training;"
    with pytest.raises(SweepFailed, match=message):
        sweep(load_study(path), url, jobs=1, progress=False, echo=lambda s: None)
    again = subprocess.run([*CLI, "sweep", str(path), "--storage", url, "--no-progress"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert message in again.stderr


def test_status_shows_a_dead_workers_trial_as_lost(write_study, tmp_path) -> None:
    path = write_study(trials=1, variants='["V"]')
    url = str(tmp_path / "journal.log")
    w = worker.Worker(load_study(path), StorageURL.parse(url))
    plan(w.spec, w.storage, w.url)
    _, trial = w.pop()
    dead = subprocess.Popen(["true"])
    dead.wait()
    trial.set_user_attr("worker", {"host": HOST, "pid": dead.pid, "started": 0.0})
    (row,) = open_status(str(path), url)[2]
    assert (row["running"], row["lost"]) == (0, 1)
    trial.set_user_attr("worker", {"host": "elsewhere", "pid": dead.pid, "started": 0.0})
    (row,) = open_status(str(path), url)[2]
    assert (row["running"], row["lost"]) == (1, 0)         # another host: cannot tell


def test_status_never_creates_a_storage(write_study, tmp_path) -> None:
    path = write_study()
    for url, created in ((f"sqlite:///{tmp_path}/new.db", tmp_path / "new.db"),
                         (str(tmp_path / "new.log"), tmp_path / "new.log")):
        with pytest.raises(StorageError, match="no sweep storage"):
            open_status(str(path), url)
        assert not created.exists()


def test_sigterm_just_after_a_trial_is_claimed_requeues_it(write_study, tmp_path,
                                                           monkeypatch) -> None:
    """SIGTERM between claiming a trial and starting it: the trial is re-queued, not left
    RUNNING (it was, now and then, in the Ctrl-C test)."""
    import os

    from lstm_odyssey.sweep import recovery

    path = write_study(trials=1, variants='["V"]')
    url = str(tmp_path / "journal.log")
    w = worker.Worker(load_study(path), StorageURL.parse(url))
    plan(w.spec, w.storage, w.url)
    identity = recovery.worker_identity

    def terminated_while_claiming() -> dict:  # called by pop() right after the claim
        os.kill(os.getpid(), signal.SIGTERM)
        return identity()
    monkeypatch.setattr(recovery, "worker_identity", terminated_while_claiming)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    worker.install_signal_handlers()
    try:
        with pytest.raises(worker.Interrupted):
            w.run()
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    (trials,) = trials_by_config(url, "t")["t/jsb/V"].values()
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL,
                                         optuna.trial.TrialState.WAITING]
    assert trials[0].user_attrs["status"] == Status.LOST
    assert trials[1].user_attrs["retry_of"] == trials[0].number
