"""How the findings of docs/paper.md §Findings are checked against our results, with a one-line
reason and the numbers; the findings themselves (text, check, what the paper found per dataset)
are the table :data:`.claims.CLAIMS`.

Verdicts (:class:`FindingVerdict`): *reproduced*, *not reproduced*, *consistent, underpowered
(n = …)* (agrees, but rests on a "no significant difference" without power, see
:mod:`.stats`), *not testable* (with why).

Rules, in order:

* Tasks are matched to the paper's datasets by what they declare they stand for
  (:class:`~lstm_odyssey.tasks.kinds.Role`): a stand-in is named as such ("timit-synth (for
  TIMIT)"), the dataset itself plainly ("timit (TIMIT)"), and a task that stands for none (the
  user's own data) by its kind ("sensors (framewise regression)"): it enters no finding.
  Studies stored before tasks declared it are matched by their metric (frame error → TIMIT,
  CER → IAM, NLL per step → JSB), the dataset itself when their source was "real".
* A task that did not learn (:class:`.stats.Learnability`) makes all its checks not testable.
* Each finding is checked per task ("cells"): a variant cell from the Welch verdict on the best
  10 % and the power rule; a hyperparameter cell from vanilla's fANOVA, which must rest on at
  least :data:`MIN_FANOVA_CONFIGS` distinct configurations with OOB R² ≥ :data:`MIN_R2` (else
  not testable, with the numbers).
* A contradicting cell makes the finding *not reproduced*. Otherwise findings 1–10 are claims
  about the paper's three datasets: each needs a testable task for TIMIT, IAM and JSB;
  any untestable cell or missing dataset makes it *not testable*; any underpowered cell makes it
  *consistent, underpowered*; else *reproduced*.
* The thresholds of the hyperparameter findings: 6 — the learning rate's main effect is ≥ 2× the
  next one, its basin (the contiguous range where vanilla's marginal is within 10 % of the
  marginal's range from its minimum) is ≥ 1 decade wide, and the lr × hidden size interaction
  is < 10 % of the variance; 7 — the marginal falls from the lower to the upper third of the
  hidden sizes (thirds of the log range, each averaged), less from the middle third to the
  upper than from the lower to the middle, and the time marginal rises; 8 — momentum < 1 % of
  the variance of the metric and of the training time; 9 — the marginal and the time marginal
  rise from the lower to the upper third of the noise range (on TIMIT a gain is allowed when
  the noise explains < 1 % of the variance: "possibly a small gain on TIMIT"); 10 — all pairs
  together < 10 %.
* Each of those statistics is computed per tree of vanilla's forest (shares, ``lr − 2 × next``,
  differences of the marginal, the basin's width) and decides only when the central 68 % of the
  trees (16th to 84th percentile) lie on one side of its threshold: each tree is fit on a
  bootstrap sample of the configurations, so that spread is how far the statistic moves with
  the sample. Otherwise the task's cell is not testable ("cannot tell"): a threshold crossed
  within the forest's own uncertainty is no evidence either way.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..sweep import schema
from ..tasks.kinds import Role
from .importance import Forest
from .labels import param_label
from .outcomes import TEST
from .stats import EQUIVALENCE, POWER_N, Learnability, Verdict, top_trials

DATASETS = ("TIMIT", "IAM", "JSB")
MIN_FANOVA_CONFIGS = 30
MIN_R2 = 0.5
EVIDENCE_SEP = "\n"  # between the checks of a finding's evidence (one line each)
PAPER_RANGES = {"TIMIT": (27.0, 35.0), "IAM": (10.0, 30.0), "JSB": (8.4, 8.8)}


class FindingVerdict(enum.StrEnum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    UNDERPOWERED = "consistent, underpowered"
    NOT_TESTABLE = "not testable"


REPRODUCED, NOT_REPRODUCED = FindingVerdict.REPRODUCED, FindingVerdict.NOT_REPRODUCED
UNDERPOWERED, NOT_TESTABLE = FindingVerdict.UNDERPOWERED, FindingVerdict.NOT_TESTABLE


@dataclass
class TaskAnalysis:
    """What the findings need to know about one task (vanilla's forests)."""

    task: str
    metric: str
    source: str
    learn: Learnability
    metric_fanova: Forest | None
    time_fanova: Forest | None
    kind: str | None = None          # as stored (StudyMeta.kind); None: an earlier study
    stands_for: dict | None = None   # as stored (StudyMeta.stands_for)

    @property
    def role(self) -> Role:
        """The task's kind and the paper dataset it stands for (see the module docstring)."""
        return Role.of(self.kind, self.stands_for, self.metric, self.source)

    @property
    def dataset(self) -> str:
        """The paper dataset the task stands for, "?" when none."""
        sf = self.role.stands_for
        return "?" if sf is None else sf.dataset.value

    @property
    def paper_data(self) -> bool:
        """The task's data are the paper's dataset itself (its numbers compare with the
        paper's)."""
        sf = self.role.stands_for
        return sf is not None and sf.same_data

    @property
    def label(self) -> str:
        """The task's name, with the paper dataset it stands for, else its kind."""
        return self.role.label(self.task)


class Cell(enum.Enum):
    AGREES = "agrees"
    CONTRADICTS = "contradicts"
    UNDERPOWERED = "agrees, underpowered"
    UNTESTABLE = "not testable"


@dataclass
class Check:
    """One task's (or one task and variant's) part of a finding."""

    task: TaskAnalysis
    cell: Cell
    text: str
    n: int = 0
    brief: str = ""  # the reason on the first screen where ``text`` is too long for it


VARIANT_SAMPLE = (f"trials per arm in the best 10 %; every test powered: significant, or n.s. "
                  f"with ≥ {POWER_N} per arm or a CI of Δ within ±{EQUIVALENCE:.0%} of vanilla")
FOREST_SAMPLE = f"distinct vanilla configurations per forest, each with OOB R² ≥ {MIN_R2}"


class Expect(enum.Enum):
    """What the paper found for a variant cell."""

    WORSE = "worse"
    SAME = "no significant difference"
    NOT_BETTER = "not better"
    NOT_WORSE = "not worse"


def _variant_cell(comparison: pd.DataFrame, t: TaskAnalysis, variant: str,
                  expect: Expect) -> Check:
    if t.learn.learned is not True:
        return Check(t, Cell.UNTESTABLE, t.learn.reason)
    row = comparison[(comparison["task"] == t.task) & (comparison["variant"] == variant)]
    if row.empty:
        return Check(t, Cell.UNTESTABLE, f"{variant} on {t.label}: not run")
    r = row.iloc[0]
    v, n = Verdict(r["verdict"]), int(min(r["n_top"], r["n_top_ref"]))
    text = (f"{variant} on {t.label}: Δ={r['diff']:+.3g} (n={r['n_top']}/{r['n_top_ref']}), "
            f"p={r['welch_p']:.2g} → {v}")
    if not v.testable:
        return Check(t, Cell.UNTESTABLE, text, n)
    agrees = {Expect.WORSE: v == Verdict.WORSE, Expect.SAME: v == Verdict.NS,
              Expect.NOT_BETTER: v != Verdict.BETTER, Expect.NOT_WORSE: v != Verdict.WORSE}
    if v == Verdict.NS and not bool(r["powered"]):
        # a "no difference" from too small a sample: agrees when none was expected, otherwise
        # it only says the test could not see one
        if expect == Expect.WORSE:
            return Check(t, Cell.UNTESTABLE, text + ", too few trials to find a difference", n)
        return Check(t, Cell.UNDERPOWERED, text + ", underpowered", n)
    return Check(t, Cell.AGREES if agrees[expect] else Cell.CONTRADICTS, text, n)


def _combine(checks: list[Check], sample: str) -> tuple[FindingVerdict, str, str]:
    """(verdict, one-line reason, evidence) of a finding from its cells (module docstring).
    ``sample`` names what a check's n counts; a reproduced finding states the smallest n."""
    evidence = EVIDENCE_SEP.join(dict.fromkeys(c.text for c in checks)) or "no tasks"
    bad = [c for c in checks if c.cell == Cell.CONTRADICTS]
    if bad:
        return NOT_REPRODUCED, "; ".join(c.text for c in bad[:2]), evidence
    by_ds: dict[str, list[Check]] = {}
    for c in checks:
        by_ds.setdefault(c.task.dataset, []).append(c)
    tested = {d for d, cs in by_ds.items() if all(c.cell != Cell.UNTESTABLE for c in cs)}
    missing = [d for d in DATASETS if d not in tested]
    if missing:
        untestable = [c.brief or c.text for c in checks if c.cell == Cell.UNTESTABLE
                      and c.task.dataset in missing]
        absent = [d for d in missing if d not in by_ds]
        untestable = list(dict.fromkeys(untestable))
        why = untestable[:1]  # one line on the first screen; the evidence lists every check
        if len(untestable) > 1:
            why.append(f"{len(untestable) - 1} more such check(s) in the evidence")
        if absent:
            why.append(f"no task for {', '.join(absent)} in this study")
        return NOT_TESTABLE, f"needs all of {', '.join(DATASETS)}: " + "; ".join(why), evidence
    weak = [c for c in checks if c.cell == Cell.UNDERPOWERED]
    if weak:
        n = min(c.n for c in weak)
        return (UNDERPOWERED, f"consistent, underpowered (n = {n}): " + weak[0].text,
                evidence)
    tasks = ", ".join(dict.fromkeys(c.task.label for c in checks))
    n = min(c.n for c in checks)
    return REPRODUCED, f"as the paper found, on {tasks} (n ≥ {n} {sample})", evidence


def _variant_finding(comparison: pd.DataFrame, tasks: list[TaskAnalysis], variants: list[str],
                     expect: Callable[[str, str], Expect | None],
                     ) -> tuple[FindingVerdict, str, str]:
    """``expect(variant, dataset)`` is what the paper found for that variant on that
    dataset (:data:`.claims.CLAIMS`)."""
    return _combine([_variant_cell(comparison, t, v, expect(v, t.dataset))
                     for t in tasks for v in variants], VARIANT_SAMPLE)


# -- hyperparameter findings (vanilla's fANOVA) --------------------------------------------------
# A check decides only where the central 68 % of the trees agree (module docstring); 68 % is
# the ±1 std band of a normal spread, as percentiles because shares near 0 are skewed.
Decision = bool | None  # True: holds, False: fails, None: the forest cannot tell


@dataclass(frozen=True)
class Estimate:
    """A statistic computed on each tree of a forest: the median and the 16th and 84th
    percentiles across the trees."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, per_tree: np.ndarray | pd.Series) -> Estimate:
        v = np.asarray(per_tree, dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            return cls(math.nan, math.nan, math.nan)
        low, median, high = np.percentile(v, [16, 50, 84])
        return cls(float(median), float(low), float(high))

    def above(self, threshold: float) -> Decision:
        """Whether the statistic is ≥ ``threshold``: True when 84 % of the trees put it there,
        False when 84 % put it below, else None."""
        if self.low >= threshold:
            return True
        return False if self.high < threshold else None

    def below(self, threshold: float) -> Decision:
        above = self.above(threshold)
        return None if above is None else not above

    def text(self, spec: str = ".1%") -> str:
        """Median (16th–84th percentile across the trees)."""
        return f"{self.median:{spec}} ({self.low:{spec}}–{self.high:{spec}})"


def all_hold(*ds: Decision) -> Decision:
    """Three-valued "and": fails if any fails, undecided if any is undecided."""
    if any(d is False for d in ds):
        return False
    return None if any(d is None for d in ds) else True


def any_holds(*ds: Decision) -> Decision:
    """Three-valued "or": holds if any holds, undecided if any is undecided."""
    if any(d is True for d in ds):
        return True
    return None if any(d is None for d in ds) else False


def _say(d: Decision) -> str:
    return {True: "yes", False: "no", None: "cannot tell"}[d]


def forest_gate(t: TaskAnalysis, forest: Forest | None, what: str) -> str | None:
    """Why ``forest`` cannot carry a verdict for ``t``, or None when it can."""
    if t.learn.learned is not True:
        return t.learn.reason
    if forest is None:
        return f"{t.label}: too few distinct vanilla configurations for a {what} forest"
    if forest.n_configs < MIN_FANOVA_CONFIGS or not forest.oob_r2 >= MIN_R2:
        return (f"{t.label}: {what} forest on {forest.n_configs} distinct vanilla configurations"
                f", OOB R² {forest.oob_r2:.2f} (needs ≥ {MIN_FANOVA_CONFIGS} and ≥ {MIN_R2})")
    return None


def _hp_finding(tasks: list[TaskAnalysis],
                check: Callable[[TaskAnalysis], tuple[Decision, str]],
                params: tuple[str, ...], needs_time: bool) -> tuple[FindingVerdict, str, str]:
    checks = []
    for t in tasks:
        why = forest_gate(t, t.metric_fanova, "metric") or (
            forest_gate(t, t.time_fanova, "training-time") if needs_time else None)
        if why is None:
            absent = [p for p in params if p not in t.metric_fanova.fanova.params]
            if absent or len(t.metric_fanova.fanova.params) < 2:
                why = f"{t.label}: {', '.join(absent) or 'two hyperparameters'} not searched"
        if why is not None:
            checks.append(Check(t, Cell.UNTESTABLE, why))
            continue
        ok, text = check(t)
        cell = {True: Cell.AGREES, False: Cell.CONTRADICTS, None: Cell.UNTESTABLE}[ok]
        brief = ""
        if ok is None:
            text += "; cannot tell within the trees' spread"
            brief = f"{t.label}: within the trees' spread, cannot tell"
        checks.append(Check(t, cell, f"{t.label}: {text}", t.metric_fanova.n_configs, brief))
    return _combine(checks, FOREST_SAMPLE)


def _thirds(fa: Forest, param: str, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          str]:
    """Each tree's marginal averaged over the lower, middle and upper third of ``param``'s
    range (thirds of the log scale for log parameters; averages, because a forest's marginal
    is least certain at the very ends of the range), and the range as text."""
    x, m = fa.fanova.tree_marginals(param, n)
    low, mid, high = (b.mean(axis=1) for b in np.array_split(m, 3, axis=1))
    return low, mid, high, f"{x[0]:.3g}–{x[-1]:.3g}"


def _basin_of(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(best x, width in decades) of one marginal curve (see :func:`basin`)."""
    lo, hi = y.min(), y.max()
    inside = y <= lo + 0.1 * (hi - lo)
    i = j = int(np.argmin(y))
    while i > 0 and inside[i - 1]:
        i -= 1
    while j < len(y) - 1 and inside[j + 1]:
        j += 1
    # rounded: a width of whole grid steps must not miss a threshold by float error
    return float(x[int(np.argmin(y))]), round(float(np.log10(x[j] / x[i])), 9)


def basin(fa: Forest, param: str = schema.LEARNING_RATE, n: int = 81) -> tuple[float, Estimate]:
    """(best x of the mean marginal, width in decades per tree) of the contiguous range around
    the marginal's minimum where the marginal is within 10 % of its range (max − min) from the
    minimum."""
    x, m = fa.fanova.tree_marginals(param, n)
    return _basin_of(x, m.mean(0))[0], Estimate.of([_basin_of(x, y)[1] for y in m])


def _pair(fa: Forest, a: str, b: str) -> pd.Series:
    """Each tree's fraction of variance of the a × b interaction."""
    pairs = fa.fanova.tree_pair_effects()
    return pairs[[c for c in pairs.columns if set(c) == {a, b}]].sum(axis=1, min_count=1)


def _lr(t: TaskAnalysis) -> tuple[Decision, str]:
    main = t.metric_fanova.fanova.tree_main_effects()
    lr, others = main[schema.LEARNING_RATE], main.drop(columns=schema.LEARNING_RATE)
    nxt = others.mean().idxmax()
    ratio = lr.mean() / main[nxt].mean() if main[nxt].mean() > 0 else math.inf
    dominant = Estimate.of(lr - 2 * main[nxt]).above(0)
    best, width = basin(t.metric_fanova)
    wide = width.above(1)
    inter = Estimate.of(_pair(t.metric_fanova, schema.LEARNING_RATE, schema.HIDDEN_SIZE))
    apart = inter.below(0.10)
    return all_hold(dominant, wide, apart), (
        f"learning rate {Estimate.of(lr).text()} of variance, {ratio:.1f}× the next "
        f"({param_label(nxt)}; ≥ 2×: {_say(dominant)}); basin around {best:.1e} spans "
        f"{width.text('.2f')} decades (≥ 1: {_say(wide)}); "
        f"lr × hidden size {inter.text()} (< 10 %: {_say(apart)})")


def _hidden(t: TaskAnalysis) -> tuple[Decision, str]:
    low, mid, high, span = _thirds(t.metric_fanova, schema.HIDDEN_SIZE)
    tl, _, th, _ = _thirds(t.time_fanova, schema.HIDDEN_SIZE)
    falls = Estimate.of(low - high).above(0)
    diminishing = Estimate.of((low - mid) - (mid - high)).above(0)
    slower = Estimate.of(th - tl).above(0)
    return all_hold(falls, diminishing, slower), (
        f"metric {low.mean():.3g} / {mid.mean():.3g} / {high.mean():.3g} over the lower, "
        f"middle and upper third of {span} units (falls: {_say(falls)}; less from the middle "
        f"to the upper third: {_say(diminishing)}), time {tl.mean() / 3600:.2g} h → "
        f"{th.mean() / 3600:.2g} h (rises: {_say(slower)})")


def _share(fa: Forest, param: str) -> Estimate:
    main = fa.fanova.tree_main_effects()
    return Estimate.of(main[param] if param in main else np.zeros(len(main)))


def _momentum(t: TaskAnalysis) -> tuple[Decision, str]:
    fm = _share(t.metric_fanova, schema.ONE_MINUS_MOMENTUM)
    ft = _share(t.time_fanova, schema.ONE_MINUS_MOMENTUM)
    small_m, small_t = fm.below(0.01), ft.below(0.01)
    return all_hold(small_m, small_t), (
        f"{fm.text()} of metric variance (< 1 %: {_say(small_m)}) and {ft.text()} of time "
        f"variance (< 1 %: {_say(small_t)})")


SMALL_GAIN = 0.01  # finding 9: a gain from noise on TIMIT is "small" below 1 % of the variance


def _noise(t: TaskAnalysis) -> tuple[Decision, str]:
    low, _, high, span = _thirds(t.metric_fanova, schema.INPUT_NOISE)
    tl, _, th, _ = _thirds(t.time_fanova, schema.INPUT_NOISE)
    share = _share(t.metric_fanova, schema.INPUT_NOISE)
    hurts = Estimate.of(high - low).above(0)
    # "possibly a small gain on TIMIT": there a gain is allowed when it explains little
    small_gain = share.below(SMALL_GAIN) if t.dataset == "TIMIT" else False
    slower = Estimate.of(th - tl).above(0)
    text = (f"metric {low.mean():.3g} → {high.mean():.3g} from the lower to the upper third of "
            f"noise std {span} (rises: {_say(hurts)}; {share.text()} of variance), time "
            f"{tl.mean() / 3600:.2g} h → {th.mean() / 3600:.2g} h (rises: {_say(slower)})")
    if hurts is not True and small_gain is True:
        text += f" (a small gain, < {SMALL_GAIN:.0%} of variance, is allowed on TIMIT)"
    return all_hold(any_holds(hurts, small_gain), slower), text


def _interactions(t: TaskAnalysis) -> tuple[Decision, str]:
    pairs = t.metric_fanova.fanova.tree_pair_effects()
    total = Estimate.of(pairs.sum(axis=1, min_count=1))
    a, b = pairs.mean().idxmax()
    small = total.below(0.10)
    return small, (f"all pairs {total.text()} of variance (< 10 %: {_say(small)}), largest "
                   f"{param_label(a)} × {param_label(b)} {pairs[(a, b)].mean():.1%}")


def _ranges(trials: pd.DataFrame, tasks: list[TaskAnalysis]) -> tuple[FindingVerdict, str, str]:
    parts, verdicts = [], []
    for t in tasks:
        tg = trials[trials["task"] == t.task]
        tops = [top_trials(g, 0.1) for _, g in tg.groupby("variant")]
        top = pd.concat(tops) if tops else tg
        if top.empty:
            parts.append(f"{t.label}: no trials with an outcome")
            verdicts.append(None)
            continue
        lo, hi = top[TEST].min(), top[TEST].max()
        paper = PAPER_RANGES.get(t.dataset)
        parts.append(f"{t.label}: best-10 % {lo:.3g}–{hi:.3g}"
                     + (f" vs paper {paper[0]:g}–{paper[1]:g}" if paper else ""))
        verdicts.append(None if not t.paper_data or paper is None
                        else bool(lo <= paper[1] and hi >= paper[0]))
    evidence = EVIDENCE_SEP.join([*parts, "Times depend on hardware and are not compared."])
    if any(v is False for v in verdicts):
        return NOT_REPRODUCED, parts[verdicts.index(False)], evidence
    if not verdicts or any(v is None for v in verdicts):
        return NOT_TESTABLE, "only real-corpus tasks are comparable with the paper's numbers", \
            evidence
    return REPRODUCED, "; ".join(parts), evidence


def holm_corrected(comparison: pd.DataFrame) -> pd.DataFrame:
    """``comparison`` with each Welch verdict replaced by its verdict after Holm's correction
    across the variants of the task (:func:`.stats.compare_variants`'s ``verdict_holm``): the
    findings on it say which verdicts survive the multiple comparisons."""
    return comparison.assign(verdict=comparison["verdict_holm"])
