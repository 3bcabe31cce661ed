"""Trials whose worker stopped: detect them, fail them once, re-queue their configuration once.

A trial is *lost* when its worker stops before telling the result: SIGKILL, Ctrl-C, a preempted
job, a machine that went away. Each trial carries ``user_attrs["worker"]`` (host, pid, process
start time) and, from the moment it starts, ``status = "lost"``, so a trial that never finishes
is already labelled. Detection:

* same host (any storage): the recorded process no longer exists;
* RDB storages: Optuna's heartbeat — no heartbeat for ``grace_period`` seconds.

Exactly once: the transition RUNNING → FAIL is atomic in every Optuna storage (a row lock in an
RDB, the order of the log in a journal), and only the process whose transition succeeded
re-queues, so each lost trial yields exactly one new WAITING trial with the same configuration.
"""

from __future__ import annotations

import datetime
import os
import socket

import optuna
import psutil
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from ..records import Status, TrialRecord
from . import schema

LOST_REASON = ("the worker stopped before the trial finished (killed, interrupted or "
               "unreachable); its configuration was re-queued")
# what a claimed trial is labelled with until its record is written
LOST_LABEL = TrialRecord(status=Status.LOST,
                         failure_reason=LOST_REASON).to_user_attrs(partial=True)
HOST = socket.gethostname()


def worker_identity() -> dict:
    """Who runs a trial: host, pid and the process start time (guards against pid reuse)."""
    return {"host": HOST, "pid": os.getpid(), "started": psutil.Process().create_time()}


def _alive(worker: dict) -> bool:
    try:
        return abs(psutil.Process(int(worker["pid"])).create_time() - worker["started"]) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, TypeError, ValueError):
        return False


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue the configuration of the lost ``trial`` again (a new WAITING trial with the same
    fixed parameters, ``config_id`` and training seed)."""
    lost = TrialRecord.from_user_attrs(trial.user_attrs)
    planned = TrialRecord(config_id=lost.config_id, seed=lost.seed)
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING,
        user_attrs={**planned.to_user_attrs(partial=True), "retry_of": trial.number},
        system_attrs={"fixed_params": trial.system_attrs.get("fixed_params", trial.params)},
    ))


def fail_and_requeue(study: optuna.Study, storage: BaseStorage, trial: FrozenTrial) -> bool:
    """Fail ``trial`` (already labelled lost) and re-queue it, unless another process got there
    first; True if this call did it."""
    try:
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    requeue(study, storage.get_trial(trial._trial_id))
    return True


def stale_trials(study: optuna.Study, storage: BaseStorage) -> list[FrozenTrial]:
    """RUNNING trials whose worker stopped: its process on this host no longer exists, or (RDB
    storages with heartbeats) it sent none for ``grace_period`` seconds. The one rule used by
    the reaper and by ``status``."""
    silent: set[int] = set()
    if isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage):
        # Optuna's own rule, as optuna.storages.fail_stale_trials applies it
        silent = set(storage._get_stale_trial_ids(study._study_id))
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t._trial_id in silent or _dead_here(t.user_attrs.get("worker"))]


def _dead_here(worker: object) -> bool:
    return isinstance(worker, dict) and worker.get("host") == HOST and not _alive(worker)


def reap(study: optuna.Study, storage: BaseStorage) -> int:
    """Fail and re-queue the lost trials of ``study`` (:func:`stale_trials`). Returns how many
    this call re-queued."""
    return sum(fail_and_requeue(study, storage, t) for t in stale_trials(study, storage))


def orphans(trials: list[FrozenTrial], planned: int, age_s: float) -> list[FrozenTrial]:
    """Lost trials that were never re-queued (the process that failed one died before it
    could re-queue): for each planned configuration that is not done and whose trials all
    failed (so none waits or runs), the newest, if it was failed more than ``age_s`` seconds
    ago (a reaper re-queues within milliseconds of failing a trial, so a younger one may be
    about to be re-queued)."""
    done = done_configs(trials, planned)
    by_config: dict[int, list[FrozenTrial]] = {}
    for t in trials:
        cid = TrialRecord.from_user_attrs(t.user_attrs).config_id
        if _planned(cid, planned) and cid not in done:
            by_config.setdefault(cid, []).append(t)
    now = datetime.datetime.now()
    found = []
    for group in by_config.values():
        if any(t.state != TrialState.FAIL for t in group):
            continue
        newest = max(group, key=lambda t: t.number)
        if (now - (newest.datetime_complete or now)).total_seconds() > age_s:
            found.append(newest)
    return found


def is_done(trial: FrozenTrial) -> bool:
    """A trial that is a result (see :func:`.schema.trial_status`): COMPLETE, PRUNED, or FAIL
    with a failed/diverged record; a lost trial's configuration was re-queued."""
    return trial.state.is_finished() and schema.status_of(trial) != Status.LOST


def done_configs(trials: list[FrozenTrial], planned: int) -> set[int]:
    """The planned configurations (``config_id`` < ``planned``) of a study that are done: one
    of their trials is done (:func:`is_done`). The one rule for progress, completion and
    re-queueing."""
    return {cid for t in trials if is_done(t)
            and _planned(cid := TrialRecord.from_user_attrs(t.user_attrs).config_id, planned)}


def _planned(config_id: object, planned: int) -> bool:
    return isinstance(config_id, int) and 0 <= config_id < planned
