"""How far a study has got, as Markdown for its results README.

    python benchmarks/study_progress.py studies/odyssey-free.toml

Per task: trials finished / planned (a finished trial is one with a training record: complete,
diverged, failed after training started, or stopped at its time limit; lost trials are not
counted), the core-hours they used (the trials' CPU time, ``cpu_time_s``: every worker runs one
thread, so this is what a trial cost whatever else shared the machine; records from before
that key existed count their wall time), the mean and 90th percentile per trial, the wall
time per trial for comparison, and the remaining core-hours at the mean so far (an
extrapolation, not a measurement).
"""

from __future__ import annotations

import argparse
import math
import sys

from lstm_odyssey.analysis import load_results
from lstm_odyssey.errors import UserError
from lstm_odyssey.records import Status
from lstm_odyssey.sweep.status import open_status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_file")
    parser.add_argument("--storage", default=None)
    args = parser.parse_args()

    spec, url, rows = open_status(args.study_file, args.storage)
    trials = load_results(args.storage or url, searches=spec.searches()).trials
    finished = trials[trials["wall_time_s"].notna() & (trials["status"] != Status.LOST)].copy()
    finished["core_s"] = finished["cpu_time_s"].fillna(finished["wall_time_s"])
    print("| task | finished / planned | core-hours used | core s per trial: mean | 90th pct |"
          " wall s per trial: mean | remaining core-hours (est.) |")
    print("|---|---|---|---|---|---|---|")
    used_all = left_all = 0.0
    for task in spec.tasks:
        planned = sum(r["planned"] for r in rows if r["task"] == task.name)
        done = finished[finished["task"] == task.name]
        used = done["core_s"].sum() / 3600
        mean = done["core_s"].mean() if len(done) else math.nan
        left = (planned - len(done)) * mean / 3600
        used_all += used
        left_all += left if math.isfinite(left) else 0.0
        p90 = done["core_s"].quantile(0.9) if len(done) else math.nan
        wall = done["wall_time_s"].mean() if len(done) else math.nan
        print(f"| {task.name} | {len(done)} / {planned} | {used:.2f} | {_num(mean, '.0f')} | "
              f"{_num(p90, '.0f')} | {_num(wall, '.0f')} | {_num(left, '.1f')} |")
    unknown = " (tasks with no finished trial not included)" if finished.empty or any(
        (finished["task"] == t.name).sum() == 0 for t in spec.tasks) else ""
    print(f"| all | {len(finished)} / {sum(r['planned'] for r in rows)} | {used_all:.2f} | | | |"
          f" {left_all:.1f}{unknown} |")


def _num(x: float, fmt: str) -> str:
    """A table cell: the number, or – where there is none yet."""
    return format(x, fmt) if math.isfinite(x) else "–"


if __name__ == "__main__":
    try:
        main()
    except UserError as e:  # one line, as the CLI prints it
        sys.exit(f"error: {e}")
