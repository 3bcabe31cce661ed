"""How far a study has got and what it cost (``lstm-odyssey study progress``).

Per task (and per replicate set, as ``task/set``): trials finished / planned, where a finished
trial is one with a training record — complete, diverged, failed after training started, or
stopped at its time limit; lost trials (their worker stopped; they were re-run) are not
counted. Their cost is in core-hours: the trials' CPU time (``cpu_time_s``: every worker runs
one thread, so this is what a trial cost whatever else shared the machine; records from
before that key existed count their wall time). Beside it the mean and 90th percentile per
trial, the wall time per trial for comparison, and the remaining core-hours

    remaining = (planned − finished) · mean core-seconds per finished trial / 3600,

an extrapolation at the mean so far, not a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ..records import Status
from ..sweep.status import study_status
from .markdown import num, table
from .study import StudyTrials, search_label

HEADER = ("task", "finished / planned", "core-hours used", "core s per trial: mean", "90th pct",
          "wall s per trial: mean", "remaining core-hours (est.)")


@dataclass(frozen=True)
class TaskProgress:
    """One task's (or replicate set's) progress; the per-trial figures are NaN before its
    first finished trial."""

    task: str
    planned: int
    finished: int
    core_hours: float
    mean_core_s: float
    p90_core_s: float
    mean_wall_s: float

    @property
    def remaining_core_hours(self) -> float:
        """(planned − finished) × the mean core-seconds so far, in hours (NaN without one)."""
        return (self.planned - self.finished) * self.mean_core_s / 3600


@dataclass(frozen=True)
class Progress:
    """A study's progress: one row per task, in the study file's order."""

    tasks: tuple[TaskProgress, ...]

    @property
    def planned(self) -> int:
        return sum(t.planned for t in self.tasks)

    @property
    def finished(self) -> int:
        return sum(t.finished for t in self.tasks)

    @property
    def core_hours(self) -> float:
        return sum(t.core_hours for t in self.tasks)

    @property
    def remaining_core_hours(self) -> float:
        """The sum over the tasks that have an estimate (see :attr:`estimated`)."""
        return sum(t.remaining_core_hours for t in self.tasks
                   if math.isfinite(t.remaining_core_hours))

    @property
    def estimated(self) -> bool:
        """Whether every task has a finished trial, so that the remaining core-hours cover
        the whole study."""
        return all(t.finished for t in self.tasks)

    def to_markdown(self) -> str:
        rows = [(t.task, f"{t.finished} / {t.planned}", f"{t.core_hours:.2f}",
                 num(t.mean_core_s, ".0f"), num(t.p90_core_s, ".0f"), num(t.mean_wall_s, ".0f"),
                 num(t.remaining_core_hours, ".1f")) for t in self.tasks]
        note = "" if self.estimated else " (tasks with no finished trial not included)"
        rows.append(("all", f"{self.finished} / {self.planned}", f"{self.core_hours:.2f}",
                     "", "", "", f"{self.remaining_core_hours:.1f}{note}"))
        return table(HEADER, rows)


def finished_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials with a training record (a wall time), lost ones left out, with ``core_s``
    (CPU seconds, else wall seconds) and ``label`` (:func:`.study.search_label`) added."""
    done = trials[trials["wall_time_s"].notna() & (trials["status"] != Status.LOST)].copy()
    done["core_s"] = done["cpu_time_s"].fillna(done["wall_time_s"])
    done["label"] = [search_label(t, r) for t, r in zip(done["task"], done["replicate_set"],
                                                        strict=True)]
    return done


def progress(trials: pd.DataFrame, planned: Mapping[str, int]) -> Progress:
    """The progress of the trials (a :func:`~.table.load_results` table) against ``planned``:
    label (``task`` or ``task/set``) → planned trials, in the order to show."""
    done = finished_trials(trials)
    rows = []
    for label, n in planned.items():
        g = done.loc[done["label"] == label]
        empty = g.empty
        rows.append(TaskProgress(
            task=label, planned=n, finished=len(g), core_hours=float(g["core_s"].sum()) / 3600,
            mean_core_s=math.nan if empty else float(g["core_s"].mean()),
            p90_core_s=math.nan if empty else float(g["core_s"].quantile(0.9)),
            mean_wall_s=math.nan if empty else float(g["wall_time_s"].mean())))
    return Progress(tuple(rows))


def planned_trials(study: StudyTrials) -> dict[str, int]:
    """Label → planned trials of every search of the study (its own planning: shared tasks
    count what their origin planned), from the storage."""
    planned: dict[str, int] = {}
    for row in study_status(study.spec, study.storage.open(create=False)):
        planned[row["task"]] = planned.get(row["task"], 0) + row["planned"]
    return planned


def study_progress(study: StudyTrials) -> Progress:
    """:func:`progress` of a study file's trials against its plan."""
    return progress(study.results.trials, planned_trials(study))
