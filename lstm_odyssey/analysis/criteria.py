"""Did a study's protocol let its tasks learn? Three criteria on its own trials
(``lstm-odyssey study criteria``).

For the finished trials of one variant on each task (vanilla by default, or every variant
pooled; complete or stopped at the time limit — diverged trials have no metric), the *best
10 %* are the ⌈n/10⌉ trials with the lowest validation metric, and:

(a) *learned*: the best validation metric is far from the trivial baseline — at most
    :data:`LEARNED` of the task (CER ≤ 40 %, frame error ≤ 30 %; jsb's NLL inside the paper's
    band of about 8.5–9.5 nats per step or below it);
(b) *not cut off by the cap*: at least :data:`CAP_SHARE` of the best 10 % reached their best
    epoch before :data:`CAP_FRACTION` × max_epochs. Where the cap bit, how much it cost: how
    many of the best 10 % ran to max_epochs (stopped by the cap, not by patience) and the
    largest gain in validation metric any of them made from epoch ⌈0.8 × max_epochs⌉ on
    (:func:`gain_after`), to be read against the epoch-to-epoch noise of the validation
    metric: the median and 90th percentile of |change| between consecutive validation metrics
    over the last :data:`WOBBLE_EPOCHS` epochs of the best 10 % (:func:`wobble`);
(c) *valid ≈ test*: the best 10 %'s validation and test metrics agree to within a few points
    (the mean and the largest |valid − test|; judged by a reader, there is no threshold).

All metrics are lower-is-better. With fewer than 10 trials a task's best 10 % is a single
trial. Replicate sets' extra seeds are not counted: the criteria judge the searches.
:mod:`.cap` asks the complementary question — whether the cap decides a verdict.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import UserError
from ..records import RESULTS
from ..sweep.plan import effective_protocol
from .cap import best_until
from .markdown import num, table
from .stats import REFERENCE, n_top
from .study import StudyTrials

# (a): the largest best validation metric that counts as "learned", per task
LEARNED = {"jsb": 9.5, "timit-synth": 30.0, "handwriting-synth": 40.0}
CAP_FRACTION = 0.8   # (b): the best epoch must come before this fraction of max_epochs ...
CAP_SHARE = 0.8      # ... for at least this share of the best 10 %
TOP = 0.1            # the best 10 %
WOBBLE_EPOCHS = 10   # the epochs at a run's end whose validation changes are its noise
ALL = "all"          # the variant that pools every variant's trials


class CriteriaError(UserError, ValueError):
    """A variant the study does not have."""


def gain_after(history: list[dict], epoch: int) -> float:
    """How much a run's best validation metric improved from ``epoch`` on: (best of the
    epochs < ``epoch``) − (best overall), by :func:`.cap.best_until`; 0 when the best came
    before it, inf when no epoch before it was validated."""
    if not history:
        return math.nan
    before = best_until(history, epoch - 1)
    overall = best_until(history, max(e["epoch"] for e in history))
    return before - overall if math.isfinite(before) else math.inf


def wobble(history: list[dict], last: int = WOBBLE_EPOCHS) -> list[float]:
    """|change| between consecutive validation metrics over the last ``last`` epochs
    (unvalidated epochs skipped)."""
    metrics = [e["valid_metric"] for e in history[-last:] if e["valid_metric"] is not None]
    return [abs(b - a) for a, b in itertools.pairwise(metrics)]


@dataclass(frozen=True)
class TaskCriteria:
    """The three criteria on one task's trials (NaN where there are none)."""

    task: str
    n: int                      # finished trials
    baseline: float             # the trivial predictor's validation metric
    best_valid: float
    target: float | None        # (a)'s threshold; None: the task has none
    n_top: int                  # the best 10 %
    median_valid: float         # of the best 10 %
    cap: int                    # the protocol's max_epochs
    early: int                  # (b): best 10 % with best epoch < CAP_FRACTION × cap
    capped: int                 # best 10 % that ran to the cap
    gain: float                 # largest gain of the best 10 % from ⌈CAP_FRACTION × cap⌉ on
    wobble_median: float
    wobble_p90: float
    gap_mean: float             # (c): mean |valid − test| of the best 10 %
    gap_max: float

    @property
    def learned(self) -> bool | None:
        """(a); None where the task has no threshold."""
        return None if self.target is None else bool(self.best_valid <= self.target)

    @property
    def cap_met(self) -> bool:
        """(b)."""
        return self.early >= CAP_SHARE * self.n_top


def task_criteria(trials: pd.DataFrame, task: str, cap: int) -> TaskCriteria:
    """The criteria on ``trials`` (one task's finished trials of the variants judged); with
    none, n = 0 and NaN everywhere."""
    rows = trials.sort_values("valid_metric", kind="stable")
    if rows.empty:
        nan = math.nan
        return TaskCriteria(task, 0, nan, nan, LEARNED.get(task), 0, nan, int(cap), 0, 0, nan,
                            nan, nan, nan, nan)
    top = rows.head(n_top(len(rows), TOP))
    boundary = math.ceil(CAP_FRACTION * cap)  # the first epoch not "before 0.8 × cap"
    noise = np.array([d for h in top["history"] for d in wobble(h)] or [np.nan])
    gap = (top["valid_metric"] - top["test_metric"]).abs()
    return TaskCriteria(
        task=task, n=len(rows), baseline=float(rows["baseline_metric"].iloc[0]),
        best_valid=float(rows["valid_metric"].iloc[0]), target=LEARNED.get(task),
        n_top=len(top), median_valid=float(top["valid_metric"].median()), cap=int(cap),
        early=int((top["best_epoch"] < CAP_FRACTION * cap).sum()),
        capped=int((top["epochs"] >= cap).sum()),
        gain=max(gain_after(h, boundary) for h in top["history"]),
        wobble_median=float(np.median(noise)), wobble_p90=float(np.percentile(noise, 90)),
        gap_mean=float(gap.mean()), gap_max=float(gap.max()))


def judged_trials(trials: pd.DataFrame, variant: str = REFERENCE) -> pd.DataFrame:
    """The trials the criteria judge: the searches' results (complete or time limit) of
    ``variant``, or of every variant with :data:`ALL`."""
    keep = trials["status"].isin(RESULTS) & (trials["replicate_set"] == "")
    if variant != ALL:
        keep &= trials["variant"] == variant
    return trials[keep]


def study_criteria(study: StudyTrials, variant: str = REFERENCE) -> list[TaskCriteria]:
    """The criteria of every task of the study file (the cap of each from its protocol)."""
    if variant != ALL and variant not in study.spec.variants:
        raise CriteriaError(f"variant {variant!r} is not one of study "
                            f"{study.spec.name!r}'s ({', '.join(study.spec.variants)}); "
                            f"give one of them or {ALL!r}")
    judged = judged_trials(study.results.trials, variant)
    return [task_criteria(judged[judged["task"] == t.name], t.name,
                          effective_protocol(study.spec, t)["max_epochs"])
            for t in study.spec.tasks]


def to_markdown(rows: list[TaskCriteria], variant: str = REFERENCE) -> str:
    """The criteria as a Markdown table, one row per task."""
    header = (f"task | {variant} trials | trivial baseline | (a) best valid (target) "
              "| best 10 %: n | median valid | (b) best epoch < 0.8 × cap "
              "| (b) ran to the cap; largest gain after 0.8 × cap "
              "| epoch-to-epoch \\|Δ valid\\|: median / 90th pct "
              "| (c) mean / max \\|valid − test\\|").split(" | ")

    def verdict(ok: bool | None) -> str:
        return "—" if ok is None else ("met" if ok else "not met")

    body = [(c.task, str(c.n), num(c.baseline, ".3g"),
             (f"{c.best_valid:.3g} ({'≤ ' + format(c.target, 'g') if c.target else '—'}: "
              f"{verdict(c.learned)})"),
             str(c.n_top), f"{c.median_valid:.3g}",
             f"{c.early} / {c.n_top} (cap {c.cap}: {verdict(c.cap_met)})",
             f"{c.capped} / {c.n_top}; {c.gain:.2g}",
             f"{c.wobble_median:.2g} / {c.wobble_p90:.2g}",
             f"{c.gap_mean:.2g} / {c.gap_max:.2g}") if c.n else (c.task, "0", *[""] * 8)
            for c in rows]
    return table(header, body)
