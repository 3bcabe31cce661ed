"""Learning curves as tables, to calibrate a protocol: how fast runs get near their best.

* :func:`run_curves` — pilot runs (``lstm-odyssey train --json`` records, e.g. a study's
  configurations rerun under another protocol or data size): per run its configuration, the
  validation metric at chosen epochs ('–' after the run stopped), the best epoch, the best
  validation and the test metric there, and the CPU seconds per epoch.
* :func:`calibration_summary` — the grid of ``lstm-odyssey calibrate run``: per run the
  trivial baseline, the best validation and test metric, the epoch it was reached at, the
  first epoch within :data:`WITHIN` of the run's best (:func:`first_within`) and the CPU time
  per epoch.
* :func:`trial_curves` — the same for one variant's trials of a sweep (no per-epoch CPU times
  there: wall seconds per epoch instead).

"First epoch within 5 % of best" is the first epoch whose validation metric v satisfies
v ≤ best + 0.05·|best|: how long the run took to get nearly there.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..records.runs import CalibrationRun, TrainedRun
from ..records.trial import TrialRecord
from .markdown import NONE, num, table
from .stats import REFERENCE

WITHIN = 0.05  # "nearly converged": within 5 % (relative) of the run's best validation metric
EPOCHS = (10, 20, 30, 40, 50, 70, 100, 120, 150)  # the epochs :func:`run_curves` shows
LineShape = tuple[tuple[float, float], tuple[int, int]]  # (points per char, chars per line)


def first_within(history: list[dict], best: float | None, within: float = WITHIN) -> int | None:
    """The first epoch whose validation metric is within ``within`` (relative) of ``best``;
    None without a best."""
    if best is None or pd.isna(best):
        return None
    return next((e["epoch"] for e in history if e["valid_metric"] is not None
                 and e["valid_metric"] <= best + within * abs(best)), None)


def _curve(record: TrialRecord) -> dict[int, float | None]:
    return {e["epoch"]: e["valid_metric"] for e in record.history or []}


def run_curves(runs: Sequence[TrainedRun], at: Sequence[int] = EPOCHS) -> str:
    """The validation curves of pilot runs at the epochs ``at``, as Markdown."""
    header = ("record", "task, size", "variant", "N", "lr", "momentum", "noise",
              "max epochs / patience", *(f"ep {e}" for e in at), "best epoch / run",
              "best valid", "test", "CPU s / epoch")
    rows = []
    for run in runs:
        c, r = run.setting, run.record
        curve = _curve(r)
        rows.append((run.name, f"{c.task}, {c.size}", c.variant, str(c.hidden_size),
                     f"{c.learning_rate:.2g}", f"{c.momentum:.3f}", f"{c.input_noise:.2f}",
                     f"{c.max_epochs} / {c.patience}", *(num(curve.get(e), ".3g") for e in at),
                     f"{r.best_epoch} / {r.epochs}", num(r.valid_metric, ".3g"),
                     num(r.test_metric, ".3g"),
                     num(r.cpu_time_s / r.epochs if r.cpu_time_s and r.epochs else None, ".2f")))
    return table(header, rows)


def _range(pair: Sequence[float]) -> str:
    return f"{pair[0]:g}–{pair[1]:g}"


def _shape(run: CalibrationRun, default: LineShape, shaped_task: str) -> str:
    j = run.job
    if j.task != shaped_task:
        return NONE
    own = j.ppc is None and j.line_chars is None
    return (f"{_range(j.ppc or default[0])} points/char, "
            f"{_range(j.line_chars or default[1])} chars" + (" (default)" if own else ""))


def calibration_summary(runs: Sequence[CalibrationRun], default_shape: LineShape,
                        shaped_task: str = "handwriting-synth") -> str:
    """The calibration runs as Markdown, sorted by task, size, line shape, N and lr;
    ``default_shape`` is the line shape of ``shaped_task``'s jobs that set none."""
    header = ("task", "size", "line shape", "N", "lr", "baseline", "best valid",
              "epoch of best / run", "first epoch within 5 % of best", "test at best",
              "CPU s / epoch", "status")

    def order(r: CalibrationRun) -> tuple:
        j = r.job
        return (j.task, str(j.size), str(j.ppc and list(j.ppc)),
                str(j.line_chars and list(j.line_chars)), j.hidden, j.lr)

    rows = []
    for run in sorted(runs, key=order):
        j, r = run.job, run.record
        rows.append((j.task, str(j.size), _shape(run, default_shape, shaped_task),
                     str(j.hidden), f"{j.lr:g}", num(r.baseline_metric, ".3g"),
                     num(r.valid_metric, ".3g"), f"{r.best_epoch} / {r.epochs}",
                     str(first_within(r.history or [], r.valid_metric) or NONE),
                     num(r.test_metric, ".3g"), f"{run.cpu_s_per_epoch:.1f}",
                     r.status.value if r.status else NONE))
    return table(header, rows)


def trial_curves(trials: pd.DataFrame, task: str, variant: str = REFERENCE) -> str:
    """One variant's trials of ``task`` with a validation metric, best first, as the table of
    :func:`calibration_summary` (a :func:`~.table.load_results` table)."""
    rows = trials[(trials["task"] == task) & (trials["variant"] == variant)
                  & trials["valid_metric"].notna()].sort_values("valid_metric", kind="stable")
    header = ("N", "lr", "momentum", "noise", "baseline", "best valid", "epoch of best / run",
              "first epoch within 5 % of best", "test at best", "wall s / epoch", "status")
    body = [(str(int(r.hidden_size)), f"{r.learning_rate:.2g}", f"{r.momentum:.2f}",
             f"{r.input_noise:.2f}", num(r.baseline_metric, ".3g"), f"{r.valid_metric:.3g}",
             f"{int(r.best_epoch)} / {int(r.epochs)}",
             str(first_within(r.history, r.valid_metric) or NONE), num(r.test_metric, ".3g"),
             num(r.wall_time_s / r.epochs if r.epochs else None, ".2f"), r.status)
            for r in rows.itertuples()]
    return table(header, body)
