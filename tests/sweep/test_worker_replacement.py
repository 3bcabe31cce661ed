"""Local workers are replaced however many die at once (up to the bound), and a sweep whose
workers died never says that no worker reported a problem."""

from __future__ import annotations

import signal
import subprocess

import optuna
import psutil
import pytest

from .conftest import CLI, assert_exactly_once
from .test_local_workers import _running_pids, _wait, _workers


@pytest.mark.slow
def test_workers_killed_in_one_poll_are_all_replaced(write_study, tmp_path) -> None:
    path = write_study(trials=3, variants='["V", "CIFG"]', max_epochs=15)
    url = str(tmp_path / "journal.log")
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--jobs", "2", "--storage", url,
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        coordinator = psutil.Process(proc.pid)
        _wait(lambda: len(_workers(coordinator)) == 2
              and {w.pid for w in _workers(coordinator)} & _running_pids(url), 240,
              "a running trial")
        victims = _workers(coordinator)
        for v in victims:  # both at once: well inside one of the coordinator's polls
            v.send_signal(signal.SIGKILL)
        first = {v.pid for v in victims}
        _wait(lambda: len({w.pid for w in _workers(coordinator)} - first) == 2, 60,
              "two replacement workers")
        out, err = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    for i in (1, 2):
        assert f"worker {i} died (killed by SIGKILL); restarted it" in out, out
    assert "of at most 6 restarts" in out and "is complete: 6/6" in out, out
    assert "Traceback" not in err, err
    found = assert_exactly_once(url, "t", searches=2, trials=3)
    lost = {t.user_attrs["worker"]["pid"] for g in found.values() for ts in g.values()
            for t in ts if t.state == optuna.trial.TrialState.FAIL}
    assert lost <= first


@pytest.mark.slow
def test_workers_that_die_past_the_bound_are_named(write_study, tmp_path) -> None:
    """Every worker killed, again and again, until the restarts are used up: the sweep fails
    naming each death, never 'no worker reported a problem'."""
    path = write_study(trials=3, variants='["V", "CIFG"]', max_epochs=40)
    url = str(tmp_path / "journal.log")
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--jobs", "2", "--storage", url,
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        coordinator = psutil.Process(proc.pid)
        killed: set[int] = set()

        def kill_all() -> bool:
            if proc.poll() is not None:
                return True
            for w in _workers(coordinator):
                if w.pid not in killed:
                    killed.add(w.pid)
                    w.send_signal(signal.SIGKILL)
            return False
        _wait(kill_all, 300, "the sweep to give up")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, (out, err)
    assert "no worker reported a problem" not in out + err
    assert err.count("\n") == 1 and "killed by SIGKILL" in err, err
    assert "not restarted: all 6 restarts used" in err, err
    assert len(killed) == 2 + 6
