"""Calibrate a study's protocol by measurement: vanilla learning curves before planning.

:func:`run_calibration` trains the vanilla LSTM for every point of a grid
(:func:`calibration_grid`: data size × hidden size × learning rate × seed) with the paper's
protocol — one sequence per update, no input noise, the given momentum (0.9, the search's
median, by default) — and patience = max_epochs, so that whole curves are seen. It appends one
:class:`~lstm_odyssey.records.runs.CalibrationRun` per run to ``OUT/runs.jsonl``: the record
plus the CPU seconds of every epoch (``time.process_time`` of the single-threaded run: what a
trial costs, whatever else the machine is doing). Runs already in the file are skipped, so it
resumes. A job's ``ppc``/``line_chars`` render handwriting-synth with another line shape
(uncached), to choose one.

``lstm-odyssey calibrate summary OUT`` reads the runs back
(:func:`lstm_odyssey.analysis.curves.calibration_summary`).
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import UserError
from ..records.runs import RUNS_FILE, CalibrationJob, CalibrationRun, read_runs_file
from ..records.trial import TrialRecord
from ..tasks import handwriting
from .config import TrainConfig

LineShape = tuple[tuple[float, float], tuple[int, int]]
# handwriting-synth's own line shape: points per character and characters per line (from–to)
DEFAULT_LINE_SHAPE: LineShape = (handwriting.POINTS_PER_CHAR, handwriting.LINE_CHARS)
SHAPED_TASK = "handwriting-synth"  # the one task whose line shape a job may change


class CalibrationError(UserError, ValueError):
    """A calibration grid that cannot run as given."""


def calibration_grid(task: str, size: str = "demo", hidden: Sequence[int] = (63, 200),
                     lr: Sequence[float] = (1e-4, 1e-3, 1e-2), seeds: Sequence[int] = (0,),
                     momentum: float = 0.9, max_epochs: int = 40,
                     wall_budget: float | None = None,
                     ppc: tuple[float, float] | None = None,
                     line_chars: tuple[int, int] | None = None,
                     path: str | None = None) -> list[CalibrationJob]:
    """The jobs of the grid hidden × lr × seeds, in that order (``path``: a user's dataset
    folder, whose task is named ``task``)."""
    if (ppc is not None or line_chars is not None) and task != SHAPED_TASK:
        raise CalibrationError(f"--points-per-char/--line-chars apply to {SHAPED_TASK} only, "
                               f"not {task}; drop them")
    return [CalibrationJob(task=task, size=str(size), hidden=h, lr=r, momentum=momentum,
                           max_epochs=max_epochs, seed=s, ppc=ppc, line_chars=line_chars,
                           wall_budget=wall_budget, path=path)
            for h, r, s in itertools.product(hidden, lr, seeds)]


def _task(job: CalibrationJob):
    """The task of ``job``; handwriting-synth with another line shape is rendered here."""
    from ..tasks import load_task
    from ..tasks.common import split_counts
    from ..tasks.registry import prepare

    size = int(job.size) if job.size.isdigit() else job.size
    if job.ppc is None and job.line_chars is None:
        return load_task(job.task, size=size, path=job.path)
    counts = split_counts(size, handwriting.DEMO, handwriting.FULL)
    corpus = handwriting.build(counts, 0, points_per_char=job.ppc or DEFAULT_LINE_SHAPE[0],
                               line_chars=job.line_chars or DEFAULT_LINE_SHAPE[1])
    demo = prepare(job.task, size="demo")         # the task's shape, not its data
    return replace(demo, corpus=corpus).task()


_TASK = None   # the task of the grid, built in the parent and inherited by the forked workers


def _config(job: CalibrationJob) -> TrainConfig:
    return TrainConfig(task=job.task, variant="V", hidden_size=job.hidden, learning_rate=job.lr,
                       momentum=job.momentum, input_noise=0.0, max_epochs=job.max_epochs,
                       patience=job.max_epochs, batch_size=1, backend="cpu", threads=1,
                       seed=job.seed, time_budget_s=job.wall_budget, path=job.path)


def _one(job: CalibrationJob) -> CalibrationRun:
    from . import run

    cpu: list[float] = []
    last = [time.process_time()]

    def on_epoch(epoch: int, record: dict) -> None:
        now = time.process_time()
        cpu.append(now - last[0])
        last[0] = now
        h = record["history"][-1]
        print(f"  N={job.hidden} lr={job.lr:g} epoch {epoch}: valid {h['valid_metric']:.4g}"
              f" train {h['train_metric']:.4g} ({cpu[-1]:.1f} CPU s)", flush=True)

    record = run(_config(job), task=_TASK, on_epoch=on_epoch)
    return CalibrationRun(job, tuple(cpu), TrialRecord.from_user_attrs(record), record)


def run_calibration(jobs: Sequence[CalibrationJob], out: str | Path, n_jobs: int = 2,
                    echo: Callable[[str], None] = print) -> Path:
    """Train the ``jobs`` not yet in ``out/runs.jsonl`` (``n_jobs`` processes, forked after
    the task is built once; one task per grid) and append each run as it ends; returns the
    file."""
    global _TASK
    if len({(j.task, j.size, j.ppc, j.line_chars, j.path) for j in jobs}) > 1:
        raise CalibrationError("a calibration grid runs one task at one size and line shape; "
                               "run one grid per task")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUNS_FILE
    done = {r.job.key() for r in read_runs_file(path)} if path.exists() else set()
    todo = [j for j in jobs if j.key() not in done]
    echo(f"{len(todo)} runs to do ({len(done)} already in {path})")
    if not todo:
        return path
    _TASK = _task(todo[0])
    # forked: the workers inherit the built task (rendering it again would cost minutes). All
    # of them at the start: a worker forked later, from the pool's threads (maxtasksperchild),
    # can hang on a lock held at the fork. Output is flushed first, or each worker would print
    # the parent's buffered lines again.
    sys.stdout.flush()
    with multiprocessing.get_context("fork").Pool(min(n_jobs, len(todo))) as pool:
        for result in pool.imap_unordered(_one, todo):
            with path.open("a") as f:
                f.write(result.to_json() + "\n")
            r, j = result.record, result.job
            echo(f"N={j.hidden} lr={j.lr:g}: best valid {r.valid_metric} at epoch "
                 f"{r.best_epoch} of {r.epochs}, test {r.test_metric}, "
                 f"{sum(result.cpu_s):.0f} CPU s")
    return path
