"""A worker: take the next planned trial from the storage, train it, record it, repeat.

    loop:
        re-queue lost trials (dead local processes; RDB: missing heartbeats)
        pop the WAITING trial with the lowest config_id over all (task, variant) studies
            (so every variant advances together and a partial sweep stays a paired design)
        if none: stop when every planned configuration is done, else re-queue orphans (lost
            trials whose reaper died) once they are a heartbeat interval old, wait, look again
        train it with TrainConfig(params, seed) on the task loaded once with the data seed
        record the training record in user_attrs and tell COMPLETE / FAIL / PRUNED

SIGTERM (Kubernetes, Slurm preemption) and Ctrl-C stop the worker cleanly: the trial it was
running is marked lost and its configuration re-queued, so the next run picks it up.

A server storage that stops answering is waited out (every storage call, heartbeats included,
retries with backoff for ``[storage] outage_s`` seconds, :mod:`lstm_odyssey.records.outage`);
beyond that the worker stops with :class:`~lstm_odyssey.records.outage.StorageUnavailable`,
and the trial it ran stays RUNNING until a worker finds it silent and re-queues it.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Self

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import Trial, TrialState

from ..records import RESULTS, Status, StorageError, StorageURL, TrialRecord
from ..tasks import Task, load_task
from ..train import run as train_run
from . import recovery, schema
from .faults import Fault, environment_fault
from .plan import SearchPlan, open_search, requeue_orphans, search_plans
from .studyfile import StudySpec, TaskPlan


class Interrupted(KeyboardInterrupt):
    """The worker was asked to stop (SIGTERM or SIGINT)."""


_hold: dict = {"held": False, "pending": None}  # see _signals_held


def _raise_interrupted(signum: int, frame: object) -> None:
    if _hold["held"]:
        _hold["pending"] = signum
        return
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """SIGTERM and SIGINT raise :class:`Interrupted` (only possible in the main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupted)
        signal.signal(signal.SIGINT, _raise_interrupted)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGTERM and SIGINT (as handled by :func:`install_signal_handlers`) until the block
    ends, then raise :class:`Interrupted` for one that came meanwhile. Done in the handler
    rather than with ``pthread_sigmask``, which only holds a signal for the calling thread
    while another thread may take it (Python runs every handler in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _hold.update(held=True, pending=None)
    try:
        yield
    finally:
        pending = _hold["pending"]
        _hold.update(held=False, pending=None)
        if pending is not None:
            raise Interrupted(signal.Signals(pending).name)


def quiet() -> None:
    """Keep worker output to the progress bars: no Optuna info lines or experimental warnings."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """The exploratory pruners; ``none`` (the paper) never prunes."""
    return {"none": optuna.pruners.NopPruner,
            "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
            "hyperband": optuna.pruners.HyperbandPruner}[name]()


@dataclass
class Search:
    """One planned Optuna study as a worker sees it."""

    plan: SearchPlan
    study: optuna.Study
    order: int

    @property
    def task(self) -> TaskPlan:
        return self.plan.task


class _Heartbeat:
    """Records Optuna heartbeats for a running trial from a background thread (RDB only)."""

    def __init__(self, storage: BaseStorage, trial_id: int) -> None:
        self.storage, self.trial_id = storage, trial_id
        self.stop = threading.Event()
        self.thread = None
        if isinstance(storage, RDBStorage) and storage.heartbeat_interval:
            self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            try:  # waits out an outage of the server (records/outage.py)
                self.storage.record_heartbeat(self.trial_id)
            except StorageError:  # it outlasted the window: the trial's tell will say so
                return
            if self.stop.wait(self.storage.heartbeat_interval):
                return

    def __enter__(self) -> Self:
        if self.thread is not None:
            self.storage.record_heartbeat(self.trial_id)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()


class Worker:
    """Runs planned trials of one study file from one storage until none are left."""

    def __init__(self, spec: StudySpec, url: StorageURL, poll_s: float = 2.0,
                 storage: BaseStorage | None = None) -> None:
        """``url``: the study's storage, planned (:func:`.plan.plan`); ``storage``: it,
        opened (else opened here)."""
        quiet()
        self.spec, self.url, self.poll_s = spec, url, poll_s
        self.storage = storage or url.open(True, spec.heartbeat_interval, spec.grace_period,
                                           spec.outage_s)
        self.searches = []
        for order, p in enumerate(search_plans(spec, self.storage)):
            if not p.planned:
                continue  # a replicate set whose search is not complete yet
            study = open_search(spec, self.storage, p.task, p.name)
            study.pruner = make_pruner(spec.pruner)
            self.searches.append(Search(p, study, order))
        self._tasks: dict[str, Task] = {}

    def task(self, plan: TaskPlan) -> Task:
        """The task's data, loaded once per worker with the study's data seed."""
        if plan.name not in self._tasks:
            self._tasks[plan.name] = load_task(plan.name, size=plan.size, path=plan.path,
                                               seed=plan.data_seed, **plan.options)
        return self._tasks[plan.name]

    def pending(self) -> int:
        """Planned configurations (over all searches) without a result yet (not counting those
        set aside after failures of their machine, which wait for ``sweep --retry-failed``)."""
        return sum(len(s.plan.planned) - len(recovery.settled(
            s.study.get_trials(deepcopy=False), s.plan.planned)) for s in self.searches)

    def pop(self) -> tuple[Search, Trial] | None:
        """Claim the waiting planned trial with the lowest (config_id, replicate) (atomic per
        storage) and label it with this worker and the status ``lost`` (until its result is
        told)."""
        candidates = []
        for s in self.searches:
            recovery.reap(s.study, self.storage)
            for t in s.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                key = TrialRecord.from_user_attrs(t.user_attrs).key
                if key in s.plan.planned:
                    candidates.append((key, s.order, t.number, s, t))
        for *_, s, t in sorted(candidates, key=lambda c: c[:3]):
            try:
                if self.storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                    trial = Trial(s.study, t._trial_id)
                    trial.set_user_attr("worker", recovery.worker_identity())
                    for key, value in recovery.LOST_LABEL.items():
                        trial.set_user_attr(key, value)
                    return s, trial
            except UpdateFinishedTrialError:
                continue
        return None

    def run(self, max_trials: int | None = None,
            on_progress: Callable[[], object] | None = None) -> int:
        """Run trials until every planned one is done (or ``max_trials``), calling
        ``on_progress()`` after each trial and on each idle poll; returns how many this worker
        ran. While idle it re-queues orphans (lost trials nobody re-queued) once they are
        older than the storage's heartbeat interval. Ctrl-C/SIGTERM propagate after the
        claimed trial was re-queued: they are held while a trial is claimed, so that a
        claimed trial is always known here."""
        ran = 0
        while max_trials is None or ran < max_trials:
            claimed = None
            try:
                with _signals_held():
                    claimed = self.pop()
                if claimed is None:
                    if self.pending() == 0:
                        break
                    self._patiently(requeue_orphans, self.spec, self.storage, self.url,
                                    [(s.plan.planned, s.study) for s in self.searches])
                    if on_progress is not None:
                        on_progress()
                    time.sleep(self.poll_s)
                    continue
                self.run_trial(*claimed)
                ran += 1
                if on_progress is not None:
                    on_progress()
            except KeyboardInterrupt:
                if claimed is not None:
                    self._requeue_own(*claimed)
                raise
        return ran

    def _patiently(self, fn: Callable[..., object], *args: object) -> object:
        """``fn(*args)``, waiting out an outage of a server storage also where ``fn`` talks
        to it beside the storage's own calls (the planning lock's connection)."""
        patience = getattr(self.storage, "patience", None)
        return fn(*args) if patience is None else patience.call(fn, *args)

    def run_trial(self, search: Search, trial: Trial) -> Status:
        """Train one claimed trial and record it; returns its status."""
        with _Heartbeat(self.storage, trial._trial_id):
            return self._train_and_tell(search, trial)

    def _requeue_own(self, search: Search, trial: Trial) -> None:
        """Mark this worker's interrupted trial lost and re-queue it (unless already told)."""
        try:  # it may have got as far as writing its final status: undo that first
            for key, value in recovery.LOST_LABEL.items():
                self.storage.set_trial_user_attr(trial._trial_id, key, value)
        except UpdateFinishedTrialError:
            return  # already told: the result stands, nothing to re-queue
        recovery.fail_and_requeue(search.study, self.storage,
                                  self.storage.get_trial(trial._trial_id))

    def _tell_machine_failure(self, search: Search, trial: Trial, fault: Fault) -> Status:
        """Record that the machine failed ``trial`` (:mod:`.faults`): no outcome, so it is
        labelled ``lost`` with the fault, failed, and its planned trial re-queued, at most
        :data:`.recovery.ENVIRONMENT_RETRIES` times (then it waits for ``sweep
        --retry-failed``, and the sweep names the fault). Returns ``lost``."""
        key = TrialRecord.from_user_attrs(trial.user_attrs).key
        group = [t for t in search.study.get_trials(deepcopy=False)
                 if t.number != trial.number
                 and TrialRecord.from_user_attrs(t.user_attrs).key == key]
        n = len(recovery.environment_faults(recovery.current(group))) + 1  # with this one
        retry = n <= recovery.ENVIRONMENT_RETRIES
        then = (f"re-queued (retry {n} of {recovery.ENVIRONMENT_RETRIES})" if retry else
                f"not re-queued: its {recovery.ENVIRONMENT_RETRIES} retries are used up; fix "
                "the machine, then run `lstm-odyssey sweep STUDY --retry-failed`")
        try:
            trial.set_user_attr(recovery.FAULT_KEY, fault.to_attr())
            label = TrialRecord(status=Status.LOST,
                                failure_reason=f"the machine failed the trial ({fault}); {then}")
            for name, value in label.to_user_attrs(partial=True).items():
                trial.set_user_attr(name, value)
            if retry:
                recovery.fail_and_requeue(search.study, self.storage,
                                          self.storage.get_trial(trial._trial_id))
            else:
                self.storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except UpdateFinishedTrialError:
            pass  # declared lost while it ran (no heartbeat): already failed and re-queued
        return Status.LOST

    def _train_and_tell(self, search: Search, trial: Trial) -> Status:
        params = {}
        for name in schema.PARAMS:  # the enqueued (fixed) values, recorded with their ranges
            d = self.spec.space[name]
            if d.integer:
                params[name] = trial.suggest_int(name, int(d.low), int(d.high), log=d.log)
            else:
                params[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
        planned = TrialRecord.from_user_attrs(trial.user_attrs)
        config = self.spec.train_config(search.task, search.plan.variant, params, planned.seed,
                                        planned.config_id, search.plan.protocol)
        last: dict = {}

        def on_epoch(epoch: int, run: dict) -> None:
            last.update(run)
            if not self.spec.paper_mode:
                trial.report(run["history"][-1]["valid_metric"], epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()

        try:
            record = TrialRecord.from_user_attrs(
                train_run(config, task=self.task(search.task), on_epoch=on_epoch))
        except optuna.TrialPruned:
            record = TrialRecord.from_user_attrs(last).ended(
                Status.PRUNED, "stopped early by the exploratory pruner")
        except Exception as e:  # noqa: BLE001 — a bug or bad config must not stop the sweep
            if (fault := environment_fault(e)) is not None:  # the machine's, not the trial's
                return self._tell_machine_failure(search, trial, fault)
            record = replace(TrialRecord.from_user_attrs(last), config_id=planned.config_id,
                             seed=planned.seed, momentum=config.momentum).ended(
                Status.FAILED, f"{type(e).__name__}: {e}".splitlines()[0])
        record = replace(record, replicate=planned.replicate)  # training knows no replicates
        value = record.valid_metric
        finite = value is not None and math.isfinite(value)
        if record.status in RESULTS and not finite:
            record = record.ended(Status.FAILED, "the run ended without a finite validation "
                                                 "metric")
        # The record is written before tell(): a worker that dies in between leaves a trial
        # whose record says "complete" but whose state the reaper sets to FAIL; such a trial
        # counts as lost (schema.trial_status), never as a result.
        for key, stored in record.to_user_attrs().items():
            trial.set_user_attr(key, stored)
        if record.status == Status.PRUNED:
            state, values = TrialState.PRUNED, None
        elif record.status in RESULTS:
            state, values = TrialState.COMPLETE, [float(value)]
        else:
            state, values = TrialState.FAIL, None
        try:
            search.study.tell(trial, values, state=state)
        except UpdateFinishedTrialError:
            warnings.warn(f"trial {trial.number} of {search.study.study_name} was declared lost "
                          "while it ran (no heartbeat); its result is discarded", stacklevel=1)
        return record.status
