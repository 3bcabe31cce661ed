"""PostgreSQL storage with heartbeats: a worker killed with SIGKILL mid-trial; a trial whose
worker went silent is failed once and its configuration re-run; the real server stopped and
started mid-sweep (an outage waited out, and one that outlasts ``outage_s``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid

import optuna
import pytest

from lstm_odyssey.records import Status, StorageURL
from lstm_odyssey.sweep.plan import plan
from lstm_odyssey.sweep.studyfile import load_study
from lstm_odyssey.sweep.worker import Worker

from .conftest import CLI, PG_ADMIN, assert_exactly_once, trials_by_config


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


# -- the database blinks: the real server stopped and started ---------------------------------

def _pg_ctl(action: str) -> None:
    """Stop or start the real PostgreSQL cluster of this machine."""
    versions = os.listdir("/etc/postgresql")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", action],
                   check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def _server_down(pg_url: str):
    """The server is stopped inside the block and always started again after it (also when
    the test fails), and answers again before the block is left."""
    if shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"):
        pytest.skip("needs the local PostgreSQL cluster (pg_ctlcluster) to stop and start it")
    _pg_ctl("stop")
    try:
        yield
    finally:
        _pg_ctl("start")
        deadline = time.time() + 60
        while True:
            try:
                StorageURL.parse(pg_url).open(create=False).get_all_studies()
                break
            except Exception:  # still starting (the storage waits out the rest)
                if time.time() > deadline:
                    raise
                time.sleep(0.5)


@pytest.fixture
def own_pg_url():
    """Like ``pg_url``, but the database is dropped over a new connection (the server
    restarts in between)."""
    psycopg2 = pytest.importorskip("psycopg2")

    def admin():
        try:
            conn = psycopg2.connect(PG_ADMIN, connect_timeout=3)
        except psycopg2.OperationalError as e:
            pytest.skip(f"PostgreSQL at {PG_ADMIN} is unreachable ({str(e).strip()})")
        conn.autocommit = True
        return conn

    name = f"lstm_odyssey_outage_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(admin()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with contextlib.closing(admin()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sweep_in_background(path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*CLI, "sweep", str(path), "--jobs", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _wait_until_running(url: str, sweep: subprocess.Popen) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        assert sweep.poll() is None, sweep.communicate()
        try:
            groups = trials_by_config(url, "t")
        except Exception:  # noqa: BLE001 — not planned yet
            groups = {}
        if any(t.state == optuna.trial.TrialState.RUNNING
               for g in groups.values() for ts in g.values() for t in ts):
            return
        time.sleep(0.2)
    raise AssertionError("no trial started")


@pytest.mark.slow
def test_a_database_outage_of_15_s_is_waited_out(write_study, own_pg_url) -> None:
    """The server stops for 15 s while the coordinator and two workers run: heartbeats, tells,
    pops and progress wait for it; the sweep ends as if nothing happened (no traceback, every
    configuration exactly once, no trial declared lost for the heartbeats it could not send)."""
    path = write_study(trials=2, variants='["V", "CIFG"]', max_epochs=30, storage=own_pg_url)
    sweep = _sweep_in_background(path)
    try:
        _wait_until_running(own_pg_url, sweep)
        with _server_down(own_pg_url):
            time.sleep(15)
            assert sweep.poll() is None, sweep.communicate()  # still waiting, not crashed
        out, err = sweep.communicate(timeout=400)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, err.decode()[-3000:]
    assert b"Traceback" not in err + out, err.decode()[-3000:]
    found = assert_exactly_once(own_pg_url, "t", searches=2, trials=2)
    assert not [t.number for g in found.values() for ts in g.values() for t in ts
                if t.state == optuna.trial.TrialState.FAIL]


@pytest.mark.slow
def test_a_longer_outage_stops_the_sweep_with_one_line(write_study, own_pg_url) -> None:
    """Beyond ``[storage] outage_s`` the sweep stops with one line naming the storage and the
    fix, and the same command then resumes and completes (nothing lost or duplicated)."""
    path = write_study(trials=2, variants='["V", "CIFG"]', max_epochs=30, storage=own_pg_url)
    path.write_text(path.read_text() + "outage_s = 3\n")  # [storage] is the last table
    sweep = _sweep_in_background(path)
    try:
        _wait_until_running(own_pg_url, sweep)
        with _server_down(own_pg_url):
            out, err = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    text = err.decode()
    assert sweep.returncode == 2, text[-3000:]
    assert "Traceback" not in text + out.decode() and text.count("\n") == 1, text[-3000:]
    assert text.startswith("error: storage postgresql://") and "3 s" in text, text
    assert "run the same command again" in text, text
    again = subprocess.run([*CLI, "sweep", str(path), "--no-progress"], capture_output=True,
                           timeout=400, check=False)
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert_exactly_once(own_pg_url, "t", searches=2, trials=2)


# -- the waiting itself, without a server ------------------------------------------------------

def _lost_connection() -> Exception:
    import sqlalchemy.exc

    cause = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the "
                                                                      "connection unexpectedly"))
    try:
        raise optuna.exceptions.StorageInternalError("during the commit") from cause
    except optuna.exceptions.StorageInternalError as e:
        return e


def test_an_outage_is_retried_with_backoff_and_other_errors_are_not(monkeypatch) -> None:
    from lstm_odyssey.records import outage

    monkeypatch.setattr(outage.time, "sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _lost_connection()
        return "done"

    patience = outage.Patience("postgresql://u:***@h/db", outage_s=60)
    assert patience.call(flaky) == "done" and len(calls) == 3
    assert patience.in_aftermath(grace_period=3)
    with pytest.raises(ValueError):
        patience.call(lambda: (_ for _ in ()).throw(ValueError("a bug")))
    assert outage.is_outage(_lost_connection())
    assert not outage.is_outage(optuna.exceptions.StorageInternalError("exceeding max length"))


def test_an_outage_beyond_the_window_is_one_line_without_the_password(monkeypatch) -> None:
    from lstm_odyssey.records import outage

    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(outage.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(outage.time, "sleep", lambda s: None)
    patience = outage.Patience("postgresql://u:***@h/db", outage_s=30,
                               scrub=lambda text: text.replace("Secret9", "***"))

    def down():
        import sqlalchemy.exc

        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(
            'connection to "h" failed: password Secret9 refused'))

    with pytest.raises(outage.StorageUnavailable) as e:
        patience.call(down)
    text = str(e.value)
    assert "\n" not in text and "Secret9" not in text and "30 s" in text, text
    assert text.startswith("storage postgresql://u:***@h/db has not answered") and \
        "run the same command again" in text
