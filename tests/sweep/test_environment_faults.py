"""A trial that fails because of its machine (the kernel cache, a backend, memory, the disk, the
storage's connection) is no outcome: it is re-queued a bounded number of times and never
counted as done; ``sweep --retry-failed`` revives a study whose trials all failed."""

from __future__ import annotations

import errno

import optuna
import pytest
import sqlalchemy.exc
from click.testing import CliRunner

from lstm_odyssey import kernels
from lstm_odyssey.cli import cli
from lstm_odyssey.errors import UserError
from lstm_odyssey.kernels import build
from lstm_odyssey.records import Status
from lstm_odyssey.sweep import faults, recovery, schema
from lstm_odyssey.sweep import worker as worker_module
from lstm_odyssey.sweep.executors import SweepFailed, sweep
from lstm_odyssey.sweep.studyfile import load_study

from .conftest import trials_by_config

STALE = build.StaleBuildLockError(
    "stale build lock /cache/lstm_odyssey_cpu_x/lock left by a killed build; delete it or run "
    "`lstm-odyssey build-kernels --clean`")


def _quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("error,environment", [
    (STALE, True),
    (build.KernelBuildError("no C++ compiler"), True),
    (kernels.BackendUnavailable("backend 'triton' needs CUDA tensors"), True),
    (MemoryError(), True),
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
     True),
    (RuntimeError("wrapped"), False),
    (ValueError("a bug"), False),
    (FileNotFoundError(errno.ENOENT, "no corpus here"), False),
    (UserError("a bad setting"), False),
])
def test_one_table_says_which_errors_are_the_machines(error, environment) -> None:
    fault = faults.environment_fault(error)
    assert (fault is not None) == environment
    if fault is not None:
        assert fault.error.startswith(type(error).__name__)


def test_an_explicit_cause_counts() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as e:
            raise RuntimeError("saving the dataset failed") from e
    except RuntimeError as e:
        fault = faults.environment_fault(e)
    assert fault is not None and "No space left" in fault.error and "disk space" in fault.fix


def _failing(monkeypatch, error: BaseException, times: int, config: int | None = None) -> list:
    """Make the worker's training raise ``error`` the first ``times`` times it trains each
    configuration (only configuration ``config``, if given); returns the trained config ids."""
    real, calls = worker_module.train_run, []

    def train_run(train_config, **kw):
        cid = train_config.config_id
        calls.append(cid)
        if (config is None or cid == config) and calls.count(cid) <= times:
            raise error
        return real(train_config, **kw)

    monkeypatch.setattr(worker_module, "train_run", train_run)
    return calls


def test_a_machine_failure_is_requeued_not_counted_done(write_study, tmp_path,
                                                        monkeypatch) -> None:
    spec = load_study(write_study(trials=2, variants='["V"]'))
    url = str(tmp_path / "journal.log")
    _failing(monkeypatch, STALE, times=1)  # the first trial of each configuration
    out = sweep(spec, url, jobs=1, progress=False, echo=_quiet)
    assert (out.done, out.planned) == (2, 2)
    groups = trials_by_config(url, "t")["t/jsb/V"]
    for cid in (0, 1):
        faulted, rerun = sorted(groups[cid], key=lambda t: t.number)
        assert faulted.state == optuna.trial.TrialState.FAIL
        assert schema.status_of(faulted) == Status.LOST and not recovery.is_done(faulted)
        assert faulted.user_attrs[recovery.FAULT_KEY]["error"].startswith("StaleBuildLockError")
        assert "re-queued (retry 1 of 3)" in faulted.user_attrs["failure_reason"]
        assert rerun.state == optuna.trial.TrialState.COMPLETE
        assert rerun.user_attrs["retry_of"] == faulted.number


def test_retries_are_bounded_and_the_sweep_names_the_fix(write_study, tmp_path,
                                                         monkeypatch) -> None:
    path = write_study(trials=2, variants='["V"]')
    spec = load_study(path)
    url = str(tmp_path / "journal.log")
    calls = _failing(monkeypatch, MemoryError(), times=100, config=0)
    with pytest.raises(SweepFailed) as e:
        sweep(spec, url, jobs=1, progress=False, echo=_quiet)
    assert calls.count(0) == recovery.ENVIRONMENT_RETRIES + 1 and calls.count(1) == 1
    message = str(e.value)
    assert "1 planned trial(s)" in message and "MemoryError" in message
    assert "free memory" in message and "--retry-failed" in message
    groups = trials_by_config(url, "t")["t/jsb/V"]
    assert len(groups[0]) == 4 and not any(recovery.is_done(t) for t in groups[0])
    assert "not re-queued" in max(groups[0], key=lambda t: t.number).user_attrs[
        "failure_reason"]
    # the same command again runs nothing more and says the same
    with pytest.raises(SweepFailed, match="MemoryError"):
        sweep(spec, url, jobs=1, progress=False, echo=_quiet)
    assert calls.count(0) == 4
    # fixed: --retry-failed runs it again, once
    monkeypatch.undo()
    out = sweep(spec, url, jobs=1, progress=False, echo=_quiet, retry_failed=True)
    assert (out.done, out.planned) == (2, 2)
    rerun = max(trials_by_config(url, "t")["t/jsb/V"][0], key=lambda t: t.number)
    assert rerun.state == optuna.trial.TrialState.COMPLETE
    assert rerun.user_attrs[recovery.RETRY_FAILED_KEY] is True


def test_retry_failed_revives_a_study_poisoned_by_a_stale_kernel_lock(write_study, tmp_path,
                                                                     monkeypatch) -> None:
    """The study as a stale kernel-build lock left it before such failures were told apart:
    every trial recorded as ``failed`` with StaleBuildLockError, the study complete by count.
    ``sweep --retry-failed`` re-queues each configuration once and finishes it."""
    path = write_study(trials=2, variants='["V", "NFG"]')
    url = str(tmp_path / "journal.log")
    monkeypatch.setattr(worker_module, "environment_fault", lambda e: None)  # as it was
    _failing(monkeypatch, STALE, times=100)
    with pytest.raises(SweepFailed, match="all 4 trials .* StaleBuildLockError"):
        sweep(load_study(path), url, jobs=1, progress=False, echo=_quiet)
    monkeypatch.undo()
    poisoned = trials_by_config(url, "t")
    assert all(schema.status_of(t) == Status.FAILED and recovery.is_done(t)
               for g in poisoned.values() for ts in g.values() for t in ts)
    again = CliRunner().invoke(cli, ["sweep", str(path), "--storage", url, "--no-progress"])
    assert "all 4 trials" in str(again.exception) and "--retry-failed" in str(again.exception)

    result = CliRunner().invoke(cli, ["sweep", str(path), "--storage", url, "--no-progress",
                                      "--retry-failed"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "re-queued 4 failed trial(s)" in result.output and "is complete: 4/4" in result.output
    found = trials_by_config(url, "t")
    for groups in found.values():
        for cid, ts in groups.items():
            old, new = sorted(ts, key=lambda t: t.number)
            assert schema.status_of(old) == Status.FAILED  # still recorded
            assert new.state == optuna.trial.TrialState.COMPLETE
            assert new.user_attrs["retry_of"] == old.number
            assert new.user_attrs[recovery.RETRY_FAILED_KEY] is True
            planned = recovery.configs(2)
            assert recovery.done_configs(ts, planned) == {(cid, 0)}
    # status shows the results, not the superseded failures (they stay in the storage)
    from lstm_odyssey.records import StorageURL
    from lstm_odyssey.sweep.status import study_status

    rows = study_status(load_study(path), StorageURL.parse(url).open(create=False))
    assert [(r["complete"], r["failed"]) for r in rows] == [(2, 0), (2, 0)]
    # exactly once: a second --retry-failed finds nothing to re-queue and adds no trial
    result = CliRunner().invoke(cli, ["sweep", str(path), "--storage", url, "--no-progress",
                                      "--retry-failed"])
    assert result.exit_code == 0 and "re-queued 0 failed trial(s)" in result.output
    assert sum(len(ts) for g in trials_by_config(url, "t").values() for ts in g.values()) == 8
