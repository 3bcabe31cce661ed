"""Executors: where worker loops run, and the coordinator that plans and shows progress.

* local: ``jobs`` worker processes (spawned, one torch thread each) on this machine; with
  ``jobs=1`` the worker loop runs in the coordinator's own process;
* ``worker``: one loop in this process (a Slurm array task, a Kubernetes pod, another host);
* Dask: one worker loop per Dask worker thread (``--dask local`` starts a LocalCluster of
  ``jobs`` single-threaded processes).

All of them share nothing but the storage, so they can be mixed freely and restarted at will.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from optuna.storages import BaseStorage
from tqdm.auto import tqdm

from ..errors import UserError
from ..records import Status, StorageURL, TrialRecord
from . import recovery, schema
from .plan import open_search, orphan_age, plan
from .studyfile import StudySpec
from .worker import Interrupted, Worker, install_signal_handlers, quiet

RESTARTS_PER_JOB = 3   # a local worker that dies is replaced, up to this many times per job
PARENT_POLL_S = 1.0    # how often a local worker checks that its coordinator is alive


class SweepInterrupted(UserError, RuntimeError):
    """The user stopped the sweep; running it again resumes."""


class SweepFailed(UserError, RuntimeError):
    """The workers stopped before every planned trial was done."""


@dataclass
class Outcome:
    """What a sweep call did: trials done of planned, and whether it had been complete."""

    done: int
    planned: int
    already_complete: bool
    storage: str


class Tracker:
    """Counts finished planned trials per task from the storage (for bars and completion), and
    says what the sweep waits for and whether every trial failed."""

    def __init__(self, spec: StudySpec, storage: BaseStorage) -> None:
        """``storage``: the study's, planned (:func:`.plan.plan`)."""
        quiet()
        self.spec = spec
        self.storage = storage
        self.studies = [(task, open_search(spec, storage, task, name))
                        for task, _, name in spec.study_names()]

    def done_per_task(self) -> dict[str, int]:
        out = {t.name: 0 for t in self.spec.tasks}
        for task, study in self.studies:
            out[task.name] += len(recovery.done_configs(study.get_trials(deepcopy=False),
                                                        task.trials))
        return out

    def waiting(self) -> str:
        """What the sweep waits for besides running trials ("" when nothing): lost trials
        that no process re-queued (a worker re-queues them once they are a heartbeat
        interval old) and running trials of stopped workers (re-queued by the next worker
        that looks)."""
        orphans = stale = 0
        for task, study in self.studies:
            trials = study.get_trials(deepcopy=False)
            orphans += len(recovery.orphans(trials, task.trials, age_s=0.0))
            stale += len(recovery.stale_trials(study, self.storage))
        notes = []
        if orphans:
            notes.append(f"{orphans} lost trial(s) wait to be re-queued (within "
                         f"{orphan_age(self.spec):.0f} s, the storage's heartbeat interval)")
        if stale:
            notes.append(f"{stale} trial(s) of stopped workers wait to be re-queued")
        return "; ".join(notes)

    def all_failed(self) -> str | None:
        """A one-line message when no trial is a result and every finished one failed with an
        error (the same error, usually: a bug or a bad setting), else None."""
        reasons: Counter[str] = Counter()
        results = 0
        for _, study in self.studies:
            for t in study.get_trials(deepcopy=False):
                if schema.status_of(t) == Status.FAILED:
                    reason = TrialRecord.from_user_attrs(t.user_attrs).failure_reason
                    reasons[reason or "no reason recorded"] += 1
                elif recovery.is_done(t):
                    results += 1
        if results or not reasons:
            return None
        (reason, n), = reasons.most_common(1)
        total = sum(reasons.values())
        which = ("the same error" if len(reasons) == 1
                 else f"{len(reasons)} different errors, {n} with")
        return (f"all {total} trials of study {self.spec.name!r} failed, {which}: {reason}; fix "
                "that, then sweep again under a new 'name' (these failures stay recorded)")


def _bars(spec: StudySpec, tracker: Tracker, enabled: bool,
          echo: Callable[[str], None]) -> tuple[list, Callable[[], int], Callable[[str], None]]:
    """One tqdm bar per task (trials done/total over its variants, with ETA), a refresher
    that returns the trials done over all tasks, and ``note(text)``, which shows what the
    sweep waits for or what happened on the progress line (printed when there are no bars)."""
    start = tracker.done_per_task()
    bars = [tqdm(total=t.trials * len(spec.variants), initial=start[t.name], unit="trial",
                 desc=f"{spec.name}/{t.name}", position=i, disable=not enabled, dynamic_ncols=True)
            for i, t in enumerate(spec.tasks)]
    shown = {"event": "", "waiting": ""}

    def show() -> None:
        text = "; ".join(v for v in shown.values() if v)
        if enabled:
            bars[0].set_postfix_str(text, refresh=True)

    def note(text: str) -> None:
        shown["event"] = text
        show()
        if not enabled:
            echo(text)

    def refresh() -> int:
        done = tracker.done_per_task()
        for bar, t in zip(bars, spec.tasks):
            bar.update(done[t.name] - bar.n)
        waiting = tracker.waiting()
        if waiting != shown["waiting"]:
            shown["waiting"] = waiting
            show()
            if waiting and not enabled:
                echo(waiting)
        return sum(done.values())
    return bars, refresh, note


def _local_worker(spec: StudySpec, url: StorageURL, parent: int) -> None:
    """Body of a local worker process: one torch thread; SIGTERM/SIGINT stop it cleanly, and
    so does the end of the coordinator process ``parent``."""
    import torch
    from tqdm import tqdm as std_tqdm

    # tqdm's default lock is a multiprocessing semaphore, left behind (and reported as leaked
    # at the end of the sweep) by a worker killed with SIGKILL; a worker draws no bars.
    std_tqdm.set_lock(threading.RLock())
    torch.set_num_threads(1)
    install_signal_handlers()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator forwards Ctrl-C as SIGTERM
    _stop_with(parent)
    try:
        Worker(spec, url).run()
    except Interrupted:
        raise SystemExit(130) from None


def _stop_with(parent: int) -> None:
    """SIGTERM this process (its running trial is re-queued) once the process ``parent`` is
    gone, so that a coordinator killed with SIGKILL leaves no worker running unsupervised.
    Polls ``os.getppid`` (portable, unlike Linux's PR_SET_PDEATHSIG, and it also catches a
    parent that died before this process got here)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _dask_worker(spec: StudySpec, url: StorageURL) -> int:
    """Body of a Dask task: a worker loop (one torch thread) on a Dask worker."""
    import torch

    torch.set_num_threads(1)
    return Worker(spec, url).run()


def sweep(spec: StudySpec, storage: str | None = None, jobs: int = 1, dask: str | None = None,
          progress: bool = True, echo: Callable[[str], None] = print) -> Outcome:
    """Plan the study and run it to completion with ``jobs`` local processes or on Dask.
    Ctrl-C stops every worker, re-queues the trials they were running and raises
    :class:`SweepInterrupted`; calling again resumes."""
    if jobs < 1:
        raise UserError("--jobs must be ≥ 1")
    # SIGTERM (and SIGINT, which a shell's background job ignores by default) stop the sweep
    # like Ctrl-C, so that the running trials are re-queued.
    install_signal_handlers()
    url = spec.storage(storage).resolved()
    quiet()
    store = url.open(True, spec.heartbeat_interval, spec.grace_period)
    plan(spec, store, url)
    tracker = Tracker(spec, store)
    planned = spec.planned_total()
    done = sum(tracker.done_per_task().values())
    if done >= planned:
        if failed := tracker.all_failed():
            raise SweepFailed(failed)
        echo(f"study {spec.name!r} is complete: {done}/{planned} trials in {url.masked}")
        return Outcome(done, planned, True, url.masked)
    echo(f"study {spec.name!r}: {done}/{planned} trials done; storage {url.masked}; "
         + (f"Dask {dask}" if dask else f"{jobs} local process(es)"))
    bars, refresh, note = _bars(spec, tracker, progress, echo)
    problems: list[str] = []
    try:
        if dask:
            _run_dask(spec, url, jobs, dask, refresh)
        elif jobs == 1:  # in this process: no start-up cost, Ctrl-C arrives directly
            import torch

            torch.set_num_threads(1)
            Worker(spec, url).run(on_progress=refresh)
        else:
            problems = _run_local(spec, url, jobs, refresh, note)
        done = refresh()
    except KeyboardInterrupt:
        done = refresh()
        raise SweepInterrupted(f"interrupted: {done}/{planned} trials done; the running ones "
                               "were re-queued; run the same command again to resume") from None
    finally:
        for bar in bars:
            bar.close()
    if done < planned:
        why = "; ".join(problems) or "no worker reported a problem"
        raise SweepFailed(f"the workers stopped with {done}/{planned} trials done ({why}); run "
                          "the same command again to resume")
    if failed := tracker.all_failed():
        raise SweepFailed(failed)
    echo(f"study {spec.name!r} is complete: {done}/{planned} trials in {url.masked}")
    return Outcome(done, planned, False, url.masked)


def _how(exitcode: int) -> str:
    """A process's end in words: ``killed by SIGKILL``, ``exit status 1``."""
    return (f"killed by {signal.Signals(-exitcode).name}" if exitcode < 0
            else f"exit status {exitcode}")


def _run_local(spec: StudySpec, url: StorageURL, jobs: int, refresh: Callable[[], int],
               note: Callable[[str], None]) -> list[str]:
    """Run ``jobs`` worker processes until all have ended; a worker that dies (SIGKILL, a
    crash) is replaced, up to ``RESTARTS_PER_JOB * jobs`` times, and ``note`` says so.
    Returns what went wrong (one entry per death)."""
    ctx = mp.get_context("spawn")

    def start(i: int) -> mp.process.BaseProcess:
        p = ctx.Process(target=_local_worker, args=(spec, url, os.getpid()),
                        name=f"lstm-odyssey-worker-{i + 1}")
        p.start()
        return p

    procs = [start(i) for i in range(jobs)]
    limit, restarts, problems, handled = RESTARTS_PER_JOB * jobs, 0, [], set()
    try:
        while any(p.is_alive() for p in procs):
            refresh()
            for i, p in enumerate(procs):
                if p.exitcode in (None, 0) or p.pid in handled:
                    continue
                handled.add(p.pid)
                what = f"worker {i + 1} died ({_how(p.exitcode)})"
                if restarts < limit:
                    restarts += 1
                    procs[i] = start(i)
                    note(f"{what}; restarted it ({restarts} of at most {limit} restarts)")
                else:
                    note(f"{what}; not restarted: all {limit} restarts used")
                problems.append(what)
            time.sleep(1.0)
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: the worker re-queues its trial and exits
        for p in procs:
            p.join()
        raise
    for p in procs:
        p.join()
    return problems


def _run_dask(spec: StudySpec, url: StorageURL, jobs: int, address: str,
              refresh: Callable[[], int]) -> None:
    from dask.distributed import Client, LocalCluster

    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=30)
        except OSError as e:
            raise UserError(f"cannot reach the Dask scheduler at {address} ({e}); check "
                            "--dask ADDRESS (tcp://host:8786) or use --dask local") from None
    try:
        slots = sum(client.nthreads().values())
        futures = [client.submit(_dask_worker, spec, url, pure=False) for _ in range(slots)]
        while not all(f.done() for f in futures):
            refresh()
            time.sleep(1.0)
        client.gather(futures)
    except KeyboardInterrupt:
        client.cancel(futures)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_worker(spec: StudySpec, storage: str | None = None,
               echo: Callable[[str], None] = print) -> int:
    """``lstm-odyssey worker``: plan if needed, then run trials in this process until the
    study is complete; SIGTERM/Ctrl-C re-queue the running trial. Returns trials run."""
    import torch

    torch.set_num_threads(1)
    url = spec.storage(storage).resolved()
    quiet()
    store = url.open(True, spec.heartbeat_interval, spec.grace_period)
    plan(spec, store, url)
    worker = Worker(spec, url, storage=store)
    install_signal_handlers()
    echo(f"worker {recovery.HOST}:{recovery.worker_identity()['pid']} joined study "
         f"{spec.name!r} at {url.masked}")
    try:
        ran = worker.run()
    except Interrupted:
        raise SweepInterrupted("worker stopped; its running trial was re-queued") from None
    echo(f"worker done: ran {ran} trial(s); study {spec.name!r} has no planned trial left")
    return ran
