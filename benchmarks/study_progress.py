"""How far a study has got, as Markdown for its results README.

    python benchmarks/study_progress.py studies/odyssey-free.toml

Per task: trials finished / planned (a finished trial is one the analysis counts: complete,
diverged or stopped at its time limit), the training time they used in core-hours (the sum of
their wall times: every worker runs one thread, so one trial occupies one core), the mean and
the 90th percentile of the time per trial, and the remaining core-hours at the mean time per
trial so far (an extrapolation, not a measurement).
"""

from __future__ import annotations

import argparse
import math

from lstm_odyssey.analysis import load_results
from lstm_odyssey.sweep.status import open_status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_file")
    parser.add_argument("--storage", default=None)
    args = parser.parse_args()

    spec, url, rows = open_status(args.study_file, args.storage)
    trials = load_results(url if args.storage is None else args.storage).trials
    finished = trials[trials["wall_time_s"].notna()]
    print("| task | finished / planned | core-hours used | s per trial: mean | 90th pct |"
          " remaining core-hours (est.) |\n|---|---|---|---|---|---|")
    total_used = total_left = 0.0
    for task in spec.tasks:
        planned = sum(r["planned"] for r in rows if r["task"] == task.name)
        done = finished[finished["task"] == task.name]
        used = done["wall_time_s"].sum() / 3600
        mean = done["wall_time_s"].mean() if len(done) else float("nan")
        left = (planned - len(done)) * mean / 3600 if len(done) else float("nan")
        total_used += used
        total_left += left if math.isfinite(left) else 0.0
        print(f"| {task.name} | {len(done)} / {planned} | {used:.2f} | {mean:.0f} | "
              f"{done['wall_time_s'].quantile(0.9) if len(done) else float('nan'):.0f} | "
              f"{left:.1f} |")
    print(f"| all | {len(finished)} / {sum(r['planned'] for r in rows)} | {total_used:.2f} | | |"
          f" {total_left:.1f} |")


if __name__ == "__main__":
    main()
