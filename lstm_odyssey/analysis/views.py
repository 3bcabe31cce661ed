"""The report's tables for people (human column names with units; the CSVs keep the machine
names), and the lines that state where a study stands. Each takes an :class:`.pipeline.Analysis`
(and a task, for the per-task tables) and returns a DataFrame or a string; :mod:`.sections`
places them in the report model.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import math
import platform

import numpy as np
import pandas as pd

from ..records import UNFINISHED
from ..sweep import schema
from . import importance
from .cap import CUT
from .findings import TaskAnalysis, forest_gate
from .labels import metric_label, param_label
from .outcomes import Rule, finished, rule_counts
from .pipeline import FRACTION, LOG_TIME, PCT, Analysis
from .ranking import PTB_ORDER, paper_says, ptb_group
from .stats import (
    EQUIVALENCE,
    LEARN_MARGIN,
    MIN_SAMPLES,
    POWER_N,
    REFERENCE,
    verdict_text,
)


def _label(a: Analysis, task: str) -> str:
    return next((t.label for t in a.tasks if t.task == task), task)


def _metric_unit(metric: str) -> str:
    return metric_label(metric)


def overview(a: Analysis) -> pd.DataFrame:
    """Per task (one column each): data, trials and how many each outcome rule touched, and the
    learnability gate. Machine row names in ``key``; people read ``item``."""
    s = a.results.studies
    cols: dict[str, list] = {}
    items = [
        ("source", "data source"), ("data", "data"), ("metric", "metric"),
        ("variants", "variants"), ("planned", "planned trials"), ("trials", "trials stored"),
        ("running", "running or queued"), ("recorded", "counted as recorded"),
        ("best_epoch", "diverged: counted at best epoch"),
        ("at_baseline", "diverged before validation: counted at the baseline"),
        ("clipped", "worse than the baseline: clipped at it"),
        ("no_baseline", "diverged, no baseline recorded: left out"),
        ("no_outcome", "failed or pruned: no outcome"),
        ("lost", "lost with a stopped or killed worker: left out, re-run"),
        ("baseline", "trivial baseline (validation)"),
        ("vanilla_top", f"vanilla best-{PCT} % mean (test)"), ("learned", "learned?"),
    ]
    for t in a.tasks:
        tg = a.trials[a.trials["task"] == t.task]
        meta = s[s["task"] == t.task]
        planned = pd.to_numeric(meta.get("trials"), errors="coerce").sum() if "trials" in meta \
            else math.nan
        counts = rule_counts(tg)
        done = finished(tg)
        recorded = int(((done["rule"] == Rule.RECORDED) & ~done["clipped"]).sum())
        learned = t.learn.learned
        values = {
            "source": t.source, "data": meta["data"].iloc[0], "metric": _metric_unit(t.metric),
            "variants": tg["variant"].nunique(), "planned": planned or math.nan,
            "trials": len(tg), "running": int(tg["status"].isin(UNFINISHED).sum()),
            "recorded": recorded, **counts, "baseline": t.learn.baseline,
            "vanilla_top": t.learn.vanilla_top_mean,
            "learned": "unknown" if learned is None else ("yes" if learned else "no"),
        }
        cols[t.label] = [values[k] for k, _ in items]
    return pd.DataFrame({"key": [k for k, _ in items], "item": [n for _, n in items], **cols})


def _mean_n(mean: float, n: int) -> str:
    """A best-10 % mean with its n, for people."""
    return f"{mean:.4g} ({n})" if np.isfinite(mean) else f"– ({n})"


def variants_view(a: Analysis, task: str) -> pd.DataFrame:
    """The variant summary of one task for people."""
    v = a.variants[a.variants["task"] == task]
    return pd.DataFrame({
        "variant": v["variant"], "trials": v["trials"], "counted": v["counted"],
        "failed or pruned %": 100 * (v["failure_rate"] - v["divergence_rate"]),
        "diverged %": 100 * v["divergence_rate"],
        "median test (all)": v["median_test_all"],
        f"best-{PCT} % mean (n)": [_mean_n(m, n) for m, n in
                                  zip(v[f"mean_test_top{PCT}"], v[f"n_top{PCT}"])],
        "best test": v["best_test"],
        f"best {PCT} % run to the epoch cap": [f"{c} of {n}" for c, n in
                                             zip(v[f"capped_top{PCT}"], v[f"n_top{PCT}"])],
        f"params, best {PCT} % (k)": v[f"mean_params_top{PCT}"] / 1e3,
        "mean time (min)": v["mean_wall_time_s"] / 60,
    })


def significance_view(a: Analysis, task: str) -> pd.DataFrame:
    """Welch on the best 10 % for one task, with the power rule and the left-out verdict."""
    c = a.comparison[a.comparison["task"] == task]
    s = a.comparison_strict[a.comparison_strict["task"] == task]
    strict_verdict = dict(zip(s["variant"], (verdict_text(r) for _, r in s.iterrows())))
    return pd.DataFrame({
        "variant": c["variant"], "n (variant/vanilla)": [f"{x}/{y}" for x, y in
                                                         zip(c["n_top"], c["n_top_ref"])],
        f"best-{PCT} % mean": c["mean_top"], "vanilla mean": c["mean_top_ref"],
        "Δ vs vanilla": c["diff"], "Welch p": c["welch_p"],
        "verdict": [verdict_text(r) for _, r in c.iterrows()],
        STRICT_VERDICT: [strict_verdict.get(v, "–") for v in c["variant"]],
    })


def robust_view(a: Analysis, task: str) -> pd.DataFrame:
    """The robust companions of the Welch test for one task."""
    c = a.comparison[a.comparison["task"] == task]
    others = [col for col in c.columns
              if col.startswith("verdict_top") and col != f"verdict_top{PCT}"]
    return pd.DataFrame({
        "variant": c["variant"], "Holm p": c["holm_p"], "Holm verdict": c["verdict_holm"],
        "Mann–Whitney p": c["mwu_p"],
        "95 % CI of Δ": [f"{lo:.3g} … {hi:.3g}" if np.isfinite(lo) else "–"
                         for lo, hi in zip(c["ci_low"], c["ci_high"])],
        "paired configs": c["paired_n"], "paired Wilcoxon p": c["paired_p"],
        **{f"verdict, best {col.removeprefix('verdict_top')} %": c[col] for col in others},
    })


def cap_view(a: Analysis, task: str) -> pd.DataFrame:
    """The verdicts of one task on the validation metric at the epoch cap and at a lower one."""
    c = a.cap[a.cap["task"] == task]
    return pd.DataFrame({
        "variant": c["variant"], "n (variant/vanilla)": [f"{x}/{y}" for x, y in
                                                         zip(c["n_top"], c["n_top_ref"])],
        "best epoch after the lower cap (variant/vanilla)": [
            f"{x}/{y}" for x, y in zip(c["moved"], c["moved_ref"])],
        "Δ valid at the cap": c["diff"], "Welch p at the cap": c["p"],
        "verdict at the cap": c["verdict"].astype(str),
        "Δ valid at the lower cap": c["diff_lower"], "Welch p at the lower cap": c["p_lower"],
        "verdict at the lower cap": c["verdict_lower"].astype(str),
    })


def cap_intro(a: Analysis) -> str:
    """What the cap table shows, with each task's caps."""
    caps = "; ".join(f"{t}: {int(g['max_epochs'].iloc[0])} → {int(g['lower_cap'].iloc[0])}"
                     for t, g in a.cap.groupby("task", sort=False))
    return (f"Each run replayed from its history as if the epoch cap were {CUT:.0%} of the "
            f"protocol's ({caps or 'no task records its cap'}): early stopping depends only "
            "on the validation metrics so far, so the replay is exact, but only the validation "
            f"metric is known per epoch, so this compares validation outcomes (best {PCT} % "
            "by validation, Welch, the outcome rules as above; the power rule is not applied, "
            "the table asks only whether a verdict moves). A verdict that differs "
            "between the two caps depends on where the cap sits; Δ moving little against its "
            "size says the cap is not what decides it.")


def variant_effects_view(a: Analysis, task: str) -> pd.DataFrame:
    """Main effects (% of test-metric variance) of each variant's own forest, one row each."""
    imp = a.importance[(a.importance["task"] == task) & (a.importance["target"] == "test metric")]
    rows = []
    for variant, g in imp.groupby("variant", sort=False):
        main = g.set_index("effect")["mean"]
        rows.append({"variant": variant,
                     **{param_label(p) + " %": 100 * main[p] for p in schema.PARAMS
                        if p in main},
                     "pairs %": 100 * g[g["effect"].str.contains(" × ")]["mean"].sum(),
                     "OOB R²": g["oob_r2"].iloc[0], "configs": g["n_configs"].iloc[0]})
    return pd.DataFrame(rows)


def vanilla_effects_view(a: Analysis, task: str) -> pd.DataFrame:
    """Vanilla's fANOVA for one task: every effect, for the test metric and the time, each
    column headed by its forest's fit (OOB R², distinct configurations), so that a share is
    never read without how well the forest that gives it fits."""
    imp = a.importance[(a.importance["task"] == task) & (a.importance["variant"] == REFERENCE)]
    columns = {}
    for target in ("test metric", "training time", LOG_TIME):
        g = imp[imp["target"] == target].set_index("effect")
        fit = (f" (OOB R² {g['oob_r2'].iloc[0]:.2f}, {g['n_configs'].iloc[0]} configurations)"
               if len(g) else "")
        columns[f"{target}, % of variance{fit}"] = pd.Series(
            {e: f"{100 * m:.1f} ± {100 * s:.1f}" for e, m, s in
             zip(g.index, g["mean"], g["std"])}, dtype=object)
    effects = list(dict.fromkeys(e for col in columns.values() for e in col.index))
    return pd.DataFrame({"effect": [_effect_label(e) for e in effects],
                         **{name: [col.get(e, "–") for e in effects]
                            for name, col in columns.items()}})


def _effect_label(effect: str) -> str:
    return " × ".join(param_label(p) for p in effect.split(" × "))


def pooled_view(a: Analysis) -> pd.DataFrame:
    """Per task: the share of the variant in the forest over all variants."""
    rows = []
    for task, g in a.pooled.groupby("task", sort=False):
        main = g.set_index("effect")
        rows.append({"task": _label(a, task),
                     "variant's share %": 100 * main.loc[importance.VARIANT, "mean"],
                     **{param_label(p) + " %": 100 * main.loc[p, "mean"]
                        for p in schema.PARAMS if p in main.index},
                     "OOB R²": g["oob_r2"].iloc[0], "configs": g["n_configs"].iloc[0]})
    return pd.DataFrame(rows)


def ped_view(a: Analysis, task: str) -> pd.DataFrame:
    """PED-ANOVA importance (%) per variant for one task."""
    p = a.ped[a.ped["task"] == task]
    if p.empty:
        return p
    wide = p.pivot(index="variant", columns="param", values="importance") * 100
    wide = wide.loc[list(dict.fromkeys(p["variant"]))]
    wide.columns = [param_label(c) + " %" for c in wide.columns]
    return wide.reset_index()


STRICT_VERDICT = "verdict without diverged or clipped trials"
HOLM_VERDICT = "Holm-corrected"
SAME = "same"


def findings_view(a: Analysis) -> pd.DataFrame:
    """The first table of the report: finding, verdict, one-line reason, left-out verdict."""
    f = a.findings
    d = a.decisive.set_index("#") if len(a.decisive) else None
    decisive = ([f"{d.loc[n, 'verdict']}" + ("" if d.loc[n, "status"] != "exploratory"
                                             else " (exploratory)") for n in f["#"]]
                if d is not None else ["–"] * len(f))
    return pd.DataFrame({"#": f["#"], "finding": f["finding"], "verdict": f["verdict"],
                         "why": f["reason"], STRICT_VERDICT: f["verdict_strict"],
                         HOLM_VERDICT: [SAME if h == v else h for h, v in
                                        zip(f["verdict_holm"], f["verdict"])],
                         DECISIVE_VERDICT: decisive})


def protocol_view(a: Analysis) -> pd.DataFrame:
    """The training protocol, one row per setting and one column per task."""
    s = a.results.studies
    per_task = {}
    for t in a.tasks:
        proto = s[s["task"] == t.task].iloc[0]["protocol"]
        per_task[t.label] = proto if isinstance(proto, dict) else {}
    keys = list(dict.fromkeys(k for p in per_task.values() for k in p))
    return pd.DataFrame({"setting": [_setting(k) for k in keys],
                         **{label: [_plain(p.get(k)) for k in keys]
                            for label, p in per_task.items()}})


def _setting(key: str) -> str:
    """A protocol key for people: words, and a unit suffix ``_s`` as "(s)"."""
    words = key.removesuffix("_s").replace("_", " ")
    return f"{words} (s)" if key.endswith("_s") else words


def _plain(x: object) -> str:
    if x is None:
        return "none"
    return json.dumps(x) if isinstance(x, dict | list) else str(x)


def versions_view(a: Analysis) -> pd.DataFrame:
    """Package versions of the sweep and of this analysis, and the storage."""
    s = a.results.studies
    rows = []
    versions = next((v for v in s["versions"] if v), {})
    rows += [{"item": f"sweep: {k}", "value": str(v)} for k, v in sorted(versions.items())]
    for pkg in ("lstm-odyssey", "optuna", "scikit-learn", "scipy", "pandas", "matplotlib"):
        try:
            rows.append({"item": f"analysis: {pkg}", "value": md.version(pkg)})
        except md.PackageNotFoundError:
            continue
    rows.append({"item": "analysis: python", "value": platform.python_version()})
    rows.append({"item": "storage", "value": a.results.storage})
    return pd.DataFrame(rows)


RULES = [
    ("Every trial with an outcome counts: results as recorded; a run that diverged counts with "
    "the metrics of its best epoch; one that diverged before its first validation (or has no "
    "finite metric) counts at the task's trivial baseline. Failed (an error) and pruned runs "
    "are no outcome; a run lost with its worker (stopped or killed) is left out, and its "
    "configuration was run again."),
    ("Any outcome worse than the trivial baseline is clipped at it, so one exploded run cannot "
    "dominate a mean or a forest."),
    (f"Best {PCT} %: the best ⌈n/{round(1 / FRACTION)}⌉ of the n trials with an outcome, chosen "
    "by validation outcome."),
    (f"Welch p < 0.05 on the best {PCT} % is significant; with fewer than {MIN_SAMPLES} trials in "
    "a sample, or two constant samples, nothing is tested."),
    (f"A \"no significant difference\" is evidence only with ≥ {POWER_N} trials per arm in the "
    f"best {PCT} %, or when the bootstrap 95 % CI of Δ lies within ±{EQUIVALENCE:.0%} of "
    "vanilla's best-10 % mean; otherwise it is consistent, underpowered."),
    (f"A task learned when vanilla's best-{PCT} % mean is at most {1 - LEARN_MARGIN:.0%} of the "
    "trivial baseline; otherwise (or without a recorded baseline) its findings are not testable."),
    ("fANOVA per (task, variant) on distinct configurations; vanilla's drives Figs. 4–6 and "
    "findings 6–10, which need ≥ 30 distinct vanilla configurations and OOB R² ≥ 0.5."),
    ("A threshold of findings 6–10 decides only when the central 68 % of the forest's trees "
    "(each fit on a bootstrap sample) put the statistic on one side of it; otherwise that task "
    "cannot tell and is not testable. Such statistics read median (16th–84th percentile "
    "across the trees)."),
    ("Findings 1–10 are claims about the paper's three datasets: each needs a testable task for "
    "TIMIT, IAM and JSB (a synthetic task stands in, named as such)."),
    ("Sensitivity (\"verdict without diverged or clipped trials\"): every verdict again with the "
    "diverged, imputed and clipped trials left out."),
]


def gate_note(a: Analysis, times: bool = True) -> str:
    """Which of the tasks' vanilla forests (their figures and tables) are no evidence for the
    findings that rest on them: a metric forest for findings 6–10, a training-time forest (of a
    task whose metric forest passes; unless ``times`` is False, for a figure without times)
    for findings 7–9; empty when every forest passes."""
    metric = {t.task: why for t in a.tasks if (why := forest_gate(t, t.metric_fanova, "metric"))}
    time = [why for t in a.tasks if times and t.task not in metric
            and (why := forest_gate(t, t.time_fanova, "training-time"))]
    notes = []
    if metric:
        notes.append("Not evidence for findings 6–10 (shown for inspection only): "
                     + "; ".join(metric.values()) + ".")
    if time:
        notes.append("Training times not evidence for findings 7–9 (shown for inspection "
                     "only): " + "; ".join(time) + ".")
    return " ".join(notes)


def ranking_view(ranked: pd.DataFrame, t: TaskAnalysis) -> pd.DataFrame:
    """A task's :func:`.ranking.ranking` for people, with the paper's and the PTB
    reproduction's view of each variant."""
    return pd.DataFrame({
        "rank": [str(x) if x is not pd.NA else "–" for x in ranked["rank"]],
        "variant": ranked["variant"],
        f"best-{PCT} % mean (n)": [_mean_n(m, n) for m, n in
                                  zip(ranked["mean_top"], ranked["n_top"])],
        "Δ vs vanilla": ranked["diff"], "our verdict": ranked["verdict"],
        f"paper ({t.dataset})": [paper_says(v, t.dataset) for v in ranked["variant"]],
        "PTB reproduction": [ptb_group(v) for v in ranked["variant"]],
    })


RANKING_INTRO = (f"Variants best first by the best-{PCT} % mean test metric (a rank alone is no "
                 "finding: the verdict is Welch's on the best 10 %), beside what the paper found "
                 "on the dataset the task stands for (docs/paper.md §Findings) and the order of "
                 "the public "
                 f"reproduction on Penn Treebank, {PTB_ORDER}.")


def trial_counts(a: Analysis) -> tuple[int, int | None]:
    """Finished trials and the trials the study files planned (None where no study recorded
    a plan, e.g. a storage written by hand)."""
    planned = pd.to_numeric(a.results.studies.get("trials"), errors="coerce").sum() \
        if "trials" in a.results.studies else 0
    return len(finished(a.trials)) + len(finished(a.replicates)), int(planned) or None


def progress_line(a: Analysis) -> str:
    """How far the study is: finished trials of the planned."""
    done, planned = trial_counts(a)
    return (f"{done} trials finished" if planned is None
            else f"{done} of {planned} planned trials finished")


def incomplete_warning(a: Analysis) -> str:
    """While planned trials are still to run, the warning that leads the report: a verdict on
    part of the trials can change as the rest finish. Empty once the study is complete."""
    done, planned = trial_counts(a)
    if planned is None or done >= planned:
        return ""
    return (f"The study is not complete ({planned - done} of its {planned} planned trials "
            "still to run): every verdict here describes only the trials finished so far and "
            "may change as the rest finish.")


# -- the tests that fit the claims (.decisive) --------------------------------------------------
DECISIVE_VERDICT = "paired, margins (decisive)"


def _ci(lo: float, hi: float) -> str:
    return f"{lo:+.3g} … {hi:+.3g}" if np.isfinite(lo) else "–"


def _n(x: object) -> str:
    return "–" if x is None or pd.isna(x) else str(int(x))


def plan_view(a: Analysis) -> pd.DataFrame:
    """What the analysis applies: the study's ``[analysis]`` table or the defaults."""
    reg, p = a.registration, a.registration.prereg
    rows = [("source", f"[analysis] of {reg.where}" if reg.stated else
             "the documented defaults (the study file has no [analysis] table)"),
            ("reference", p.reference), ("α", f"{p.alpha:g}"), ("power", f"{p.power:g}"),
            ("tests", ", ".join(sorted(str(t) for t in p.tests))),
            ("pairing", str(p.pairing)), ("best fraction (Welch)", f"{p.fraction:g}"),
            *((f"margin: {t}", f"±{m:g}") for t, m in p.margins.items())]
    return pd.DataFrame(rows, columns=["item", "value"])


def plan_line(a: Analysis) -> str:
    """One line on the first screen: pre-registered or not."""
    reg = a.registration
    if reg.stated:
        return (f"Analysis pre-registered in {reg.where} ([analysis]); a test it does not "
                "name is marked exploratory.")
    return ("No [analysis] table: the documented defaults apply (margins jsb ±0.05 nats, "
            "timit-synth ±1 point, handwriting-synth ±1 CER point; α 0.05; reference V), and "
            "every verdict beside the paper's column is exploratory for this study.")


def paired_view(a: Analysis, task: str, protocol: str) -> pd.DataFrame:
    """The paired comparisons of one task under one protocol, for people."""
    c = a.paired[(a.paired["task"] == task) & (a.paired["protocol"] == protocol)]
    return pd.DataFrame({
        "variant": c["variant"], "configs (unpaired)": [f"{n} ({u})" for n, u in
                                                        zip(c["n"], c["unpaired"])],
        "mean Δ": c["mean_delta"], "95 % CI (bootstrap)": [
            _ci(lo, hi) for lo, hi in zip(c["ci_low"], c["ci_high"])],
        "median Δ": c["median_delta"], "paired t p (Holm)": c["p_t_holm"],
        "TOST p (Holm)": c["p_tost_holm"], "better, one-sided p (Holm)": c["p_better_holm"],
        "no gain > margin p (Holm)": c["p_no_gain_holm"],
        "Wilcoxon p (Holm)": c["wilcoxon_p_holm"], "verdict": c["verdict"],
        "configs to decide": [_n(x) for x in c["n_to_decide"]],
        "seed SD": c["seed_sd"],
        "below seed noise": ["–" if x is None or pd.isna(x) else ("yes" if x else "no")
                             for x in c["below_seed_noise"]],
    })


def seeds_view(a: Analysis) -> pd.DataFrame:
    s = a.seeds
    return pd.DataFrame({"task": s["task"], "variant": s["variant"],
                         "pooled seed SD": s["seed_sd"], "df": s["df"],
                         "configurations with seeds": s["configs"]})


def budget_view(a: Analysis, task: str) -> pd.DataFrame:
    s = a.budget.separations()
    s = s[s["task"] == task]
    return pd.DataFrame({"variant": s["variant"], "configurations": s["n"],
                         "separates from vanilla at k": [_n(k) for k in s["k_separation"]],
                         "side": s["side"], "expected best at k = n": s["expected_at_n"],
                         "vanilla's at the same k": s["reference_at_n"]})


def ranks_view(a: Analysis, task: str) -> pd.DataFrame:
    r = a.ranks[a.ranks["task"] == task] if len(a.ranks) else a.ranks
    if r.empty:
        return r
    return pd.DataFrame({
        "hyperparameter": [param_label(p) for p in r["param"]],
        "ρ with test metric (95 % CI)": [f"{x:+.2f} ({_ci(lo, hi)})" if np.isfinite(x) else "–"
                                         for x, lo, hi in zip(r["metric_rho"], r["metric_low"],
                                                              r["metric_high"])],
        "ρ with CPU time (95 % CI)": [f"{x:+.2f} ({_ci(lo, hi)})" if np.isfinite(x) else "–"
                                      for x, lo, hi in zip(r["time_rho"], r["time_low"],
                                                           r["time_high"])],
        "configurations (metric / time)": [f"{m} / {t}" for m, t in
                                           zip(r["metric_n"], r["time_n"])]})


def headline_cap_view(a: Analysis, task: str) -> pd.DataFrame:
    c = a.headline_cap
    c = c[c["task"] == task] if len(c) else c
    if c.empty:
        return c
    return pd.DataFrame({
        "variant": c["variant"], "Welch Δ test at the cap": c["welch_diff"],
        "Welch at the cap": c["welch_verdict"], "Welch Δ at the lower cap (est.)":
        c["welch_diff_lower"], "Welch at the lower cap": c["welch_verdict_lower"],
        "paired Δ̄ at the cap": c["paired_delta"], "paired at the cap": c["paired_verdict"],
        "paired Δ̄ at the lower cap (est.)": c["paired_delta_lower"],
        "paired at the lower cap": c["paired_verdict_lower"], "changed": c["changed"]})
