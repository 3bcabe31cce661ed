"""What a trial counts as in every comparison, forest and plot: the rules against survivor bias.

A trial's *outcome* is the pair (validation metric, test metric) the analysis uses for it:

* a result (status complete or time limit): its recorded best-epoch metrics (:attr:`Rule.RECORDED`);
* a run that diverged after at least one validation: the metrics of its best epoch
  (:attr:`Rule.BEST_EPOCH`) — divergence is an outcome of the configuration, not a missing value;
* a run that diverged before its first validation, or whose metric is not finite: the task's
  trivial baseline b for both (:attr:`Rule.AT_BASELINE`); without a recorded baseline it is
  left out (:attr:`Rule.NO_BASELINE`, counted);
* failed (an error), pruned, lost or unfinished runs are no outcome (:attr:`Rule.NONE`).

Then every outcome worse than the baseline is clipped at it, ``y ← min(y, b)`` (``clipped``): a
network worse than the trivial predictor scores as the trivial predictor, so one exploded run
(NLL 1e9) cannot dominate a mean, a variance or a forest. The baseline b of a trial is its own
recorded ``baseline_metric``, else the median of its task's recorded ones.

The *sensitivity* sample (:func:`strict`) keeps only :attr:`Rule.RECORDED` trials that were not
clipped — the analysis as it would be with those trials left out.
"""

from __future__ import annotations

import enum

import numpy as np
import pandas as pd

from ..records import RESULTS, UNFINISHED, Status

VALID, TEST = "outcome_valid", "outcome_test"   # the columns :func:`score` adds


class Rule(enum.StrEnum):
    """How a trial's outcome was obtained (see the module docstring)."""

    RECORDED = "recorded"
    BEST_EPOCH = "diverged, best epoch"
    AT_BASELINE = "diverged before validation, at baseline"
    NO_BASELINE = "diverged before validation, no baseline: left out"
    NONE = "no outcome"


def task_baselines(trials: pd.DataFrame) -> pd.Series:
    """Per task, the median of the trials' recorded ``baseline_metric`` (NaN when none)."""
    if "baseline_metric" not in trials:
        return pd.Series(np.nan, index=pd.Index(trials["task"].unique()))
    return trials.groupby("task", sort=False)["baseline_metric"].median()


def score(trials: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``trials`` with ``baseline``, ``outcome_valid``, ``outcome_test``, ``rule``
    (:class:`Rule`) and ``clipped`` (bool) added, by the rules of the module docstring."""
    df = trials.copy()
    own = (df["baseline_metric"] if "baseline_metric" in df
           else pd.Series(np.nan, index=df.index))
    base = pd.to_numeric(own, errors="coerce").fillna(df["task"].map(task_baselines(df)))
    df["baseline"] = base.astype(float)
    valid = pd.to_numeric(df["valid_metric"], errors="coerce").astype(float)
    test = pd.to_numeric(df["test_metric"], errors="coerce").astype(float)
    has_metrics = np.isfinite(valid) & np.isfinite(test)
    result, diverged = df["status"].isin(RESULTS), df["status"] == Status.DIVERGED
    has_base = np.isfinite(df["baseline"])
    rule = np.select(
        [result & has_metrics, diverged & has_metrics, (result | diverged) & has_base,
         result | diverged],
        [Rule.RECORDED, Rule.BEST_EPOCH, Rule.AT_BASELINE, Rule.NO_BASELINE], Rule.NONE)
    df["rule"] = pd.Series(rule, index=df.index).map(Rule)
    at_base = df["rule"] == Rule.AT_BASELINE
    valid, test = valid.where(~at_base, df["baseline"]), test.where(~at_base, df["baseline"])
    counted = df["rule"].isin((Rule.RECORDED, Rule.BEST_EPOCH, Rule.AT_BASELINE))
    valid, test = valid.where(counted), test.where(counted)
    df["clipped"] = counted & has_base & ((valid > df["baseline"]) | (test > df["baseline"]))
    df[VALID] = np.fmin(valid, df["baseline"]).where(counted)
    df[TEST] = np.fmin(test, df["baseline"]).where(counted)
    return df


def scored(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` if it was scored already, else :func:`score` of it."""
    return trials if TEST in trials else score(trials)


def counted(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials with an outcome (every rule but NO_BASELINE and NONE)."""
    df = scored(trials)
    return df[np.isfinite(df[VALID]) & np.isfinite(df[TEST])]


def strict(trials: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity sample: results as recorded, none diverged, imputed or clipped."""
    df = scored(trials)
    return df[(df["rule"] == Rule.RECORDED) & ~df["clipped"]]


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials that ended (complete, diverged, failed, time limit, pruned), not running or
    queued. Trials lost with a dead worker are left out too: the sweep re-ran their
    configuration."""
    return trials[~trials["status"].isin((*UNFINISHED, Status.LOST))]


def rule_counts(trials: pd.DataFrame) -> dict[str, int]:
    """How many finished trials each rule touched: diverged at best epoch, diverged at the
    baseline, left out without a baseline, clipped at the baseline, not an outcome; and how
    many trials were lost with their worker (not finished: left out, their configuration
    re-run)."""
    df = finished(scored(trials))
    return {
        "best_epoch": int((df["rule"] == Rule.BEST_EPOCH).sum()),
        "at_baseline": int((df["rule"] == Rule.AT_BASELINE).sum()),
        "no_baseline": int((df["rule"] == Rule.NO_BASELINE).sum()),
        "clipped": int(df["clipped"].sum()),
        "no_outcome": int((df["rule"] == Rule.NONE).sum()),
        "lost": int((trials["status"] == Status.LOST).sum()),
    }
