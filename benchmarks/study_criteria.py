"""Check a study's calibration criteria on its committed trials, as Markdown.

    python benchmarks/study_criteria.py studies/odyssey-free.toml [--storage JOURNAL]

Three criteria judge the protocol of every task, on the study's own
trials and not only on the pilot runs of ``benchmarks/calibrate.py``. For the vanilla LSTM's
finished trials of each task (complete or stopped at the time limit; diverged trials have no
metric), the *best 10 %* are the ⌈n/10⌉ trials with the lowest validation metric, and:

(a) *learned*: the best validation metric is far from the trivial baseline — at most
    ``TARGET[task]`` (CER ≤ 40 %, frame error ≤ 30 %; jsb NLL inside the paper's band of about
    8.5–9.5 nats per step or below it);
(b) *not cut off by the cap*: at least 80 % of the best 10 % reached their best epoch before
    0.8 × max_epochs;
    The column after it says what the cap cost where it bit: how many of the best 10 % ran to
    max_epochs (stopped by the cap, not by patience) and the largest gain in validation metric
    any of them made after epoch 0.8 × max_epochs (best so far before it − best overall), to be
    read against the epoch-to-epoch noise of the validation metric: the median and 90th
    percentile of |change| between consecutive validation metrics over the last 10 epochs of
    the best 10 %.
(c) *valid ≈ test*: the best 10 %'s validation and test metrics agree to within a few points
    (the mean and the largest |valid − test| are printed; the criterion is judged by a reader,
    the issue gives no number).

All metrics are lower-is-better. With fewer than 10 vanilla trials a task's best 10 % is a
single trial and the line says so. ``--variant NAME`` checks another variant's trials instead,
``--variant all`` the pooled trials of every variant.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys

import numpy as np

from lstm_odyssey.analysis import load_results
from lstm_odyssey.errors import UserError
from lstm_odyssey.records import RESULTS
from lstm_odyssey.sweep.status import open_status

# (a): the largest best-vanilla validation metric that counts as "learned", per task.
TARGET = {"jsb": 9.5, "timit-synth": 30.0, "handwriting-synth": 40.0}
CAP_FRACTION = 0.8   # (b): the best epoch must be below this fraction of max_epochs ...
CAP_SHARE = 0.8      # ... for at least this share of the best 10 %


def gain_after(history: list[dict], epoch: float) -> float:
    """How much a trial's best validation metric improved after ``epoch``: (best before it)
    − (best overall); 0 when the best came before it, inf when no epoch before it was
    validated."""
    before = [e["valid_metric"] for e in history
              if e["epoch"] < epoch and e["valid_metric"] is not None]
    overall = [e["valid_metric"] for e in history if e["valid_metric"] is not None]
    return min(before) - min(overall) if before else math.inf


def wobble(history: list[dict], last: int = 10) -> list[float]:
    """|change| between consecutive validation metrics over the last ``last`` epochs."""
    metrics = [e["valid_metric"] for e in history[-last:] if e["valid_metric"] is not None]
    return [abs(b - a) for a, b in itertools.pairwise(metrics)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_file")
    parser.add_argument("--storage", default=None)
    parser.add_argument("--variant", default="V",
                        help="the variant whose trials are checked, or 'all' (pooled)")
    args = parser.parse_args()

    spec, url, _ = open_status(args.study_file, args.storage)
    trials = load_results(args.storage or url, searches=spec.searches()).trials
    done = trials[trials["status"].isin(RESULTS)
                  & ((trials["variant"] == args.variant) | (args.variant == "all"))]
    print(f"| task | {args.variant} trials | trivial baseline | (a) best valid (target) "
          "| best 10 %: n | median valid | (b) best epoch < 0.8 × cap "
          "| (b) ran to the cap; largest gain after 0.8 × cap "
          "| epoch-to-epoch \\|Δ valid\\|: median / 90th pct "
          "| (c) mean / max \\|valid − test\\| |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task in spec.tasks:
        rows = done[done["task"] == task.name].sort_values("valid_metric")
        if rows.empty:
            print(f"| {task.name} | 0 | | | | | | | | |")
            continue
        top = rows.head(math.ceil(len(rows) / 10))
        cap = task.protocol["max_epochs"]
        early = int((top["best_epoch"] < CAP_FRACTION * cap).sum())
        capped = int((top["epochs"] >= cap).sum())
        gain = max(gain_after(h, CAP_FRACTION * cap) for h in top["history"])
        noise = np.array([d for h in top["history"] for d in wobble(h)] or [np.nan])
        gap = (top["valid_metric"] - top["test_metric"]).abs()
        best = rows["valid_metric"].iloc[0]
        target = TARGET.get(task.name)
        verdict_a = "—" if target is None else ("met" if best <= target else "not met")
        verdict_b = "met" if early >= CAP_SHARE * len(top) else "not met"
        print(f"| {task.name} | {len(rows)} | {rows['baseline_metric'].iloc[0]:.3g} "
              f"| {best:.3g} ({'≤ ' + format(target, 'g') if target else '—'}: {verdict_a}) "
              f"| {len(top)} | {top['valid_metric'].median():.3g} "
              f"| {early} / {len(top)} (cap {cap}: {verdict_b}) "
              f"| {capped} / {len(top)}; {gain:.2g} "
              f"| {np.median(noise):.2g} / {np.percentile(noise, 90):.2g} "
              f"| {gap.mean():.2g} / {gap.max():.2g} |")


if __name__ == "__main__":
    try:
        main()
    except UserError as e:  # one line, as the CLI prints it
        sys.exit(f"error: {e}")
