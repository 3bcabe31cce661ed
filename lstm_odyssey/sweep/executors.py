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
from ..records.outage import StorageUnavailable
from . import recovery, schema
from .lock import exclusive
from .plan import open_search, orphan_age, plan, search_plans
from .studyfile import StudySpec
from .worker import Interrupted, Worker, install_signal_handlers, quiet

RESTARTS_PER_JOB = 3   # a local worker that dies is replaced, up to this many times per job
PARENT_POLL_S = 1.0    # how often a local worker checks that its coordinator is alive
EXIT_STORAGE_DOWN = 75  # a local worker's exit status when its storage outlasted outage_s
STOP_TIMEOUT_S = 10.0  # how long a failed coordinator waits for its workers to stop


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
        self.plans = search_plans(spec, storage)
        self.studies = [(p, open_search(spec, storage, p.task, p.name))
                        for p in self.plans if p.planned]

    def planned_per_task(self) -> dict[str, int]:
        """Planned trials per task label (``task`` or ``task/set``), in plan order."""
        out: dict[str, int] = {}
        for p in self.plans:
            out[p.label] = out.get(p.label, 0) + len(p.planned)
        return out

    def planned_total(self) -> int:
        return sum(len(p.planned) for p in self.plans)

    def done_per_task(self) -> dict[str, int]:
        out = dict.fromkeys(self.planned_per_task(), 0)
        for p, study in self.studies:
            out[p.label] += len(recovery.done_configs(study.get_trials(deepcopy=False),
                                                      p.planned))
        return out

    def waiting(self) -> str:
        """What the sweep waits for besides running trials ("" when nothing): lost trials
        that no process re-queued (a worker re-queues them once they are a heartbeat
        interval old) and running trials of stopped workers (re-queued by the next worker
        that looks)."""
        orphans = stale = 0
        for p, study in self.studies:
            trials = study.get_trials(deepcopy=False)
            orphans += len(recovery.orphans(trials, p.planned, age_s=0.0))
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
                f"that, then run `lstm-odyssey sweep {self.spec.source or 'STUDY.toml'} "
                "--retry-failed` (these failures stay recorded)")

    def set_aside(self) -> str | None:
        """A one-line message naming the fault when planned trials were set aside after
        failures of their machine (:func:`.recovery.set_aside`), else None."""
        faults: Counter[str] = Counter()
        for p, study in self.studies:
            for fault in recovery.set_aside(study.get_trials(deepcopy=False), p.planned).values():
                faults[str(fault)] += 1
        if not faults:
            return None
        (fault, n), = faults.most_common(1)
        total = sum(faults.values())
        tries = recovery.ENVIRONMENT_RETRIES + 1
        which = "" if len(faults) == 1 else f" ({n} of them)"
        return (f"{total} planned trial(s) of study {self.spec.name!r} did not run: the machine "
                f"failed each {tries} times, last with{which} {fault}; fix that, then run "
                f"`lstm-odyssey sweep {self.spec.source or 'STUDY.toml'} --retry-failed`")


def _bars(spec: StudySpec, tracker: Tracker, enabled: bool,
          echo: Callable[[str], None]) -> tuple[list, Callable[[], int], Callable[[str], None]]:
    """One tqdm bar per task (trials done/total over its variants, with ETA), a refresher
    that returns the trials done over all tasks, and ``note(text)``, which shows what the
    sweep waits for or what happened on the progress line (printed when there are no bars)."""
    start = tracker.done_per_task()
    labels = tracker.planned_per_task()
    bars = [tqdm(total=total, initial=start[label], unit="trial", desc=f"{spec.name}/{label}",
                 position=i, disable=not enabled, dynamic_ncols=True)
            for i, (label, total) in enumerate(labels.items())]
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
        for bar, label in zip(bars, labels):
            bar.update(done[label] - bar.n)
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
        _open_worker(spec, url).run()
    except Interrupted:
        _exit_quietly(130)
    except StorageUnavailable:  # the coordinator says it, once for all workers
        _exit_quietly(EXIT_STORAGE_DOWN)


def _open_worker(spec: StudySpec, url: StorageURL) -> Worker:
    """The worker of a local process. The coordinator opened the storage already, so one
    that cannot be opened now is a server that went away (a worker started, or restarted,
    during an outage): wait for it with backoff for the study's ``outage_s``, then leave it
    to the coordinator to say so (:class:`StorageUnavailable`)."""
    from ..records import StorageError

    deadline, delay = time.monotonic() + spec.outage_s, 1.0
    while True:
        try:
            return Worker(spec, url)
        except StorageError as e:
            if time.monotonic() + delay > deadline:
                raise StorageUnavailable(str(e)) from None
            time.sleep(delay)
            delay = min(2 * delay, 10.0)


def _exit_quietly(status: int) -> None:
    """Exit with ``status``; a SIGTERM from the coordinator meanwhile no longer interrupts the
    interpreter's own clean-up (a traceback from an atexit hook)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(status) from None


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
          progress: bool = True, echo: Callable[[str], None] = print,
          retry_failed: bool = False) -> Outcome:
    """Plan the study and run it to completion with ``jobs`` local processes or on Dask.
    Ctrl-C stops every worker, re-queues the trials they were running and raises
    :class:`SweepInterrupted`; calling again resumes. ``retry_failed`` first re-queues, once,
    each planned trial whose trials all failed or that the machine failed too often
    (:func:`.recovery.retry_failed`)."""
    if jobs < 1:
        raise UserError("--jobs must be ≥ 1")
    # SIGTERM (and SIGINT, which a shell's background job ignores by default) stop the sweep
    # like Ctrl-C, so that the running trials are re-queued.
    install_signal_handlers()
    url = spec.storage(storage).resolved()
    quiet()
    store = url.open(True, spec.heartbeat_interval, spec.grace_period, spec.outage_s)
    plan(spec, store, url)
    if retry_failed:
        echo(f"re-queued {_retry_failed(spec, store, url)} failed trial(s) of study "
             f"{spec.name!r}")
    already = True
    while True:
        tracker = Tracker(spec, store)
        planned = tracker.planned_total()
        done = sum(tracker.done_per_task().values())
        if done < planned:
            already = False
            done = _run(spec, url, tracker, jobs, dask, progress, echo)
        # replicate sets of the best configurations are planned once their searches are done
        if not plan(spec, store, url):
            break
    if failed := tracker.all_failed():
        raise SweepFailed(failed)
    echo(f"study {spec.name!r} is complete: {done}/{planned} trials in {url.masked}")
    return Outcome(done, planned, already, url.masked)


def _run(spec: StudySpec, url: StorageURL, tracker: Tracker, jobs: int, dask: str | None,
         progress: bool, echo: Callable[[str], None]) -> int:
    """Run the planned trials of ``tracker`` to the end; returns how many are done."""
    planned = tracker.planned_total()
    done = sum(tracker.done_per_task().values())
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
        if aside := tracker.set_aside():
            raise SweepFailed(aside)
        why = "; ".join(dict.fromkeys(problems)) or "every worker ended without an error"
        raise SweepFailed(f"the workers stopped with {done}/{planned} trials done ({why}); run "
                          "the same command again to resume")
    return done


def _retry_failed(spec: StudySpec, store: BaseStorage, url: StorageURL) -> int:
    """Re-queue the failed planned trials of every search (:func:`.recovery.retry_failed`),
    holding the planning lock so that each is re-queued once; returns how many."""
    with exclusive(store, url):
        return sum(recovery.retry_failed(study, p.planned)
                   for p, study in Tracker(spec, store).studies)


def _how(exitcode: int) -> str:
    """A process's end in words: ``killed by SIGKILL``, ``exit status 1``."""
    return (f"killed by {signal.Signals(-exitcode).name}" if exitcode < 0
            else f"exit status {exitcode}")


def _run_local(spec: StudySpec, url: StorageURL, jobs: int, refresh: Callable[[], int],
               note: Callable[[str], None]) -> list[str]:
    """Run ``jobs`` worker processes until all have ended; a worker that dies (SIGKILL, a
    crash) is replaced, however many die at once, up to ``RESTARTS_PER_JOB * jobs`` times,
    and ``note`` says so; one that stopped because the storage did not answer for
    ``outage_s`` seconds is not (its replacement would meet the same outage). Returns what
    went wrong (one entry per death)."""
    ctx = mp.get_context("spawn")

    def start(i: int) -> mp.process.BaseProcess:
        p = ctx.Process(target=_local_worker, args=(spec, url, os.getpid()),
                        name=f"lstm-odyssey-worker-{i + 1}")
        p.start()
        return p

    procs = [start(i) for i in range(jobs)]
    limit, restarts, problems, handled = RESTARTS_PER_JOB * jobs, 0, [], set()
    try:
        while True:
            refresh()
            # every worker that ended since the last look, however many: all are handled
            # before the loop asks whether any is alive
            for i, p in enumerate(procs):
                if p.exitcode in (None, 0) or p.pid in handled:
                    continue
                handled.add(p.pid)
                if p.exitcode == EXIT_STORAGE_DOWN:
                    problems.append(f"storage {url.masked} did not answer for {spec.outage_s} "
                                    "s: start the database server, nothing recorded is lost")
                    continue
                what = f"worker {i + 1} died ({_how(p.exitcode)})"
                if restarts < limit:
                    restarts += 1
                    procs[i] = start(i)
                    note(f"{what}; restarted it ({restarts} of at most {limit} restarts)")
                else:
                    note(f"{what}; not restarted: all {limit} restarts used")
                    what += f", not restarted: all {limit} restarts used"
                problems.append(what)
            if not any(p.is_alive() for p in procs):
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        _stop(procs, None)
        raise
    except BaseException:  # the coordinator failed (its storage did not answer): stop them
        _stop(procs, STOP_TIMEOUT_S)
        raise
    for p in procs:
        p.join()
    return problems


def _stop(procs: list[mp.process.BaseProcess], timeout: float | None) -> None:
    """SIGTERM the live workers (each re-queues its trial and exits) and wait for them, at
    most ``timeout`` seconds (then SIGKILL: their trials are found lost and re-queued)."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join()


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
        except (OSError, ValueError, TypeError) as e:  # unreachable, or no address at all
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
    store = url.open(True, spec.heartbeat_interval, spec.grace_period, spec.outage_s)
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
