"""Paired comparisons of a variant with the reference on the same planned configurations.

Every configuration j (``config_id``) of a task is trained in every variant with the same
hyperparameters, seed, data order and noise. For variant v and reference r the paired
difference of test outcomes (:mod:`.outcomes`) is

    Δ_j = ȳ_vj − ȳ_rj        (ȳ = mean over the configuration's seed replicates)

on the configurations that enter (:class:`Pairing`). Lower metrics are better: Δ > 0 means v
is worse. The estimand is the mean difference E Δ; on the sample Δ_1 … Δ_n (mean Δ̄, SD s,
standard error se = s/√n, t_q = the t quantile with n − 1 degrees of freedom):

* **difference**: the paired t-test of E Δ = 0, t = Δ̄/se (two-sided ``p_difference``), and its
  one-sided versions ``p_worse`` (H1: E Δ > 0) and ``p_better`` (H1: E Δ < 0 — the test of a
  "none better" claim);
* **equivalence** (TOST): H0: |E Δ| ≥ m against H1: |E Δ| < m for the margin m, two one-sided
  t-tests at level α, p_TOST = the larger p. Equivalently the (1 − 2α) interval
  Δ̄ ± t_{1−α}·se lies inside (−m, m);
* **no gain** (non-superiority): H0: E Δ ≤ −m against H1: E Δ > −m, one-sided t; shown when the
  one-sided (1 − α) lower bound Δ̄ − t_{1−α}·se exceeds −m (exceeding 0 shows v worse);
* **companions**: Wilcoxon's signed-rank test (``scipy.stats.wilcoxon``, two- and one-sided,
  zero differences dropped: a configuration both arms ended at the same outcome, e.g. both at
  the trivial baseline, says nothing about a direction), and bootstrap intervals of the mean
  (BCa) and median (percentile) of Δ at level 1 − α, resampling configurations
  (``scipy.stats.bootstrap``, fixed seed).

The verdict rests on the mean, so that the difference test, the equivalence test, the margin
and the sample sizes all speak of one quantity. The signed-rank test asks another question —
is a configuration typically better or worse — and on this project's data the two can
disagree: on handwriting-synth, NFG's Δ has mean +18 CER points but median −0.2 (NFG usually
ties or wins by a little, and now and then fails to learn at all). Both are reported.

**Verdict** of a comparison within its :class:`Family` (Holm's step-down correction,
:meth:`Family.holm`, applied to the family's TOST p-values and,
separately, to its difference p-values): *equivalent* when the adjusted TOST p < α (a
difference smaller than the margin, even when detectable — :attr:`Decision.significant`
tells), else *worse* / *better* when the adjusted t-test p < α (by the sign of Δ̄), else
*undecided*; with fewer than :data:`MIN_PAIRS` pairs nothing is tested.

**Sample sizes** (what the sample's own variance says it would take, at the target power, with
α/m for a family of m — Holm's first step, so the answer holds at any of its steps):

* difference: the paired t-test's n for the effect size d = |Δ̄|/s (``TTestPower``);
* equivalence: the smallest n whose TOST power reaches the target, by :func:`tost_power`.

Both assume the next configurations behave like these: Δ̄ and s are estimates, so an n is a
plan, not a guarantee. The Welch rule's counterparts (:func:`welch_detectable_effect`,
:func:`welch_n_difference`, :func:`welch_n_equivalence`) use two independent best-fraction
samples instead.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.power import TTestIndPower, TTestPower
from statsmodels.stats.weightstats import DescrStatsW

from .stats import holm

MIN_PAIRS = 3
N_MAX = 10**7                # sample sizes beyond this are reported as unreachable (None)
TEST, VALID = "outcome_test", "outcome_valid"
REPLICATE = "replicate"


class Pairing(enum.StrEnum):
    """Which configurations enter a paired comparison.

    * ``all`` (the default): every planned configuration both arms have an outcome for. The
      configurations were drawn before any trial ran, so they enter by the plan, not by their
      results: Δ_j are independent draws over the search space and the estimand — the
      variant's effect averaged over the search space — is the same for every variant, with
      the largest n. It includes configurations where neither arm learned (Δ = 0) and those
      where only one did (large |Δ|): whether a variant trains at all is part of its effect.
    * ``either-top``: those among either arm's best ``fraction`` by validation (seed means).
      Closer to "among good settings", but chosen from outcomes: the set differs per variant
      (no common estimand across a family), is small (≤ 2·⌈fraction·n⌉), and a configuration
      that enters through one arm's top carries that arm's favourable noise — the two
      selections balance only when the arms do not differ. Exploratory unless pre-registered.
    """

    ALL = "all"
    EITHER_TOP = "either-top"


class Verdict(enum.StrEnum):
    """A paired comparison's outcome (module docstring)."""

    BETTER = "better"
    WORSE = "worse"
    EQUIVALENT = "equivalent"
    UNDECIDED = "undecided"
    TOO_FEW = "too few pairs"


class Design(enum.Enum):
    """How the standard error of a mean difference and its degrees of freedom follow from n
    (per arm) and the SD s: se = s·√(factor / n), df = n·arms − arms."""

    PAIRED = ("paired", 1.0, 1)          # s = SD of Δ; se = s/√n, df = n − 1
    TWO_SAMPLE = ("two-sample", 2.0, 2)  # s = common SD; se = s·√(2/n), df = 2n − 2

    def se(self, sd: float, n: int) -> float:
        return sd * math.sqrt(self.value[1] / n)

    def df(self, n: int) -> int:
        return self.value[2] * (n - 1)


@dataclass(frozen=True)
class Family:
    """A named family of comparisons whose p-values Holm's procedure adjusts together."""

    name: str
    members: tuple[str, ...]

    @classmethod
    def per_task(cls, task: str, reference: str, variants: Sequence[str]) -> Family:
        return cls(f"{task}: {len(variants)} comparisons against {reference}", tuple(variants))

    def holm(self, pvalues: Sequence[float]) -> np.ndarray:
        """Holm-adjusted p-values, in member order; NaNs stay NaN and do not count in m.

        The step-down formula is :func:`.stats.holm` (the project's, tested against
        ``statsmodels.stats.multitest.multipletests(method="holm")``): statsmodels' version
        runs a full ``gc.collect()`` on every call, about 0.1 s with the analysis loaded,
        which the calibration by simulation (thousands of families) cannot afford."""
        p = np.asarray(pvalues, dtype=float)
        if len(p) != len(self.members):
            raise ValueError(f"family '{self.name}' has {len(self.members)} members, "
                             f"got {len(p)} p-values")
        return holm(p)


@dataclass(frozen=True, eq=False)
class Differences:
    """The paired sample of one comparison: Δ per configuration (variant − reference)."""

    variant: str
    reference: str
    pairing: Pairing
    config_ids: tuple[int, ...]
    delta: np.ndarray
    unpaired: int   # configurations with an outcome in only one arm: left out

    @property
    def n(self) -> int:
        return len(self.delta)


def replicate_outcomes(trials: pd.DataFrame, column: str = TEST,
                       keys: Sequence[str] = ("config_id", "variant")) -> pd.Series:
    """``column`` per (``keys``, replicate), rows without an outcome left out. A missing
    ``replicate`` column or value is the planned seed, replicate 0; rows of one replicate (the
    same seed run twice) are averaged, so that each seed counts once."""
    done = trials[np.isfinite(trials[column].astype(float))]
    rep = (done[REPLICATE].fillna(0).astype(int) if REPLICATE in done
           else pd.Series(0, index=done.index))
    return done.assign(**{REPLICATE: rep}).groupby([*keys, REPLICATE])[column].mean()


def seed_means(trials: pd.DataFrame, column: str = TEST) -> pd.DataFrame:
    """Per (config_id, variant): the mean of ``column`` over the configuration's replicates
    (:func:`replicate_outcomes`); a table configurations × variants."""
    per_seed = replicate_outcomes(trials, column)
    return per_seed.groupby(["config_id", "variant"]).mean().unstack("variant")


def _top(valid: pd.Series, fraction: float) -> set:
    valid = valid.dropna()
    k = max(1, math.ceil(fraction * len(valid) - 1e-9))
    return set(valid.nsmallest(k).index)


def paired_differences(trials: pd.DataFrame, variant: str, reference: str,
                       pairing: Pairing = Pairing.ALL, fraction: float = 0.1) -> Differences:
    """Δ of ``variant`` against ``reference`` on one task's trials (columns config_id, variant,
    outcome_test, optional replicate; outcome_valid for ``either-top``), seed means per
    configuration, on the configurations :class:`Pairing` lets in."""
    test = seed_means(trials, TEST)
    arms = [a for a in (variant, reference) if a in test]
    both = test[arms].dropna() if len(arms) == 2 else test.iloc[:0]
    unpaired = int(test[arms].notna().any(axis=1).sum()) - len(both) if arms else 0
    if pairing == Pairing.EITHER_TOP and len(both):
        valid = seed_means(trials, VALID)
        keep = _top(valid[variant], fraction) | _top(valid[reference], fraction)
        both = both[both.index.isin(keep)]
    delta = (both[variant] - both[reference]).to_numpy(dtype=float) if len(both) else np.empty(0)
    return Differences(variant, reference, pairing, tuple(int(c) for c in both.index),
                       delta, unpaired)


@dataclass(frozen=True)
class PairedTest:
    """The unadjusted tests of one comparison (module docstring); NaN with too few pairs."""

    task: str
    variant: str
    reference: str
    pairing: Pairing
    n: int
    unpaired: int
    mean: float
    median: float
    sd: float
    margin: float
    alpha: float
    p_difference: float                   # paired t, two-sided
    p_worse: float                        # paired t, H1: E Δ > 0
    p_better: float                       # paired t, H1: E Δ < 0 ("none better")
    equivalence_ci: tuple[float, float]   # (1 − 2α) t-interval of the mean
    p_equivalence: float                  # TOST
    p_no_gain: float                      # one-sided t, H1: E Δ > −margin
    wilcoxon_p: float                     # signed-rank, two-sided
    wilcoxon_p_worse: float               # signed-rank, H1: Δ > 0
    wilcoxon_p_better: float              # signed-rank, H1: Δ < 0
    ci_mean: tuple[float, float]          # bootstrap BCa, level 1 − α
    ci_median: tuple[float, float]        # bootstrap percentile, level 1 − α

    @property
    def lower_bound(self) -> float:
        """One-sided (1 − α) lower confidence bound of E Δ."""
        return self.equivalence_ci[0]

    @property
    def no_gain(self) -> bool:
        """Non-superiority shown: the variant is not better by the margin or more."""
        return bool(self.lower_bound > -self.margin)


def _wilcoxon(delta: np.ndarray, alternative: str) -> float:
    if not np.any(delta != 0):
        return 1.0
    return float(stats.wilcoxon(delta, alternative=alternative).pvalue)


def _bootstrap(delta: np.ndarray, statistic: Callable, method: str, level: float,
               n_resamples: int, seed: int) -> tuple[float, float]:
    if np.ptp(delta) == 0:
        return float(delta[0]), float(delta[0])
    r = stats.bootstrap((delta,), statistic, vectorized=True, method=method,
                        confidence_level=level, n_resamples=n_resamples,
                        rng=np.random.default_rng(seed))
    return float(r.confidence_interval.low), float(r.confidence_interval.high)


@dataclass(frozen=True)
class _TTests:
    p: float
    p_worse: float
    p_better: float
    interval: tuple[float, float]
    p_tost: float
    p_no_gain: float


def _t_tests(delta: np.ndarray, margin: float, alpha: float) -> _TTests:
    """The t-family of tests on the mean (``statsmodels``' DescrStatsW); a constant sample
    (s = 0) decides by its value."""
    if np.ptp(delta) == 0:
        d = float(delta[0])
        return _TTests(float(d == 0), float(not d > 0), float(not d < 0), (d, d),
                       float(not abs(d) < margin), float(not d > -margin))
    w = DescrStatsW(delta)
    low, high = w.tconfint_mean(alpha=2 * alpha)
    return _TTests(p=float(w.ttest_mean(0.0)[1]),
                   p_worse=float(w.ttest_mean(0.0, alternative="larger")[1]),
                   p_better=float(w.ttest_mean(0.0, alternative="smaller")[1]),
                   interval=(float(low), float(high)),
                   p_tost=float(w.ttost_mean(-margin, margin)[0]),
                   p_no_gain=float(w.ttest_mean(-margin, alternative="larger")[1]))


def paired_test(diff: Differences, margin: float, alpha: float = 0.05, task: str = "",
                n_resamples: int = 2000, seed: int = 0, companions: bool = True) -> PairedTest:
    """The tests of the module docstring on one :class:`Differences` sample
    (``companions`` = False: no Wilcoxon tests and bootstrap intervals, NaN there — the
    verdict does not use them; for simulations)."""
    d = diff.delta
    nan2 = (math.nan, math.nan)
    common = {"task": task, "variant": diff.variant, "reference": diff.reference,
              "pairing": diff.pairing, "n": diff.n, "unpaired": diff.unpaired,
              "margin": margin, "alpha": alpha}
    if diff.n < MIN_PAIRS:
        return PairedTest(**common, mean=float(d.mean()) if diff.n else math.nan,
                          median=float(np.median(d)) if diff.n else math.nan, sd=math.nan,
                          p_difference=math.nan, p_worse=math.nan, p_better=math.nan,
                          equivalence_ci=nan2, p_equivalence=math.nan, p_no_gain=math.nan,
                          wilcoxon_p=math.nan, wilcoxon_p_worse=math.nan,
                          wilcoxon_p_better=math.nan, ci_mean=nan2, ci_median=nan2)
    t = _t_tests(d, margin, alpha)
    wilcoxon = ([_wilcoxon(d, side) for side in ("two-sided", "greater", "less")] if companions
                else [math.nan] * 3)
    boot = ((_bootstrap(d, np.mean, "BCa", 1 - alpha, n_resamples, seed),
             _bootstrap(d, np.median, "percentile", 1 - alpha, n_resamples, seed))
            if companions else (nan2, nan2))
    return PairedTest(
        **common, mean=float(d.mean()), median=float(np.median(d)), sd=float(d.std(ddof=1)),
        p_difference=t.p, p_worse=t.p_worse, p_better=t.p_better, equivalence_ci=t.interval,
        p_equivalence=t.p_tost, p_no_gain=t.p_no_gain, wilcoxon_p=wilcoxon[0],
        wilcoxon_p_worse=wilcoxon[1], wilcoxon_p_better=wilcoxon[2], ci_mean=boot[0],
        ci_median=boot[1])


# --- power and sample size -------------------------------------------------------------------

def tost_power(delta: float, sd: float, margin: float, n: int, alpha: float = 0.05,
               design: Design = Design.PAIRED) -> float:
    """Approximate power of TOST at level α to show |E Δ| < m when the true difference is
    ``delta`` and the SD ``sd`` (per :class:`Design`).

    With se = sd·√(factor/n), df and t_c = t_{1−α, df}, the two one-sided statistics are
    noncentral t with noncentrality (δ + m)/se and (δ − m)/se, and

        power ≈ F_nct(−t_c; df, (δ − m)/se) − F_nct(t_c; df, (δ + m)/se)

    (P(A ∩ B) ≥ P(A) + P(B) − 1, clipped at 0) — the usual noncentral-t approximation, which
    treats the two statistics' shared SD estimate as if it were two; it is slightly
    conservative. Written out because statsmodels has no TOST power for one mean."""
    if n < 2:
        return 0.0
    if sd == 0:
        return float(abs(delta) < margin)
    se, df = design.se(sd, n), design.df(n)
    tc = stats.t.ppf(1 - alpha, df)
    power = (stats.nct.cdf(-tc, df, (delta - margin) / se)
             - stats.nct.cdf(tc, df, (delta + margin) / se))
    return float(max(0.0, power))


def smallest_n(power: Callable[[int], float], target: float, n_min: int = 2,
               n_max: int = N_MAX) -> int | None:
    """The smallest integer n ≥ n_min with power(n) ≥ target for a power non-decreasing in n
    (doubling, then bisection); None when even n_max falls short."""
    if power(n_min) >= target:
        return n_min
    low, high = n_min, n_min * 2
    while power(high) < target:
        if high >= n_max:
            return None
        low, high = high, min(high * 2, n_max)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if power(mid) >= target else (mid, high)
    return high


def paired_n_difference(delta: float, sd: float, alpha: float = 0.05,
                        power: float = 0.8) -> int | None:
    """Configurations for the paired t-test to find a true mean difference ``delta``
    (two-sided, level α) with the given power (``TTestPower``); None when δ = 0."""
    if not delta or not math.isfinite(delta) or not math.isfinite(sd):
        return None
    if sd == 0:
        return MIN_PAIRS
    effect = abs(delta) / sd
    return smallest_n(lambda n: TTestPower().power(effect, n, alpha), power, n_min=MIN_PAIRS)


def n_equivalence(delta: float, sd: float, margin: float, alpha: float = 0.05,
                  power: float = 0.8, design: Design = Design.PAIRED) -> int | None:
    """n (pairs, or per arm for two samples) for TOST to show equivalence within ±margin when
    the true difference is ``delta``; None when |δ| ≥ m (no n suffices)."""
    if not math.isfinite(delta) or not math.isfinite(sd) or abs(delta) >= margin:
        return None
    return smallest_n(lambda n: tost_power(delta, sd, margin, n, alpha, design), power)


def welch_detectable_effect(n: int, sd: float, alpha: float = 0.05,
                            power: float = 0.8) -> float:
    """The smallest |Δ| the Welch rule finds with the given power when each arm's best
    fraction holds n trials of SD ``sd`` (two-sided, level α): Student's two-sample t power
    (``TTestIndPower``, equal n and SD, where Welch's test coincides with it up to df)."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    return float(TTestIndPower().solve_power(None, nobs1=n, alpha=alpha, power=power)) * sd


def welch_n_difference(delta: float, sd: float, alpha: float = 0.05,
                       power: float = 0.8) -> int | None:
    """Trials per arm in the best fraction for the Welch rule to find ``delta``."""
    if not delta or not math.isfinite(delta) or not math.isfinite(sd):
        return None
    if sd == 0:
        return 2
    effect = abs(delta) / sd
    return smallest_n(lambda n: TTestIndPower().power(effect, n, alpha), power)


def welch_n_equivalence(delta: float, sd: float, margin: float, alpha: float = 0.05,
                        power: float = 0.8) -> int | None:
    """Trials per arm in the best fraction for a two-sample TOST within ±margin."""
    return n_equivalence(delta, sd, margin, alpha, power, Design.TWO_SAMPLE)


# --- decisions within a family ---------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    """A comparison's verdict within its family, and what deciding would take (the sample
    sizes are computed on first use: a simulation that needs only verdicts skips them)."""

    test: PairedTest
    family: Family
    p_difference_holm: float     # NaN when the difference test is not pre-registered
    p_equivalence_holm: float    # NaN when equivalence is not pre-registered
    wilcoxon_p_holm: float       # the companion, adjusted over the same family
    verdict: Verdict
    significant: bool            # the difference test rejects after Holm
    power: float                 # the target power of the sample sizes
    alpha_planning: float        # α/m for a family of m

    @functools.cached_property
    def n_difference(self) -> int | None:
        """Configurations for the t-test to find the observed Δ̄ (α/m, target power); None
        when the difference test is not pre-registered or Δ̄ = 0."""
        if np.isnan(self.p_difference_holm):
            return None
        return paired_n_difference(self.test.mean, self.test.sd, self.alpha_planning,
                                   self.power)

    @functools.cached_property
    def n_equivalence(self) -> int | None:
        """Configurations for TOST to show equivalence if the true difference is Δ̄; None when
        equivalence is not pre-registered or |Δ̄| ≥ margin."""
        if np.isnan(self.p_equivalence_holm):
            return None
        return n_equivalence(self.test.mean, self.test.sd, self.test.margin,
                             self.alpha_planning, self.power)

    @property
    def n_needed(self) -> int | None:
        """For an undecided comparison, the fewer configurations of the two ways to decide;
        None when decided or when neither way is reachable."""
        if self.verdict != Verdict.UNDECIDED:
            return None
        options = [n for n in (self.n_difference, self.n_equivalence) if n is not None]
        return min(options) if options else None


def _verdict(t: PairedTest, p_diff: float, p_equiv: float) -> Verdict:
    if t.n < MIN_PAIRS:
        return Verdict.TOO_FEW
    if p_equiv < t.alpha:
        return Verdict.EQUIVALENT
    if p_diff < t.alpha:
        return Verdict.WORSE if t.mean > 0 else Verdict.BETTER
    return Verdict.UNDECIDED


def decide(tests: Sequence[PairedTest], family: Family, power: float = 0.8,
           difference: bool = True, equivalence: bool = True) -> tuple[Decision, ...]:
    """Holm within ``family`` (its members are the tests' variants, in order), the verdicts
    and the sample sizes of the module docstring. ``difference`` / ``equivalence`` = False
    leave that test out of the verdict (not pre-registered): its adjusted p is NaN."""
    if tuple(t.variant for t in tests) != family.members:
        raise ValueError(f"family '{family.name}' lists {family.members}, the tests are of "
                         f"{tuple(t.variant for t in tests)}")
    nan = [math.nan] * len(tests)
    p_diff = family.holm([t.p_difference for t in tests] if difference else nan)
    p_equiv = family.holm([t.p_equivalence for t in tests] if equivalence else nan)
    p_wilcoxon = family.holm([t.wilcoxon_p for t in tests])
    m = max(1, int(np.isfinite([t.p_difference for t in tests]).sum()))
    return tuple(
        Decision(test=t, family=family, p_difference_holm=float(pd_),
                 p_equivalence_holm=float(pe), wilcoxon_p_holm=float(pw),
                 verdict=_verdict(t, pd_, pe), significant=bool(pd_ < t.alpha), power=power,
                 alpha_planning=t.alpha / m)
        for t, pd_, pe, pw in zip(tests, p_diff, p_equiv, p_wilcoxon))


def compare_task(trials: pd.DataFrame, task: str, margin: float, reference: str = "V",
                 alpha: float = 0.05, power: float = 0.8, pairing: Pairing = Pairing.ALL,
                 fraction: float = 0.1, n_resamples: int = 2000, seed: int = 0,
                 difference: bool = True, equivalence: bool = True) -> tuple[Decision, ...]:
    """Every variant of one task's trials against ``reference``, one Holm family
    (:meth:`Family.per_task`); variants in order of first appearance; ``difference`` /
    ``equivalence`` as in :func:`decide`."""
    variants = [v for v in pd.unique(trials["variant"]) if v != reference]
    tests = [paired_test(paired_differences(trials, v, reference, pairing, fraction), margin,
                         alpha, task, n_resamples, seed) for v in variants]
    return decide(tests, Family.per_task(task, reference, variants), power, difference,
                  equivalence)
