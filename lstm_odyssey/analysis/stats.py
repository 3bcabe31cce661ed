"""Variant-vs-vanilla statistics per task (PAPER.md §6) and their robust companions.

For a task, variant v and the reference r (vanilla), let ``T_v`` be the test metrics of the best
fraction q of v's trials chosen by validation metric (``n_q = round(q·n_trials)``, failures
count as trials but are never chosen). Lower metrics are better, so Δ = mean(T_v) − mean(T_r) > 0
means v is worse.

* Welch's t-test (the paper's test): t = Δ / √(s_v²/n_v + s_r²/n_r), Welch–Satterthwaite
  degrees of freedom; v differs significantly when p < α.
* Mann–Whitney U on the same samples (two-sided), a rank-based check.
* Bootstrap 95 % confidence interval of Δ (percentile, resampling each sample separately).
* Holm's step-down correction of the Welch p-values across the variants of a task.
* A paired test on matched configurations: the Wilcoxon signed-rank test of the differences
  of test metrics of the same planned configuration (``config_id``) in v and in r, over all
  configurations that completed in both.
* The verdict at other fractions q (5 %, 10 %, 20 % by default).

With fewer than :data:`MIN_SAMPLES` values in a sample nothing is tested and the verdict is
``"too few trials"``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..sweep import schema

MIN_SAMPLES = 3
TOO_FEW = "too few trials"
REFERENCE = "V"


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaNs are ignored and stay NaN).

    With the m finite p-values sorted ascending, p̃_(k) = max_{j≤k} min(1, (m − j + 1)·p_(j)).
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


UNFINISHED = ("running", "waiting")
# Statuses of a trial that is a result: the run ended by the protocol, or at the study's time
# budget with the test metric of its best epoch so far (the sweep tells both as COMPLETE).
RESULTS = ("complete", "time_limit")


def completed(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials that are results (status in :data:`RESULTS`); every other finished trial is a
    failure (diverged, failed, pruned)."""
    return trials[trials["status"].isin(RESULTS)]


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials that ended (complete, diverged, failed, time limit, ...), not running or queued.
    Trials lost with a dead worker are left out too: the sweep re-ran their configuration."""
    return trials[~trials["status"].isin((*UNFINISHED, schema.LOST))]


def rates(trials: pd.DataFrame) -> tuple[float, float]:
    """(failure rate, divergence rate) among the finished trials; NaN when none finished."""
    done = finished(trials)
    if done.empty:
        return math.nan, math.nan
    return (float((~done["status"].isin(RESULTS)).mean()),
            float((done["status"] == "diverged").mean()))


def top_trials(trials: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """The best ``round(fraction·n)`` (at least one) completed trials by validation, n the number
    of finished trials (failures count, running trials do not)."""
    done = completed(trials)
    done = done[np.isfinite(done["valid_metric"]) & np.isfinite(done["test_metric"])]
    n = max(1, round(fraction * len(finished(trials))))
    return done.nsmallest(min(n, len(done)), "valid_metric")


def verdict(p: float, diff: float, alpha: float = 0.05) -> str:
    """'worse' / 'better' when p < alpha (by the sign of Δ), else 'n.s.'; NaN → too few."""
    if not np.isfinite(p):
        return TOO_FEW
    if p < alpha:
        return "worse" if diff > 0 else "better"
    return "n.s."


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's t statistic and two-sided p of mean(a) − mean(b); NaN with too few values."""
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return math.nan, math.nan
    if np.var(a) == 0 and np.var(b) == 0:
        return (0.0, 1.0) if np.mean(a) == np.mean(b) else (math.copysign(math.inf, np.mean(a)
                                                                          - np.mean(b)), 0.0)
    r = stats.ttest_ind(a, b, equal_var=False)
    return float(r.statistic), float(r.pvalue)


def mann_whitney(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value; NaN with too few values."""
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return math.nan
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def bootstrap_ci(a: np.ndarray, b: np.ndarray, n_resamples: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of mean(a) − mean(b)."""
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES:
        return math.nan, math.nan
    r = stats.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                        n_resamples=n_resamples, method="percentile", confidence_level=level,
                        rng=np.random.default_rng(seed), vectorized=True)
    return float(r.confidence_interval.low), float(r.confidence_interval.high)


def paired(variant: pd.DataFrame, reference: pd.DataFrame) -> tuple[int, float, float]:
    """(pairs, median difference, Wilcoxon signed-rank p) over configurations completed in both."""
    def done(df: pd.DataFrame) -> pd.Series:
        ok = completed(df)
        ok = ok[np.isfinite(ok["test_metric"])]
        return ok.groupby("config_id")["test_metric"].mean()

    both = pd.concat([done(variant), done(reference)], axis=1, join="inner").dropna()
    d = (both.iloc[:, 0] - both.iloc[:, 1]).to_numpy()
    if len(d) < MIN_SAMPLES:
        return len(d), math.nan, math.nan
    p = 1.0 if np.all(d == 0) else float(stats.wilcoxon(d).pvalue)
    return len(d), float(np.median(d)), p


def variant_summary(trials: pd.DataFrame, fraction: float = 0.1) -> pd.DataFrame:
    """Per task and variant: trial counts (``running`` = not finished yet), failure and
    divergence rates among the finished trials, the test metric of all
    completed trials and of the best ``fraction``, and the best ``fraction``'s mean parameters."""
    rows = []
    for (task, variant), g in trials.groupby(["task", "variant"], sort=False):
        top = top_trials(g, fraction)
        done = completed(g)
        fail, div = rates(g)
        rows.append({
            "task": task, "variant": variant, "trials": len(g), "complete": len(done),
            "running": int(g["status"].isin(UNFINISHED).sum()),
            "failure_rate": fail, "divergence_rate": div,
            "median_test_all": float(done["test_metric"].median()),
            f"mean_test_top{round(fraction * 100)}": float(top["test_metric"].mean()),
            "best_test": float(top["test_metric"].min()) if len(top) else math.nan,
            f"mean_params_top{round(fraction * 100)}": float(top["n_parameters"].mean()),
            "mean_wall_time_s": float(done["wall_time_s"].mean()),
        })
    return pd.DataFrame(rows)


def compare_variants(
    trials: pd.DataFrame,
    fraction: float = 0.1,
    alpha: float = 0.05,
    fractions: tuple[float, ...] = (0.05, 0.1, 0.2),
    n_resamples: int = 2000,
    seed: int = 0,
    reference: str = REFERENCE,
) -> pd.DataFrame:
    """One row per (task, variant ≠ reference): the tests described in the module docstring.

    Columns: task, variant, n_top, n_top_ref, mean_top, mean_top_ref, diff, welch_t, welch_p,
    holm_p, mwu_p, ci_low, ci_high, paired_n, paired_median_diff, paired_p, verdict (Welch at
    ``fraction``), verdict_holm, verdict_top<pct> for each of ``fractions``, failure_rate,
    divergence_rate. Tasks without the reference variant are skipped.
    """
    rows = []
    for task, tg in trials.groupby("task", sort=False):
        ref = tg[tg["variant"] == reference]
        if ref.empty:
            continue
        ref_top = top_trials(ref, fraction)["test_metric"].to_numpy()
        task_rows = []
        for variant, g in tg.groupby("variant", sort=False):
            if variant == reference:
                continue
            top = top_trials(g, fraction)["test_metric"].to_numpy()
            t, p = welch(top, ref_top)
            diff = float(top.mean() - ref_top.mean()) if len(top) and len(ref_top) else math.nan
            lo, hi = bootstrap_ci(top, ref_top, n_resamples, seed)
            n_pair, med, p_pair = paired(g, ref)
            fail, div = rates(g)
            row = {
                "task": task, "variant": variant, "n_top": len(top), "n_top_ref": len(ref_top),
                "mean_top": float(top.mean()) if len(top) else math.nan,
                "mean_top_ref": float(ref_top.mean()) if len(ref_top) else math.nan,
                "diff": diff, "welch_t": t, "welch_p": p, "mwu_p": mann_whitney(top, ref_top),
                "ci_low": lo, "ci_high": hi, "paired_n": n_pair, "paired_median_diff": med,
                "paired_p": p_pair, "verdict": verdict(p, diff, alpha),
                "failure_rate": fail, "divergence_rate": div,
            }
            for q in fractions:
                a = top_trials(g, q)["test_metric"].to_numpy()
                b = top_trials(ref, q)["test_metric"].to_numpy()
                _, pq = welch(a, b)
                dq = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
                row[f"verdict_top{round(q * 100)}"] = verdict(pq, dq, alpha)
            task_rows.append(row)
        adjusted = holm([r["welch_p"] for r in task_rows])
        for r, ph in zip(task_rows, adjusted):
            r["holm_p"] = float(ph)
            r["verdict_holm"] = verdict(ph, r["diff"], alpha)
        rows.extend(task_rows)
    columns = ["task", "variant", "n_top", "n_top_ref", "mean_top", "mean_top_ref", "diff",
               "welch_t", "welch_p", "holm_p", "mwu_p", "ci_low", "ci_high", "paired_n",
               "paired_median_diff", "paired_p", "verdict", "verdict_holm",
               *[f"verdict_top{round(q * 100)}" for q in fractions], "failure_rate",
               "divergence_rate"]
    return pd.DataFrame(rows, columns=columns)
