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
from .faults import Fault

Key = tuple[int, int]       # a trial's place in a plan: (config_id, replicate)
Planned = frozenset[Key]    # what a search plans

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
    fixed parameters, ``config_id``, training seed and replicate)."""
    lost = TrialRecord.from_user_attrs(trial.user_attrs)
    planned = TrialRecord(config_id=lost.config_id, seed=lost.seed, replicate=lost.replicate)
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


def orphans(trials: list[FrozenTrial], planned: Planned, age_s: float) -> list[FrozenTrial]:
    """Lost trials that were never re-queued (the process that failed one died before it
    could re-queue): for each planned (configuration, replicate) that is not done (nor set
    aside, :func:`set_aside`) and whose trials all failed (so none waits or runs), the newest,
    if it was failed more than ``age_s`` seconds ago (a reaper re-queues within milliseconds
    of failing a trial, so a younger one may be about to be re-queued)."""
    done = done_configs(trials, planned) | set(set_aside(trials, planned))
    by_key: dict[Key, list[FrozenTrial]] = {}
    for t in trials:
        key = TrialRecord.from_user_attrs(t.user_attrs).key
        if key in planned and key not in done:
            by_key.setdefault(key, []).append(t)
    now = datetime.datetime.now()
    found = []
    for group in by_key.values():
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


def done_configs(trials: list[FrozenTrial], planned: Planned) -> set[Key]:
    """The planned (config_id, replicate) pairs of a search that are done: one of their
    trials is done (:func:`is_done`; trials superseded by ``sweep --retry-failed`` do not
    count, see :func:`current`). The one rule for progress, completion and re-queueing."""
    return {key for key, group in _groups(trials, planned).items()
            if any(is_done(t) for t in current(group))}


def configs(n: int) -> Planned:
    """The plan of a search of ``n`` configurations: (0, 0) … (n−1, 0)."""
    return frozenset((i, 0) for i in range(n))


# -- failures of the machine and `sweep --retry-failed` ------------------------------------------
ENVIRONMENT_RETRIES = 3  # re-queues of a planned trial whose machine failed it (.faults)
FAULT_KEY = "environment_fault"  # user_attrs: the faults.Fault of a trial its machine failed
RETRY_FAILED_KEY = "retry_failed"  # user_attrs: True on a trial queued by `sweep --retry-failed`


def _groups(trials: list[FrozenTrial], planned: Planned) -> dict[Key, list[FrozenTrial]]:
    """The trials of each planned (config_id, replicate)."""
    by_key: dict[Key, list[FrozenTrial]] = {}
    for t in trials:
        key = TrialRecord.from_user_attrs(t.user_attrs).key
        if key in planned:
            by_key.setdefault(key, []).append(t)
    return by_key


def current(group: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials of one planned trial that count: those from its latest ``sweep
    --retry-failed`` re-queue on (all of them if it had none). The failed trials before it
    were superseded: they stay recorded, but they are no longer its result."""
    start = max((t.number for t in group if t.user_attrs.get(RETRY_FAILED_KEY) is True),
                default=-1)
    return [t for t in group if t.number >= start]


def counted(trials: list[FrozenTrial], planned: Planned) -> list[FrozenTrial]:
    """The trials of a search that count for its planned trials (:func:`current` of each):
    what progress and status read, without the failures ``sweep --retry-failed``
    superseded."""
    return [t for group in _groups(trials, planned).values() for t in current(group)]


def environment_faults(group: list[FrozenTrial]) -> list[Fault]:
    """The failures of the machine among ``group`` (trials of one planned trial), in trial
    order."""
    found = (Fault.from_attr(t.user_attrs.get(FAULT_KEY))
             for t in sorted(group, key=lambda t: t.number))
    return [f for f in found if f is not None]


def set_aside(trials: list[FrozenTrial], planned: Planned) -> dict[Key, Fault]:
    """The planned trials that are not done and whose machine failed them more than
    :data:`ENVIRONMENT_RETRIES` times (since ``sweep --retry-failed``), with the last fault:
    they are not re-queued again until ``sweep --retry-failed``."""
    out = {}
    for key, group in _groups(trials, planned).items():
        now = current(group)
        faults = environment_faults(now)
        if len(faults) > ENVIRONMENT_RETRIES and not any(is_done(t) for t in now):
            out[key] = faults[-1]
    return out


def settled(trials: list[FrozenTrial], planned: Planned) -> set[Key]:
    """The planned trials no worker will run: done, or set aside (:func:`set_aside`)."""
    return done_configs(trials, planned) | set(set_aside(trials, planned))


def requeue_failed(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue ``trial``'s planned trial again for ``sweep --retry-failed``: as :func:`requeue`,
    marked with ``retry_failed`` so that the trials before it no longer count."""
    old = TrialRecord.from_user_attrs(trial.user_attrs)
    planned = TrialRecord(config_id=old.config_id, seed=old.seed, replicate=old.replicate)
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING,
        user_attrs={**planned.to_user_attrs(partial=True), "retry_of": trial.number,
                    RETRY_FAILED_KEY: True},
        system_attrs={"fixed_params": trial.system_attrs.get("fixed_params", trial.params)},
    ))


def retry_failed(study: optuna.Study, planned: Planned) -> int:
    """``sweep --retry-failed``: re-queue once each planned trial of ``study`` that nothing
    waits for or runs and whose counted trials are all ``failed`` (none complete, diverged or
    pruned) or that was set aside after failures of its machine. The caller holds the
    planning lock, so that concurrent calls re-queue each once. Returns how many."""
    trials = study.get_trials(deepcopy=False)
    aside = set_aside(trials, planned)
    queued = 0
    for key, group in _groups(trials, planned).items():
        if any(not t.state.is_finished() for t in group):
            continue  # it waits or runs
        done = [t for t in current(group) if is_done(t)]
        if key in aside or (done and all(schema.status_of(t) == Status.FAILED for t in done)):
            requeue_failed(study, max(group, key=lambda t: t.number))
            queued += 1
    return queued
