"""Variant-vs-vanilla statistics per task (docs/paper.md §Analysis), their robust companions,
the power rule
and the learnability gate.

Every trial enters by the rules of :mod:`.outcomes` (diverged runs count, outcomes are clipped
at the trivial baseline). For a task, variant v and the reference r (vanilla), let ``T_v`` be
the test outcomes of the best ⌈q·n⌉ of v's n trials with an outcome, chosen by validation
outcome. Lower metrics are better, so Δ = mean(T_v) − mean(T_r) > 0 means v is worse.

* Welch's t-test (the paper's test): t = Δ / √(s_v²/n_v + s_r²/n_r), Welch–Satterthwaite
  degrees of freedom; v differs significantly when p < α. Two constant samples have no
  variance to test against: *not testable* (:attr:`Verdict.CONSTANT`).
* Mann–Whitney U on the same samples (two-sided), a rank-based check.
* Bootstrap 95 % confidence interval of Δ (percentile, resampling each sample separately).
* Holm's step-down correction of the Welch p-values across the variants of a task.
* A paired test on matched configurations: the Wilcoxon signed-rank test of the differences
  of test outcomes of the same planned configuration (``config_id``) in v and in r.
* The verdict at other fractions q (5 %, 10 %, 20 % by default), and on the sensitivity sample
  (:func:`.outcomes.strict`: the diverged, imputed and clipped trials left out).

**Power.** A "no significant difference" is only evidence of no difference when the test could
have found one: it is *powered* when both best-q samples hold at least :data:`POWER_N` trials, or
when the bootstrap CI of Δ lies within ±:data:`EQUIVALENCE` × |mean(T_r)| (an equivalence
margin of 2 % of vanilla's best-10 % mean). Otherwise it is *underpowered*.

**Learnability.** A task *learned* when vanilla's best-10 % mean test outcome is at least
:data:`LEARN_MARGIN` (10 %) below the trivial baseline b: mean(T_r) ≤ (1 − 0.1)·b (metrics are
non-negative errors or NLLs). Without a recorded baseline, or with fewer than
:data:`MIN_SAMPLES` trials in vanilla's best 10 %, learnability is unknown.

With fewer than :data:`MIN_SAMPLES` values in a sample nothing is tested
(:attr:`Verdict.TOO_FEW`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..records import RESULTS, UNFINISHED, Status
from .outcomes import TEST, VALID, counted, finished, scored

MIN_SAMPLES = 3
POWER_N = 10
EQUIVALENCE = 0.02
LEARN_MARGIN = 0.10
REFERENCE = "V"
Sample = Callable[[pd.DataFrame], pd.DataFrame] | None


class Verdict(enum.StrEnum):
    """A variant against vanilla by Welch's test on the best fraction."""

    WORSE = "worse"
    BETTER = "better"
    NS = "n.s."
    TOO_FEW = "too few trials"
    CONSTANT = "constant samples"

    @property
    def testable(self) -> bool:
        return self in (Verdict.WORSE, Verdict.BETTER, Verdict.NS)


TOO_FEW = Verdict.TOO_FEW
UNDERPOWERED_NS = "n.s., underpowered"


def verdict_text(row: pd.Series) -> str:
    """The Welch verdict of a :func:`compare_variants` row for people: an n.s. without power
    (the power rule) says so."""
    v = Verdict(row["verdict"])
    return UNDERPOWERED_NS if v == Verdict.NS and not bool(row["powered"]) else str(v)


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


def rates(trials: pd.DataFrame) -> tuple[float, float]:
    """(failure rate, divergence rate) among the finished trials; NaN when none finished."""
    done = finished(trials)
    if done.empty:
        return math.nan, math.nan
    return (float((~done["status"].isin(RESULTS)).mean()),
            float((done["status"] == Status.DIVERGED).mean()))


def n_top(n: int, fraction: float) -> int:
    """Size of the best ``fraction`` of ``n`` trials: ⌈fraction·n⌉, at least one."""
    return max(1, math.ceil(fraction * n - 1e-9))


def top_trials(trials: pd.DataFrame, fraction: float, sample: Sample = None) -> pd.DataFrame:
    """The best ⌈fraction·n⌉ of the trials with an outcome by validation outcome, n their
    number (:mod:`.outcomes`: diverged runs count at their best epoch or at the baseline).
    ``sample=strict`` picks from the sensitivity sample instead."""
    done = (sample or counted)(scored(trials))
    return done.nsmallest(min(n_top(len(done), fraction), len(done)), VALID)


def verdict(p: float, diff: float, alpha: float = 0.05) -> Verdict:
    """WORSE / BETTER when p < alpha (by the sign of Δ), else n.s.; NaN → too few."""
    if not np.isfinite(p):
        return Verdict.TOO_FEW
    if p < alpha:
        return Verdict.WORSE if diff > 0 else Verdict.BETTER
    return Verdict.NS


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's t statistic and two-sided p of mean(a) − mean(b); NaN with too few values or
    when both samples are constant (nothing to test against)."""
    if len(a) < MIN_SAMPLES or len(b) < MIN_SAMPLES or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return math.nan, math.nan
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
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return float(a[0] - b[0]), float(a[0] - b[0])
    r = stats.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                        n_resamples=n_resamples, method="percentile", confidence_level=level,
                        rng=np.random.default_rng(seed), vectorized=True)
    return float(r.confidence_interval.low), float(r.confidence_interval.high)


def welch_verdict(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float, Verdict]:
    """(t, p, verdict) of Welch's test; constant samples are :attr:`Verdict.CONSTANT`."""
    t, p = welch(a, b)
    if (len(a) >= MIN_SAMPLES and len(b) >= MIN_SAMPLES and np.ptp(a) == 0
            and np.ptp(b) == 0):
        return t, p, Verdict.CONSTANT
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    return t, p, verdict(p, diff, alpha)


def powered(n: int, n_ref: int, ci: tuple[float, float], ref_mean: float) -> bool:
    """Whether a no-difference is evidence (the power rule of the module docstring)."""
    margin = EQUIVALENCE * abs(ref_mean)
    return (min(n, n_ref) >= POWER_N
            or (bool(np.isfinite(ci[0])) and -margin <= ci[0] and ci[1] <= margin))


def paired(variant: pd.DataFrame, reference: pd.DataFrame,
           sample: Sample = None) -> tuple[int, float, float]:
    """(pairs, median difference, Wilcoxon signed-rank p) over configurations with an outcome
    in both."""
    def done(df: pd.DataFrame) -> pd.Series:
        return (sample or counted)(scored(df)).groupby("config_id")[TEST].mean()

    both = pd.concat([done(variant), done(reference)], axis=1, join="inner").dropna()
    d = (both.iloc[:, 0] - both.iloc[:, 1]).to_numpy()
    if len(d) < MIN_SAMPLES:
        return len(d), math.nan, math.nan
    p = 1.0 if np.all(d == 0) else float(stats.wilcoxon(d).pvalue)
    return len(d), float(np.median(d)), p


def variant_summary(trials: pd.DataFrame, fraction: float = 0.1) -> pd.DataFrame:
    """Per task and variant: trial counts (``trials`` = the search's trials, leaving out those
    lost with their worker, whose configurations were re-run; ``running`` = not finished yet;
    ``counted`` = with an outcome), failure and divergence rates among the finished trials,
    the median test outcome of all counted trials and the mean of the best ``fraction``, how
    many of the best ``fraction`` ran to the protocol's epoch cap (``epochs`` ≥ ``max_epochs``:
    stopped by the cap, not by early stopping, so possibly still improving), and the best
    ``fraction``'s mean parameters."""
    rows = []
    trials = scored(trials)
    pct = round(fraction * 100)
    for (task, variant), g in trials.groupby(["task", "variant"], sort=False):
        top = top_trials(g, fraction)
        done = counted(g)
        fail, div = rates(g)
        rows.append({
            "task": task, "variant": variant,
            "trials": int((g["status"] != Status.LOST).sum()), "counted": len(done),
            "complete": int(g["status"].isin(RESULTS).sum()),
            "running": int(g["status"].isin(UNFINISHED).sum()),
            "failure_rate": fail, "divergence_rate": div,
            "median_test_all": float(done[TEST].median()),
            f"n_top{pct}": len(top),
            f"mean_test_top{pct}": float(top[TEST].mean()),
            "best_test": float(top[TEST].min()) if len(top) else math.nan,
            f"capped_top{pct}": int((top["epochs"] >= top["max_epochs"]).sum()),
            f"mean_params_top{pct}": float(top["n_parameters"].mean()),
            "mean_wall_time_s": float(g[g["status"].isin(RESULTS)]["wall_time_s"].mean()),
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
    sample: Sample = None,
) -> pd.DataFrame:
    """One row per (task, variant ≠ reference): the tests described in the module docstring.

    Columns: task, variant, n_top, n_top_ref, mean_top, mean_top_ref, diff, welch_t, welch_p,
    holm_p, mwu_p, ci_low, ci_high, powered, paired_n, paired_median_diff, paired_p, verdict
    (Welch at ``fraction``), verdict_holm, verdict_top<pct> for each of ``fractions``,
    failure_rate, divergence_rate. ``sample`` (e.g. :func:`.outcomes.strict`) picks the trials
    compared. Tasks without the reference variant are skipped.
    """
    rows = []
    trials = scored(trials)
    for task, tg in trials.groupby("task", sort=False):
        ref = tg[tg["variant"] == reference]
        if ref.empty:
            continue
        ref_top = top_trials(ref, fraction, sample)[TEST].to_numpy()
        task_rows = []
        for variant, g in tg.groupby("variant", sort=False):
            if variant == reference:
                continue
            top = top_trials(g, fraction, sample)[TEST].to_numpy()
            t, p, v = welch_verdict(top, ref_top, alpha)
            diff = float(top.mean() - ref_top.mean()) if len(top) and len(ref_top) else math.nan
            ref_mean = float(ref_top.mean()) if len(ref_top) else math.nan
            ci = bootstrap_ci(top, ref_top, n_resamples, seed)
            n_pair, med, p_pair = paired(g, ref, sample)
            fail, div = rates(g)
            row = {
                "task": task, "variant": variant, "n_top": len(top), "n_top_ref": len(ref_top),
                "mean_top": float(top.mean()) if len(top) else math.nan,
                "mean_top_ref": ref_mean, "diff": diff, "welch_t": t, "welch_p": p,
                "mwu_p": mann_whitney(top, ref_top), "ci_low": ci[0], "ci_high": ci[1],
                "powered": powered(len(top), len(ref_top), ci, ref_mean),
                "paired_n": n_pair, "paired_median_diff": med, "paired_p": p_pair,
                "verdict": v, "failure_rate": fail, "divergence_rate": div,
            }
            for q in fractions:
                a = top_trials(g, q, sample)[TEST].to_numpy()
                b = top_trials(ref, q, sample)[TEST].to_numpy()
                row[f"verdict_top{round(q * 100)}"] = welch_verdict(a, b, alpha)[2]
            task_rows.append(row)
        adjusted = holm([r["welch_p"] for r in task_rows])
        for r, ph in zip(task_rows, adjusted):
            r["holm_p"] = float(ph)
            r["verdict_holm"] = (r["verdict"] if r["verdict"] == Verdict.CONSTANT
                                 else verdict(ph, r["diff"], alpha))
        rows.extend(task_rows)
    columns = ["task", "variant", "n_top", "n_top_ref", "mean_top", "mean_top_ref", "diff",
               "welch_t", "welch_p", "holm_p", "mwu_p", "ci_low", "ci_high", "powered",
               "paired_n", "paired_median_diff", "paired_p", "verdict", "verdict_holm",
               *[f"verdict_top{round(q * 100)}" for q in fractions], "failure_rate",
               "divergence_rate"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Learnability:
    """The learnability gate of one task (module docstring)."""

    task: str
    baseline: float          # trivial predictor's validation metric (NaN: not recorded)
    vanilla_top_mean: float  # mean test outcome of vanilla's best 10 %
    n: int                   # trials in vanilla's best 10 %

    @property
    def learned(self) -> bool | None:
        """True / False by the rule; None when it cannot be told."""
        if not math.isfinite(self.baseline) or self.n < MIN_SAMPLES:
            return None
        return self.vanilla_top_mean <= (1 - LEARN_MARGIN) * self.baseline

    @property
    def reason(self) -> str:
        if not math.isfinite(self.baseline):
            return f"{self.task}: no trivial baseline recorded, so whether it learned is unknown"
        if self.n < MIN_SAMPLES:
            return f"{self.task}: vanilla's best 10 % holds {self.n} trial(s), too few to tell"
        what = "learned" if self.learned else "did not learn"
        return (f"{self.task} {what}: vanilla best-10 % mean {self.vanilla_top_mean:.3g} vs "
                f"trivial baseline {self.baseline:.3g} (learned ⇔ ≤ "
                f"{1 - LEARN_MARGIN:.0%} of it)")


def learnability(trials: pd.DataFrame, task: str, fraction: float = 0.1,
                 sample: Sample = None, reference: str = REFERENCE) -> Learnability:
    """The gate of ``task``: vanilla's best ``fraction`` against the task's baseline."""
    tg = scored(trials)
    tg = tg[tg["task"] == task]
    top = top_trials(tg[tg["variant"] == reference], fraction, sample)[TEST]
    base = float(tg["baseline"].median()) if tg["baseline"].notna().any() else math.nan
    return Learnability(task, base, float(top.mean()) if len(top) else math.nan, len(top))
