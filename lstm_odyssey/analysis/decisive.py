"""The tests that fit the paper's claims, beside the paper's rule: the paired design, the
pre-registered margins, one-sided tests for one-sided claims, seed noise, budget curves, rank
correlations and the cap check on the headline outcomes.

**Registration** (:class:`Registration`): the study file's ``[analysis]`` table
(:mod:`.preregistration`), or the documented defaults when it has none — then every result
here was chosen after the trials ran and is *exploratory*; with a table, a test it does not name
is exploratory.

**Protocols.** A replicate set that keeps its task's protocol adds seeds (``seeds``): its
trials join the searches' (replicate 0). One with another protocol (``uncapped``) is a second
set of outcomes of the same configurations and gets verdicts of its own.

**Paired comparisons** (:mod:`.paired`) per task, variant v against the reference r, one Holm
family per task and test (:data:`FAMILY`): Δ_j = ȳ_vj − ȳ_rj on the configurations both arms
have, each ȳ the mean over the replicates (seeds) *both* arms ran of j — a configuration that
one arm re-ran because it was among that arm's best is compared on the planned seed only, so
that a seed mean is never set against a single, selected run. Verdicts better / worse /
equivalent / undecided (:func:`.paired.decide`), with the configurations it would take to
decide. One-sided tests, Holm-adjusted over the same family: ``p_better`` (H1: E Δ < 0, the
test of "none better"), ``p_no_gain`` (H1: E Δ > −m: not better by the margin or more),
``p_worse`` and ``p_no_loss`` (H1: E Δ < m: not worse by the margin or more).

**Seed noise**: the pooled seed SD of the two arms (:mod:`.seeds`); an effect smaller than it is
flagged (``below_seed_noise``).

**Budget curves** (:mod:`.budget`) on the searches' own trials (replicate 0: the runs a random
search makes), the k from which each variant's band separates from the reference's.

**Rank correlations**: Spearman's ρ of each hyperparameter with the test outcome and with the
CPU time of the reference's results, with a 1 − α interval from Fisher's z with the variance
1.06/(n − 3) of Fieller, Hartley and Pearson (1957) (scipy's ``spearmanr`` gives no interval).
A monotone claim ("time grows with it") holds when the interval lies above 0 and fails when it
lies below :data:`RHO_CLAIM` (at most a weak association, Cohen's medium being 0.3).

**The cap check on the headline outcomes**: the test metric is scored once, at the best epoch,
so a run's test outcome under the lower cap C' (:mod:`.cap`) is *estimated* as its recorded test
outcome plus the change of its validation outcome, y_test(C') ≈ y_test + (y_valid(C') −
y_valid), clipped at the baseline; runs whose best epoch came before C' keep theirs exactly.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .budget import BudgetCurve, budget_curves, first_separation
from .cap import EARLY, lower_cap, under_lower_cap
from .claims import CLAIMS, Context, ForestClaim, VariantClaim
from .findings import (
    SMALL_GAIN,
    Decision,
    Estimate,
    Expect,
    TaskAnalysis,
    _hp_finding,
    _momentum,
    _say,
    _share,
    _thirds,
    all_hold,
    any_holds,
)
from .importance import searched, training_time
from .outcomes import TEST, VALID, counted
from .paired import MIN_PAIRS, Family, Verdict, decide, paired_differences, paired_test
from .preregistration import Preregistration, TestKind
from .seeds import SeedNoise
from .stats import top_trials, welch_verdict

PLANNED = "as planned"   # the protocol label of the searches (and their extra seeds)
RHO_CLAIM = 0.3
PRE, EXPLORATORY = "pre-registered", "exploratory"


def family_name(task: str, reference: str, n: int) -> str:
    """The name of a task's Holm family, the same in the report, the CSVs and the docs."""
    return f"{task}: {n} comparisons against {reference}"


@dataclass(frozen=True)
class Registration:
    """The analysis a report applies: ``prereg``, and whether a study file stated it
    (``where``) or the defaults apply."""

    prereg: Preregistration = field(default_factory=Preregistration)
    stated: bool = False
    where: str = ""

    def status(self, kind: TestKind) -> str:
        """"pre-registered" for a test the study file names, else "exploratory"."""
        return PRE if self.stated and kind in self.prereg.tests else EXPLORATORY


# -- protocols ---------------------------------------------------------------------------------
def split_protocols(trials: pd.DataFrame, studies: pd.DataFrame
                    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(the searches' trials with the replicate sets that keep their task's protocol, {set:
    trials} of the sets with another protocol)."""
    proto = dict(zip(studies["optuna_study"], studies["protocol"]))
    search_proto = {t: proto.get(s) for t, s in
                    trials[trials["replicate_set"] == ""].groupby("task")["optuna_study"].first()
                    .items()}
    same = trials["replicate_set"] == ""
    others: dict[str, pd.DataFrame] = {}
    for name, g in trials[~same].groupby("replicate_set", sort=False):
        keeps = all(proto.get(s) == search_proto.get(t) for t, s in
                    zip(g["task"], g["optuna_study"]))
        if keeps:
            same |= trials.index.isin(g.index)
        else:
            others[str(name)] = g
    return trials[same], others


# -- paired comparisons ------------------------------------------------------------------------
def _common_replicates(tg: pd.DataFrame, variant: str, reference: str) -> pd.DataFrame:
    """The two arms' rows of the (configuration, replicate) pairs both have an outcome for."""
    rows = tg[tg["variant"].isin([variant, reference]) & np.isfinite(tg[TEST].astype(float))]
    keys = [set(zip(g["config_id"], g["replicate"])) for _, g in
            (("v", rows[rows["variant"] == variant]), ("r", rows[rows["variant"] == reference]))]
    both = keys[0] & keys[1]
    # a boolean array, not a list: an empty list would select no columns instead of no rows
    return rows[np.array([k in both for k in zip(rows["config_id"], rows["replicate"])],
                         dtype=bool)]


def _p_no_loss(mean: float, sd: float, n: int, margin: float) -> float:
    """One-sided t p-value of H1: E Δ < margin (non-inferiority)."""
    if n < MIN_PAIRS or not math.isfinite(mean):
        return math.nan
    if sd == 0:
        return float(not mean < margin)
    return float(stats.t.cdf((mean - margin) / (sd / math.sqrt(n)), n - 1))


def _noise(seeds: dict[tuple[str, str], SeedNoise], task: str, a: str, b: str) -> SeedNoise:
    """The pooled seed SD of two arms."""
    parts = [s for s in (seeds.get((task, a)), seeds.get((task, b)))
             if s is not None and s.df > 0]
    df = sum(s.df for s in parts)
    sd = math.sqrt(sum(s.df * s.sd ** 2 for s in parts) / df) if df else math.nan
    return SeedNoise(task, f"{a}+{b}", sd, df, sum(s.configs for s in parts))


def paired_table(trials: pd.DataFrame, reg: Registration, protocol: str = PLANNED,
                 seeds: dict[tuple[str, str], SeedNoise] | None = None, seed: int = 0
                 ) -> pd.DataFrame:
    """One row per (task, variant ≠ reference) of scored ``trials`` (module docstring)."""
    p = reg.prereg
    seeds = seeds or {}
    rows = []
    for task, tg in trials.groupby("task", sort=False):
        variants = [v for v in pd.unique(tg["variant"]) if v != p.reference]
        if p.reference not in set(tg["variant"]) or not variants or task not in p.margins:
            continue
        margin = p.margin(task)
        tests = [paired_test(paired_differences(_common_replicates(tg, v, p.reference), v,
                                                p.reference, p.pairing, p.fraction),
                             margin, p.alpha, task, seed=seed) for v in variants]
        fam = Family(family_name(task, p.reference, len(variants)), tuple(variants))
        decisions = decide(tests, fam, p.power, TestKind.PAIRED in p.tests,
                           TestKind.EQUIVALENCE in p.tests)
        no_loss = [_p_no_loss(t.mean, t.sd, t.n, margin) for t in tests]
        one_sided = {k: fam.holm(v) for k, v in {
            "p_better": [t.p_better for t in tests], "p_no_gain": [t.p_no_gain for t in tests],
            "p_worse": [t.p_worse for t in tests], "p_no_loss": no_loss}.items()}
        for i, (t, d) in enumerate(zip(tests, decisions)):
            noise = _noise(seeds, task, t.variant, p.reference)
            rows.append({
                "protocol": protocol, "task": task, "variant": t.variant, "family": fam.name,
                "pairing": str(t.pairing), "n": t.n, "unpaired": t.unpaired,
                "mean_delta": t.mean, "median_delta": t.median, "sd_delta": t.sd,
                "ci_low": t.ci_mean[0], "ci_high": t.ci_mean[1],
                "ci_median_low": t.ci_median[0], "ci_median_high": t.ci_median[1],
                "ci90_low": t.equivalence_ci[0], "ci90_high": t.equivalence_ci[1],
                "margin": margin, "p_t": t.p_difference, "p_t_holm": d.p_difference_holm,
                "p_tost": t.p_equivalence, "p_tost_holm": d.p_equivalence_holm,
                "p_better": t.p_better, "p_better_holm": one_sided["p_better"][i],
                "p_no_gain": t.p_no_gain, "p_no_gain_holm": one_sided["p_no_gain"][i],
                "p_worse": t.p_worse, "p_worse_holm": one_sided["p_worse"][i],
                "p_no_loss": no_loss[i], "p_no_loss_holm": one_sided["p_no_loss"][i],
                "wilcoxon_p": t.wilcoxon_p, "wilcoxon_p_holm": d.wilcoxon_p_holm,
                "verdict": str(d.verdict), "significant": d.significant,
                "n_difference": d.n_difference, "n_equivalence": d.n_equivalence,
                "n_to_decide": d.n_needed, "seed_sd": noise.sd, "seed_df": noise.df,
                "below_seed_noise": noise.smaller_than_noise(t.mean),
                "status": reg.status(TestKind.PAIRED),
            })
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


PAIRED_COLUMNS = [
    "protocol", "task", "variant", "family", "pairing", "n", "unpaired", "mean_delta",
    "median_delta", "sd_delta", "ci_low", "ci_high", "ci_median_low", "ci_median_high",
    "ci90_low", "ci90_high", "margin", "p_t", "p_t_holm", "p_tost", "p_tost_holm", "p_better",
    "p_better_holm", "p_no_gain", "p_no_gain_holm", "p_worse", "p_worse_holm", "p_no_loss",
    "p_no_loss_holm", "wilcoxon_p", "wilcoxon_p_holm", "verdict", "significant",
    "n_difference", "n_equivalence", "n_to_decide", "seed_sd", "seed_df", "below_seed_noise",
    "status"]


def seed_table(seeds: dict[tuple[str, str], SeedNoise]) -> pd.DataFrame:
    return pd.DataFrame([{"task": s.task, "variant": s.variant, "seed_sd": s.sd,
                          "df": s.df, "configs": s.configs} for s in seeds.values()],
                        columns=["task", "variant", "seed_sd", "df", "configs"])


# -- budget curves -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Budget:
    """Per task, each variant's budget curve; the CSV of all and the separations."""

    curves: dict[str, dict[str, BudgetCurve]]
    reference: str

    def table(self) -> pd.DataFrame:
        rows = [{"task": task, "variant": v, "k": int(k), "expected": e, "low": lo, "high": hi}
                for task, cs in self.curves.items() for v, c in cs.items()
                for k, e, lo, hi in zip(c.k, c.expected, c.low, c.high)]
        return pd.DataFrame(rows, columns=["task", "variant", "k", "expected", "low", "high"])

    def separations(self) -> pd.DataFrame:
        rows = []
        for task, cs in self.curves.items():
            ref = cs.get(self.reference)
            for v, c in cs.items():
                if v == self.reference or ref is None:
                    continue
                k = first_separation(c, ref)
                side = ("–" if k is None else
                        "worse" if c.expected[k - 1] > ref.expected[k - 1] else "better")
                rows.append({"task": task, "variant": v, "n": c.n, "k_separation": k,
                             "side": side, "expected_at_n": float(c.expected[-1]),
                             "reference_at_n": float(ref.expected[min(c.n, ref.n) - 1])})
        return pd.DataFrame(rows, columns=["task", "variant", "n", "k_separation", "side",
                                           "expected_at_n", "reference_at_n"])


def budget(trials: pd.DataFrame, reference: str, seed: int = 0,
           n_resamples: int = 1000) -> Budget:
    """The budget curves of the searches' own runs (replicate 0) per task."""
    runs = counted(trials[trials["replicate"] == 0])
    return Budget({task: budget_curves(g, n_resamples, seed)
                   for task, g in runs.groupby("task", sort=False)}, reference)


# -- rank correlations -------------------------------------------------------------------------
@dataclass(frozen=True)
class Rank:
    rho: float
    low: float
    high: float
    p: float
    n: int

    def rises(self) -> Decision:
        """True when the interval lies above 0, False when below :data:`RHO_CLAIM`."""
        if not math.isfinite(self.low):
            return None
        if self.low > 0:
            return True
        return False if self.high < RHO_CLAIM else None

    def text(self) -> str:
        return f"ρ {self.rho:+.2f} ({self.low:+.2f} … {self.high:+.2f}, n={self.n})"


def spearman(x: np.ndarray, y: np.ndarray, alpha: float = 0.05) -> Rank:
    """Spearman's ρ with the Fisher-z interval of the module docstring."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 5 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Rank(math.nan, math.nan, math.nan, math.nan, n)
    r = stats.spearmanr(x, y)
    rho = float(np.clip(r.statistic, -0.999999, 0.999999))
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(1.06 / (n - 3))
    return Rank(rho, math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half),
                float(r.pvalue), n)


def rank_table(trials: pd.DataFrame, space: dict, reference: str, alpha: float) -> pd.DataFrame:
    """Per task and searched hyperparameter: Spearman's ρ with the test outcome and with the
    CPU time of the reference's results (replicate 0)."""
    rows = []
    ref = trials[(trials["variant"] == reference) & (trials["replicate"] == 0)]
    for task, g in ref.groupby("task", sort=False):
        results = g[g["status"].isin(("complete", "time_limit"))]
        time = training_time(results).to_numpy(dtype=float)
        done = counted(g)
        for param in searched(space):
            m = spearman(done[param].to_numpy(float), done[TEST].to_numpy(float), alpha)
            t = spearman(results[param].to_numpy(float), time, alpha)
            rows.append({"task": task, "param": param,
                         **{f"metric_{k}": getattr(m, k) for k in ("rho", "low", "high", "p", "n")},
                         **{f"time_{k}": getattr(t, k) for k in ("rho", "low", "high", "p", "n")}})
    return pd.DataFrame(rows)


def rank_of(ranks: pd.DataFrame, task: str, param: str, target: str) -> Rank:
    r = ranks[(ranks["task"] == task) & (ranks["param"] == param)]
    if r.empty:
        return Rank(math.nan, math.nan, math.nan, math.nan, 0)
    r = r.iloc[0]
    return Rank(*(float(r[f"{target}_{k}"]) for k in ("rho", "low", "high", "p")),
                int(r[f"{target}_n"]))


# -- the cap check on the headline (test) outcomes ---------------------------------------------
def headline_cap(trials: pd.DataFrame, reg: Registration, seed: int = 0) -> pd.DataFrame:
    """Per (task, variant): the Welch verdict (best fraction, test outcomes) and the paired
    verdict at the protocol's cap and under the lower cap, the latter on the estimated test
    outcomes of the module docstring."""
    p = reg.prereg
    df = under_lower_cap(trials)
    if df.empty:
        return pd.DataFrame()
    early_test = np.minimum(df[TEST] + (df[EARLY] - df[VALID]), df["baseline"])
    low = df.assign(**{TEST: early_test, VALID: df[EARLY]})
    rows = []
    at = {"cap": paired_table(df, reg, seed=seed), "lower": paired_table(low, reg, seed=seed)}
    paired = {k: v.set_index(["task", "variant"]) for k, v in at.items()}
    for task, tg in df.groupby("task", sort=False):
        caps = tg["max_epochs"].dropna()
        if caps.empty or p.reference not in set(tg["variant"]):
            continue
        lg = low[low["task"] == task]
        ref, ref_low = (top_trials(x[x["variant"] == p.reference], p.fraction)[TEST].to_numpy()
                        for x in (tg, lg))
        for v in pd.unique(tg["variant"]):
            if v == p.reference or (task, v) not in paired["cap"].index:
                continue
            a = top_trials(tg[tg["variant"] == v], p.fraction)[TEST].to_numpy()
            b = top_trials(lg[lg["variant"] == v], p.fraction)[TEST].to_numpy()
            pc, pl = paired["cap"].loc[(task, v)], paired["lower"].loc[(task, v)]
            welch, welch_low = welch_verdict(a, ref, p.alpha)[2], welch_verdict(
                b, ref_low, p.alpha)[2]
            rows.append({"task": task, "variant": v, "max_epochs": int(caps.max()),
                         "lower_cap": lower_cap(caps.max()),
                         "welch_diff": a.mean() - ref.mean(), "welch_verdict": str(welch),
                         "welch_diff_lower": b.mean() - ref_low.mean(),
                         "welch_verdict_lower": str(welch_low),
                         "paired_delta": pc["mean_delta"], "paired_verdict": pc["verdict"],
                         "paired_delta_lower": pl["mean_delta"],
                         "paired_verdict_lower": pl["verdict"],
                         "changed": welch != welch_low or pc["verdict"] != pl["verdict"]})
    return pd.DataFrame(rows)


# -- the decisive column of the findings -------------------------------------------------------
class ClaimVerdict(enum.StrEnum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    UNDECIDED = "undecided"
    NOT_TESTABLE = "not testable"


@dataclass(frozen=True)
class PairedCell:
    task: TaskAnalysis
    state: str     # "agrees" | "contradicts" | "undecided" | "untestable"
    text: str
    n: int | None = None


def _paired_cell(row: pd.Series | None, t: TaskAnalysis, variant: str, expect: Expect,
                 alpha: float) -> PairedCell:
    if t.learn.learned is not True:
        return PairedCell(t, "untestable", t.learn.reason)
    if row is None:
        return PairedCell(t, "untestable", f"{variant} on {t.label}: not run")
    ci = f"[{row['ci_low']:+.3g}, {row['ci_high']:+.3g}]"
    head = (f"{variant} on {t.label}: Δ̄={row['mean_delta']:+.3g} {ci}, n={row['n']}, "
            f"margin ±{row['margin']:g}")
    if row["verdict"] == str(Verdict.TOO_FEW):
        return PairedCell(t, "untestable", head + ": too few pairs")
    v = row["verdict"]
    if expect == Expect.WORSE:
        state = ("agrees" if v == Verdict.WORSE else
                 "contradicts" if v in (Verdict.BETTER, Verdict.EQUIVALENT) else "undecided")
        head += f", paired t p_Holm={row['p_t_holm']:.2g} → {v}"
    elif expect == Expect.SAME:
        state = ("agrees" if v == Verdict.EQUIVALENT else
                 "contradicts" if v in (Verdict.WORSE, Verdict.BETTER) else "undecided")
        head += f", TOST p_Holm={row['p_tost_holm']:.2g} → {v}"
    elif expect == Expect.NOT_BETTER:
        better, shown = row["p_better_holm"] < alpha, row["p_no_gain_holm"] < alpha
        state = "contradicts" if better else "agrees" if shown else "undecided"
        head += (f", one-sided: better p_Holm={row['p_better_holm']:.2g}, no gain beyond the "
                 f"margin p_Holm={row['p_no_gain_holm']:.2g}")
    else:  # NOT_WORSE
        worse, shown = row["p_worse_holm"] < alpha, row["p_no_loss_holm"] < alpha
        state = "contradicts" if worse else "agrees" if shown else "undecided"
        head += (f", one-sided: worse p_Holm={row['p_worse_holm']:.2g}, no loss beyond the "
                 f"margin p_Holm={row['p_no_loss_holm']:.2g}")
    n = row["n_to_decide"]
    n = int(n) if n is not None and not pd.isna(n) else None
    if state == "undecided":
        head += f"; undecided ({'n ≈ ' + str(n) if n else 'no n in reach'} to decide)"
    if row["below_seed_noise"] is True:
        head += f"; smaller than the seed noise (SD {row['seed_sd']:.3g})"
    return PairedCell(t, state, head, n)


def _combine_paired(cells: Sequence[PairedCell], datasets: Sequence[str]
                    ) -> tuple[ClaimVerdict, str, str]:
    evidence = "\n".join(dict.fromkeys(c.text for c in cells)) or "no tasks"
    bad = [c for c in cells if c.state == "contradicts"]
    if bad:
        return ClaimVerdict.NOT_REPRODUCED, "; ".join(c.text for c in bad[:2]), evidence
    by: dict[str, list[PairedCell]] = {}
    for c in cells:
        by.setdefault(c.task.dataset, []).append(c)
    missing = [d for d in datasets
               if d not in by or any(c.state == "untestable" for c in by[d])]
    if missing:
        why = next((c.text for c in cells if c.state == "untestable"),
                   f"no task for {', '.join(missing)}")
        return (ClaimVerdict.NOT_TESTABLE,
                f"needs all of {', '.join(datasets)}: {why}", evidence)
    open_ = [c for c in cells if c.state == "undecided"]
    if open_:
        ns = [c.n for c in open_ if c.n]
        return (ClaimVerdict.UNDECIDED, f"{len(open_)} of {len(cells)} comparisons undecided"
                + (f" (the nearest needs n ≈ {min(ns)} configurations)" if ns else "")
                + f": {open_[0].text}", evidence)
    return ClaimVerdict.REPRODUCED, f"every comparison as the paper found ({len(cells)})", \
        evidence


def _ranked(check: str, ranks: pd.DataFrame):
    """Findings 7 and 9 with the training-time half from the rank correlation."""
    def hidden(t: TaskAnalysis) -> tuple[Decision, str]:
        low, mid, high, span = _thirds(t.metric_fanova, "hidden_size")
        falls = Estimate.of(low - high).above(0)
        diminishing = Estimate.of((low - mid) - (mid - high)).above(0)
        r = rank_of(ranks, t.task, "hidden_size", "time")
        return all_hold(falls, diminishing, r.rises()), (
            f"metric {low.mean():.3g} / {mid.mean():.3g} / {high.mean():.3g} over the thirds of "
            f"{span} units (falls: {_say(falls)}; diminishing: {_say(diminishing)}); CPU time "
            f"vs hidden size {r.text()} (rises: {_say(r.rises())})")

    def noise(t: TaskAnalysis) -> tuple[Decision, str]:
        low, _, high, span = _thirds(t.metric_fanova, "input_noise")
        share = _share(t.metric_fanova, "input_noise")
        hurts = Estimate.of(high - low).above(0)
        small_gain = share.below(SMALL_GAIN) if t.dataset == "TIMIT" else False
        r = rank_of(ranks, t.task, "input_noise", "time")
        return all_hold(any_holds(hurts, small_gain), r.rises()), (
            f"metric {low.mean():.3g} → {high.mean():.3g} over noise std {span} (rises: "
            f"{_say(hurts)}; {share.text()} of variance); CPU time vs noise {r.text()} (slows: "
            f"{_say(r.rises())}, not if ρ's interval lies below {RHO_CLAIM})")

    return {"hidden": hidden, "noise": noise}[check]


def decisive_findings(trials: pd.DataFrame, comparison: pd.DataFrame,
                      tasks: list[TaskAnalysis], paired: pd.DataFrame, ranks: pd.DataFrame,
                      log_tasks: list[TaskAnalysis], reg: Registration) -> pd.DataFrame:
    """The decisive column per claim: the paired tests for the variant claims; for findings
    7–9 the time half from the rank correlations (7, 9) or the forest on log CPU time (8);
    the others as the paper's column. Columns #, verdict, reason, evidence, status."""
    tasks = [t for t in tasks if t.dataset != "?"]
    log_tasks = [t for t in log_tasks if t.dataset != "?"]
    by = paired.set_index(["task", "variant"]) if len(paired) else None
    datasets = ("TIMIT", "IAM", "JSB")
    ctx = Context(trials, comparison, tasks)
    rows = []
    for c in CLAIMS:
        if isinstance(c, VariantClaim):
            cells = [_paired_cell(by.loc[(t.task, v)] if by is not None
                                  and (t.task, v) in by.index else None, t, v,
                                  c.expect.at(t.dataset), reg.prereg.alpha)
                     for t in tasks for v in c.of(ctx)]
            verdict, reason, evidence = _combine_paired(cells, datasets)
            kinds = (TestKind.PAIRED, TestKind.EQUIVALENCE, TestKind.ONE_SIDED)
            status = PRE if all(reg.status(k) == PRE for k in kinds) else EXPLORATORY
        elif isinstance(c, ForestClaim) and c.number in (7, 8, 9):
            if c.number == 8:
                verdict, reason, evidence = _hp_finding(log_tasks, _momentum, c.params, True)
            else:
                check = _ranked("hidden" if c.number == 7 else "noise", ranks)
                verdict, reason, evidence = _hp_finding(tasks, check, c.params, False)
            status = reg.status(TestKind.LOG_TIME)
        else:
            verdict, reason, evidence = c.judge(ctx)
            status = "as the paper's column"
        rows.append({"#": c.number, "verdict": str(verdict), "reason": reason,
                     "evidence": evidence, "status": status})
    return pd.DataFrame(rows)
