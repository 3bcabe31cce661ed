"""Sweep throughput: trials per hour of one study with 1 and 2 local worker processes.

Every run sweeps the same planned trials (same study file, same seed) into a fresh journal
file, as a fresh ``lstm-odyssey sweep`` process, one after the other on this machine, after one
untimed warm-up run (builds the C++ kernels and the data caches). The table shows each run's
trials/hour and the parallel efficiency ``(rate_N / rate_1) / N``, twice: over the whole
command (Python start-up, planning, worker start-up included; these weigh heavily for a study
as small as the smoke study) and over the trials only (first trial start to last trial end, from
the storage's timestamps). A loaded machine makes the numbers noisy.

    python benchmarks/sweep_throughput.py [--study studies/smoke.toml] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from lstm_odyssey.records import StorageURL
from lstm_odyssey.sweep.studyfile import load_study


def measure(study: str, jobs: int, url: Path) -> tuple[float, float]:
    """(command wall seconds, first trial start to last trial end) of a full
    ``lstm-odyssey sweep`` of ``study`` with ``jobs`` processes."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lstm_odyssey", "sweep", study, "--jobs", str(jobs),
                    "--storage", str(url), "--no-progress"], check=True, capture_output=True)
    wall = time.perf_counter() - start
    storage = StorageURL.parse(str(url)).open(create=True)
    trials = [t for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
              for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials()]
    span = (max(t.datetime_complete for t in trials)
            - min(t.datetime_start for t in trials)).total_seconds()
    return wall, span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="studies/smoke.toml")
    parser.add_argument("--jobs", default="1,2", help="Comma-separated process counts.")
    args = parser.parse_args()
    counts = [int(j) for j in args.jobs.split(",")]
    trials = load_study(args.study).planned_total()
    with tempfile.TemporaryDirectory() as tmp:
        measure(args.study, 1, Path(tmp) / "warm-up.log")
        rows = [(j, *measure(args.study, j, Path(tmp) / f"jobs{j}.log")) for j in counts]
    print(f"study {args.study}: {trials} trials per run")
    print(f"{'':4s} {'whole command':^34s}   {'trials only':^34s}")
    columns = f" {'wall s':>7s} {'trials/h':>9s} {'speed-up':>8s} {'effic.':>6s} "
    print(f"{'jobs':>4s}" + columns * 2)
    for jobs, *times in rows:
        cells = []
        for col, seconds in enumerate(times):
            speedup = rows[0][1 + col] / seconds
            cells.append(f" {seconds:>7.1f} {trials / seconds * 3600:>9.0f} {speedup:>7.2f}× "
                         f"{speedup * rows[0][0] / jobs:>6.0%} ")
        print(f"{jobs:>4d}" + "".join(cells))

if __name__ == "__main__":
    main()
