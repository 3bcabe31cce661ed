"""The whole analysis of a storage and the report it writes.

:func:`analyze` computes everything into an :class:`Analysis`; :func:`write_report` writes
``report.html`` (self-contained, figures embedded as data URIs; the first screen is the answer:
the findings with their verdicts and a task × variant matrix), ``report.md``, the CSVs (machine
column names) and ``figures/*.png|svg``; :func:`build_report` does both.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata as md
import json
import math
import platform
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..records import UNFINISHED, StorageURL, journal_in
from ..sweep import schema
from . import figures, importance
from .cap import CUT, cap_sensitivity
from .findings import EVIDENCE_SEP, TaskAnalysis, findings_table, forest_gate, holm_corrected
from .labels import metric_label, param_label
from .outcomes import Rule, finished, rule_counts, score, strict
from .ranking import PTB_ORDER, paper_says, ptb_check, ptb_group, ranking
from .stats import (
    EQUIVALENCE,
    LEARN_MARGIN,
    MIN_SAMPLES,
    POWER_N,
    REFERENCE,
    UNDERPOWERED_NS,
    compare_variants,
    learnability,
    variant_summary,
    verdict_text,
)
from .table import Results, load_results

FRACTION = 0.1
PCT = round(FRACTION * 100)


@dataclass
class Analysis:
    """Every table of the report, computed from one storage (machine column names)."""

    results: Results
    trials: pd.DataFrame          # results.trials scored by the rules of .outcomes
    variants: pd.DataFrame
    comparison: pd.DataFrame
    comparison_strict: pd.DataFrame
    cap: pd.DataFrame             # the verdicts replayed under a lower epoch cap (.cap)
    importance: pd.DataFrame      # per task, variant, target: fANOVA main and pair effects
    pooled: pd.DataFrame          # per task: the forest over all variants, main effects
    ped: pd.DataFrame             # per task and variant: PED-ANOVA of the best 10 %
    tasks: list[TaskAnalysis]
    findings: pd.DataFrame
    replicates: pd.DataFrame      # the replicate sets' trials, scored (empty without sets)
    n_trees: int = 100
    notes: list[str] = field(default_factory=list)


def _effect_rows(task: str, variant: str, target: str, forest: importance.Forest) -> list[dict]:
    fa = forest.fanova
    rows = [{"effect": r.param, "mean": r.mean, "std": r.std}
            for r in fa.main_effects().itertuples()]
    rows += [{"effect": f"{r.param_a} × {r.param_b}", "mean": r.mean, "std": r.std}
             for r in fa.pair_effects().itertuples()]
    rest, rest_std = fa.unexplained()
    rows.append({"effect": "higher order (rest)", "mean": rest, "std": rest_std})
    return [{"task": task, "variant": variant, "target": target, **r, "oob_r2": forest.oob_r2,
             "n_configs": forest.n_configs} for r in rows]


def analyze(storage: str, study: str | None = None, n_trees: int = 100, seed: int = 0,
            fraction: float = FRACTION, searches: Collection[str] | None = None) -> Analysis:
    """Load ``storage`` (optionally only study file ``study``, only the Optuna studies
    ``searches``) and compute every table:
    variant summary, significance tests (and their sensitivity to the outcome rules), fANOVA per
    (task, variant) on distinct configurations (test outcome; training time for vanilla), the
    pooled forest with the variant as an input, PED-ANOVA, and the findings of docs/paper.md
    §Findings."""
    results = load_results(storage, study, searches)
    # the paper's analysis reads the searches; replicate sets' trials are read apart
    replicates = score(results.trials[results.trials["replicate_set"] != ""])
    results.trials = results.trials[results.trials["replicate_set"] == ""]
    trials = score(results.trials)
    space = results.space
    notes: list[str] = []
    imp_rows: list[dict] = []
    pooled_rows: list[dict] = []
    ped_rows: list[dict] = []
    tasks, tasks_strict = [], []
    for task in results.tasks:
        tg = trials[trials["task"] == task]
        order = figures.variant_order(tg["variant"])
        vanilla = tg[tg["variant"] == REFERENCE]
        for variant in order:
            g = tg[tg["variant"] == variant]
            forest = importance.metric_forest(g, space, n_trees, seed)
            if forest is not None:
                imp_rows += _effect_rows(task, variant, "test metric", forest)
            ped_rows += [{"task": task, "variant": variant, "param": p, "importance": v,
                          "n_configs": forest.n_configs if forest else 0}
                         for p, v in importance.ped_anova(g, space, fraction, seed).items()]
        fa_m = importance.metric_forest(vanilla, space, n_trees, seed)
        fa_t = importance.time_forest(vanilla, space, n_trees, seed)
        if fa_t is not None:
            imp_rows += _effect_rows(task, REFERENCE, "training time", fa_t)
        if fa_m is None:
            notes.append(f"{task}: too few distinct vanilla configurations for fANOVA")
        pooled = importance.pooled_forest(tg, space, order, n_trees, seed)
        if pooled is not None:
            pooled_rows += [{"task": task, "effect": r.param, "mean": r.mean, "std": r.std,
                             "oob_r2": pooled.oob_r2, "n_configs": pooled.n_configs}
                            for r in pooled.fanova.main_effects().itertuples()]
        metric, source = str(tg["metric"].iloc[0]), str(tg["source"].iloc[0])
        stored = results.studies[results.studies["task"] == task].iloc[0]
        role = {"kind": stored.get("kind"), "stands_for": stored.get("stands_for")}
        tasks.append(TaskAnalysis(task, metric, source, learnability(trials, task, fraction),
                                  fa_m, fa_t, **role))
        tasks_strict.append(TaskAnalysis(
            task, metric, source, learnability(trials, task, fraction, sample=strict),
            importance.metric_forest(vanilla, space, n_trees, seed, sample=strict), fa_t,
            **role))
    comparison = compare_variants(trials, fraction=fraction, seed=seed)
    comparison_strict = compare_variants(trials, fraction=fraction, seed=seed, sample=strict)
    found = findings_table(trials, comparison, tasks)
    left_out = findings_table(trials, comparison_strict, tasks_strict)
    found["verdict_strict"] = left_out["verdict"]
    found["reason_strict"] = left_out["reason"]
    cap = cap_sensitivity(trials, fraction)
    notes += [f"{r.task}: {r.variant}'s verdict on the validation metric is {r.verdict} at the "
              f"epoch cap of {r.max_epochs} (p = {r.p:.2g}) but {r.verdict_lower} at "
              f"{r.lower_cap} epochs (p = {r.p_lower:.2g}): it depends on where the cap sits"
              for r in cap[cap["changed"]].itertuples()]
    corrected = findings_table(trials, holm_corrected(comparison), tasks)
    found["verdict_holm"] = corrected["verdict"]
    found["reason_holm"] = corrected["reason"]
    return Analysis(
        results=results, trials=trials, variants=variant_summary(trials, fraction),
        comparison=comparison, comparison_strict=comparison_strict, cap=cap,
        importance=pd.DataFrame(imp_rows, columns=["task", "variant", "target", "effect", "mean",
                                                   "std", "oob_r2", "n_configs"]),
        pooled=pd.DataFrame(pooled_rows, columns=["task", "effect", "mean", "std", "oob_r2",
                                                  "n_configs"]),
        ped=pd.DataFrame(ped_rows, columns=["task", "variant", "param", "importance",
                                            "n_configs"]),
        tasks=tasks, findings=found, replicates=replicates, n_trees=n_trees, notes=notes,
    )


# -- tables for people (human column names with units; the CSVs keep the machine names) --------
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
    for target in ("test metric", "training time"):
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
    return pd.DataFrame({"#": f["#"], "finding": f["finding"], "verdict": f["verdict"],
                         "why": f["reason"], STRICT_VERDICT: f["verdict_strict"],
                         HOLM_VERDICT: [SAME if h == v else h for h, v in
                                        zip(f["verdict_holm"], f["verdict"])]})


Cell = tuple[str, str, str]  # text, css class, tooltip


def matrix(a: Analysis) -> tuple[list[str], list[tuple[str, str, list[Cell]]]]:
    """The task × variant matrix: (variant columns, rows of (task label, metric label, cells));
    a cell is (text, css class, tooltip): vanilla shows its best-10 % mean, every other variant
    Δ with n, classed by the verdict (n.s. split into powered and underpowered; every cell of a
    task that did not learn, or whose learning is unknown, is not testable)."""
    variants = figures.variant_order(a.trials["variant"])
    rows = []
    for t in a.tasks:
        c = a.comparison[a.comparison["task"] == t.task].set_index("variant")
        cells = []
        for v in variants:
            if v == REFERENCE:
                n = t.learn.n
                cells.append((f"{t.learn.vanilla_top_mean:.3g} n={n}"
                              if np.isfinite(t.learn.vanilla_top_mean) else "–", "ref",
                              f"vanilla best-{PCT} % mean"))
            elif v not in c.index:
                cells.append(("–", "na", "not run"))
            else:
                r = c.loc[v]
                said = verdict_text(r)
                css = CELL_CSS.get(said, "na") if t.learn.learned is True else "na"
                text = (f"{r['diff']:+.3g} n={r['n_top']}" if np.isfinite(r["diff"]) else
                        f"– n={r['n_top']}")
                tip = f"{said}, Welch p={r['welch_p']:.2g}"
                if t.learn.learned is not True:
                    tip += f"; not testable: {t.learn.reason}"
                cells.append((text, css, tip))
        rows.append((t.label, metric_label(t.metric), cells))
    return variants, rows


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


def _fmt(x: object) -> str:
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, float | np.floating):
        if math.isnan(x):
            return "–"
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    return str(x)


def _md(df: pd.DataFrame) -> str:
    return df.map(_fmt).to_markdown(index=False) if len(df) else "_(empty)_"


CELL_CSS = {"worse": "worse", "better": "better", "reproduced": "good",
            "not reproduced": "bad", "consistent, underpowered": "weak", "not testable": "na",
            "too few trials": "na", "constant samples": "na", "n.s.": "ns",
            UNDERPOWERED_NS: "weak"}


def _html_table(df: pd.DataFrame, cls: str = "tbl") -> str:
    if not len(df):
        return "<p><em>(empty)</em></p>"
    table = df.map(_fmt).to_html(index=False, escape=True, classes=cls, border=0)
    for word, css in CELL_CSS.items():
        table = table.replace(f"<td>{html.escape(word)}</td>",
                              f'<td class="{css}">{html.escape(word)}</td>')
    return table


MAX_MATRIX_COLUMNS = 10  # more variants than this: variants as rows, so the page never scrolls


def _matrix_html(a: Analysis) -> str:
    variants, rows = matrix(a)

    def td(c: Cell) -> str:
        text, css, tip = c
        return f'<td class="{css}" title="{html.escape(tip)}">{html.escape(text)}</td>'

    task_heads = [f"{html.escape(label)}<br><small>{html.escape(unit)}</small>"
                  for label, unit, _ in rows]
    if len(variants) <= MAX_MATRIX_COLUMNS:
        head = "<th>task</th>" + "".join(f"<th>{html.escape(v)}</th>" for v in variants)
        body = "".join(f"<tr><th>{th}</th>" + "".join(map(td, cells)) + "</tr>"
                       for th, (_, _, cells) in zip(task_heads, rows))
    else:
        head = "<th>variant</th>" + "".join(f"<th>{th}</th>" for th in task_heads)
        body = "".join(f"<tr><th>{html.escape(v)}</th>"
                       + "".join(td(cells[i]) for _, _, cells in rows) + "</tr>"
                       for i, v in enumerate(variants))
    legend = ('<p class="legend"><span class="worse">worse</span> <span class="better">better'
              '</span> <span class="ns">n.s., enough trials</span> <span class="weak">n.s., '
              'underpowered</span> <span class="na">not testable</span> — vanilla (V): its '
              f"best-{PCT} % mean test metric; others: Δ = variant − vanilla of that mean (lower "
              f"is better, Δ &gt; 0 is worse), n = trials in the variant's best {PCT} %.</p>")
    return (f'<table class="tbl matrix"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{legend}")


# -- writing -----------------------------------------------------------------------------------
def _figures(a: Analysis, fig_dir: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"fig3": [], "fig4": [], "fig5": [], "fig6": [], "curves": []}
    for t in a.tasks:
        out["fig3"].append(figures.boxplots(a.trials, a.comparison, t.task, fig_dir, FRACTION))
        fa_m = t.metric_fanova.fanova if t.metric_fanova else None
        fa_t = t.time_fanova.fanova if t.time_fanova else None
        searched = fa_m.params if fa_m is not None else []
        if {schema.LEARNING_RATE, schema.HIDDEN_SIZE, schema.INPUT_NOISE} & set(searched):
            out["fig4"].append(figures.marginals(fa_m, fa_t, t.task, t.metric, fig_dir))
            if schema.LEARNING_RATE in searched and len(searched) > 1:
                out["fig6"].append(figures.interactions(fa_m, t.task, t.metric, fig_dir))
        out["curves"].append(figures.learning_curves(a.trials, t.task, fig_dir))
    fas = {t.task: t.metric_fanova.fanova for t in a.tasks if t.metric_fanova is not None}
    if fas:
        out["fig5"].append(figures.importance(fas, fig_dir))
    return out


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'
            f"<figcaption>{html.escape(path.stem)}</figcaption></figure>")


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;
color:#222}h1{font-size:1.4em;margin:.2em 0}h2{border-bottom:1px solid #bbb;margin-top:1.6em;
font-size:1.15em}h3{font-size:1em}table.tbl{border-collapse:collapse;font-size:.8em;
margin:.4em 0;max-width:100%}table.tbl td,table.tbl th{border:1px solid #ccc;padding:2px 5px;
overflow-wrap:break-word;vertical-align:top;text-align:left}table.tbl th{background:#eee}
table.tbl th small{font-weight:normal;color:#555}figure{margin:1em 0}
img{max-width:100%}nav{background:#f6f6f6;padding:.3em 1em;font-size:.85em}
nav ol{columns:3;margin:.2em 0}.note{color:#555;font-size:.85em;margin:.2em 0}
#answer h2{margin-top:.4em}table.findings td:nth-child(1){white-space:nowrap}
table.findings td:nth-child(2){width:28%}table.findings td:nth-child(3),
table.findings td:nth-child(5){width:8.5em}table.findings td:nth-child(6){width:5em}
h3 small{font-weight:normal;color:#555}
ul.evidence{font-size:.85em;margin:.2em 0}.warn{background:#fbeaa8;padding:.3em .6em}
span.worse,span.better,span.good,span.bad,span.weak,span.na,span.ns{padding:0 .3em}
table.matrix td{text-align:center;white-space:nowrap}.legend{font-size:.8em}
.legend span{padding:0 .4em}.worse,.bad{background:#f4c7c3}.better,.good{background:#c9e8c5}
.ns{background:#d6e6f5}.weak{background:#fbeaa8}.na{color:#777;background:#f3f3f3}
.ref{background:#e3e3e3}"""


def _task_tables(a: Analysis, view) -> str:
    """``view(a, task)`` for each task under a heading that names the task's metric (unit)."""
    return "".join(f"<h3>{html.escape(t.label)} <small>— {html.escape(metric_label(t.metric))}"
                   f"</small></h3>{_html_table(view(a, t.task))}" for t in a.tasks)


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


def _warn(text: str) -> str:
    return f'<p class="warn">{html.escape(text)}</p>' if text else ""


def _gate_notes(a: Analysis, times: bool = True) -> str:
    return _warn(gate_note(a, times))


def _verdict_span(verdict: str) -> str:
    return f'<span class="{CELL_CSS.get(verdict, "na")}">{html.escape(verdict)}</span>'


def _evidence_html(a: Analysis) -> str:
    """Per finding: its verdict and reason, every check behind it (one line each), the verdict
    without the diverged or clipped trials and the verdict with Holm's correction."""
    parts = []
    for _, r in a.findings.iterrows():
        checks = "".join(f"<li>{html.escape(e)}</li>"
                         for e in str(r["evidence"]).split(EVIDENCE_SEP))
        parts.append(
            f'<h3>{r["#"]}. {html.escape(r["finding"])}</h3>'
            f'<p>{_verdict_span(r["verdict"])} — {html.escape(r["reason"])}</p>'
            f"<ul class=\"evidence\">{checks}</ul>"
            f'<p class="note">{html.escape(STRICT_VERDICT)}: '
            f'{_verdict_span(r["verdict_strict"])} — {html.escape(r["reason_strict"])}</p>'
            f'<p class="note">verdict with Holm&rsquo;s correction across the variants of a task: '
            f'{_verdict_span(r["verdict_holm"])} — {html.escape(r["reason_holm"])}</p>')
    return "".join(parts)


CSS_WORDS = {"worse": "worse", "better": "better", "ns": "n.s.", "weak": "underpowered",
             "na": "not testable"}


def _answer_md(a: Analysis) -> str:
    variants, rows = matrix(a)
    table = pd.DataFrame([[f"{label}, {unit}", *[
        f"{text} ({CSS_WORDS[css]})" if css in CSS_WORDS else text for text, css, _ in cells]]
        for label, unit, cells in rows], columns=["task", *variants])
    return _md(table)


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


def _rankings(a: Analysis) -> list[tuple[TaskAnalysis, str, pd.DataFrame]]:
    """Per task: the PTB-order line and the ranking table."""
    out = []
    for t in a.tasks:
        ranked = ranking(a.comparison, t.task)
        out.append((t, ptb_check(ranked, t), ranking_view(ranked, t)))
    return out


RANKING_INTRO = (f"Variants best first by the best-{PCT} % mean test metric (a rank alone is no "
                 "finding: the verdict is Welch's on the best 10 %), beside what the paper found "
                 "on the dataset the task stands for (docs/paper.md §Findings) and the order of "
                 "the public "
                 f"reproduction on Penn Treebank, {PTB_ORDER}.")


def _ranking_html(rankings: list[tuple[TaskAnalysis, str, pd.DataFrame]]) -> str:
    return f"<p>{html.escape(RANKING_INTRO)}</p>" + "".join(
        f"<h3>{html.escape(t.label)} <small>— {html.escape(metric_label(t.metric))}</small></h3>"
        f"<p>PTB order {html.escape(PTB_ORDER)}: {html.escape(line)}</p>" + _html_table(view)
        for t, line, view in rankings)


def _ranking_md(rankings: list[tuple[TaskAnalysis, str, pd.DataFrame]]) -> list[str]:
    return [RANKING_INTRO, *[f"### {t.label}\n\nPTB order {PTB_ORDER}: {line}\n\n{_md(view)}"
                             for t, line, view in rankings]]


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


def write_report(a: Analysis, out_dir: str | Path) -> Path:
    """Write report.html, report.md, the CSVs and the figures into ``out_dir``; returns the
    path of report.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a.results.to_csv(out / "trials.csv")
    if not a.replicates.empty:
        a.replicates.drop(columns=["history", "versions"]).to_csv(out / "replicates.csv",
                                                                   index=False)
    a.variants.to_csv(out / "variants.csv", index=False)
    a.comparison.to_csv(out / "significance.csv", index=False)
    a.comparison_strict.to_csv(out / "significance_left_out.csv", index=False)
    a.cap.to_csv(out / "cap_sensitivity.csv", index=False)
    a.importance.to_csv(out / "importance.csv", index=False)
    a.pooled.to_csv(out / "importance_pooled.csv", index=False)
    a.ped.to_csv(out / "ped_anova.csv", index=False)
    a.findings.to_csv(out / "findings.csv", index=False)
    overview(a).to_csv(out / "overview.csv", index=False)
    figs = _figures(a, out / "figures")
    rankings = _rankings(a)
    over = overview(a).drop(columns="key")
    progress = progress_line(a)
    answer = ("<h2>Findings of the paper (docs/paper.md §Findings) against ours</h2>"
              + _html_table(findings_view(a), "tbl findings")
              + f"<h2>Variants against vanilla (Welch on the best {PCT} %)</h2>"
              + _matrix_html(a))
    sections: list[tuple[str, str, str]] = [
        ("overview", "Overview: data, trials and the rules that touched them",
         _html_table(over) + "<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in RULES)
         + "</ul>"),
        ("variants", "Variants per task", _task_tables(a, variants_view)),
        ("ranking", "Ranking of the variants, beside the paper and the PTB reproduction",
         _ranking_html(rankings)),
        ("significance", f"Variant vs vanilla (Welch on the best {PCT} %)",
         f"<p>Δ = variant − vanilla of the best-{PCT} % mean test metric (lower is better, Δ "
         f"&gt; 0 is worse); an n.s. with fewer than {POWER_N} trials per arm (and no "
         "equivalence) is <em>underpowered</em>. The last column is the verdict with the "
         "diverged, imputed and clipped trials left out (sensitivity).</p>"
         + _task_tables(a, significance_view)
         + "<h3>Robust companions</h3><p>Holm across the variants of a task, Mann–Whitney U, "
         "bootstrap 95 % CI of Δ, Wilcoxon signed-rank on matched configurations, the verdict "
         "at other top fractions.</p>" + _task_tables(a, robust_view)),
        ("cap", "Does the epoch cap decide a verdict?",
         f"<p>{html.escape(cap_intro(a))}</p>" + _task_tables(a, cap_view)),
        ("fig3", "Figure 3: test metric per variant", "".join(_img(p) for p in figs["fig3"])),
        ("importance", "Hyperparameter importance (fANOVA, PED-ANOVA)",
         f"<p>fANOVA on a random forest of {a.n_trees} trees per (task, variant), fitted on "
         "distinct configurations; fraction of variance (mean ± std across trees), log-scaled "
         "hyperparameters on their log scale; OOB R² is the forest's fit. Figure 5 and the "
         "first table are vanilla's, as in the paper.</p>" + _gate_notes(a)
         + "".join(_img(p) for p in figs["fig5"]) + _task_tables(a, vanilla_effects_view)
         + "<h3>Every variant's own forest (main effects)</h3>"
         + _task_tables(a, variant_effects_view)
         + "<h3>One forest over all variants (the variant as an input)</h3>"
         + _html_table(pooled_view(a))
         + f"<h3>PED-ANOVA: importance for reaching the best {PCT} % (Optuna)</h3>"
         + _task_tables(a, ped_view)),
        ("fig4", "Figure 4: marginal effects (vanilla)",
         _gate_notes(a) + "".join(_img(p) for p in figs["fig4"])),
        ("fig6", "Figure 6: interactions (vanilla)",
         _gate_notes(a, times=False) + "".join(_img(p) for p in figs["fig6"])),
        ("curves", "Learning curves", "".join(_img(p) for p in figs["curves"])),
        ("evidence", "Findings: the numbers behind each verdict", _evidence_html(a)),
        ("protocol", "Protocol and versions",
         _html_table(protocol_view(a)) + _html_table(versions_view(a))),
    ]
    if a.notes:
        sections.append(("notes", "Notes", "<ul>" + "".join(
            f"<li>{html.escape(n)}</li>" for n in a.notes) + "</ul>"))
    last = a.results.last_finished
    when = f"last trial finished {last:%Y-%m-%d %H:%M}" if last else "no trial finished yet"
    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>'
                  for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>lstm-odyssey report</title><style>{CSS}</style></head><body>"
            f"<h1>lstm-odyssey report</h1><p class=\"note\">{html.escape(progress)}; "
            f"{html.escape(a.results.storage)}, {when}</p>{_warn(incomplete_warning(a))}"
            f'<div id="answer">{answer}</div>'
            f"<nav><strong>Details</strong><ol>{toc}</ol></nav>{body}</body></html>")
    (out / "report.html").write_text(page, encoding="utf-8")
    md_parts = [
        "# lstm-odyssey report", f"{progress}; storage `{a.results.storage}`, {when}.",
        *([f"**{w}**"] if (w := incomplete_warning(a)) else []),
        "## Findings of the paper against ours", _md(findings_view(a)),
        f"## Variants against vanilla (Δ of the best-{PCT} % mean, n)", _answer_md(a),
        "## Ranking of the variants, beside the paper and the PTB reproduction",
        *_ranking_md(rankings),
        "## Overview", _md(over), "\n".join(f"- {r}" for r in RULES),
        "## Variants",
        *[f"### {t.label}\n\n{_md(variants_view(a, t.task))}" for t in a.tasks],
        f"## Variant vs vanilla (Welch on the best {PCT} %)",
        *[f"### {t.label}\n\n{_md(significance_view(a, t.task))}" for t in a.tasks],
        "## Does the epoch cap decide a verdict?", cap_intro(a),
        *[f"### {t.label}\n\n{_md(cap_view(a, t.task))}" for t in a.tasks],
        "## Hyperparameter importance (vanilla's fANOVA)", gate_note(a),
        *[f"### {t.label}\n\n{_md(vanilla_effects_view(a, t.task))}" for t in a.tasks],
        "## The variant's share (one forest over all variants)", _md(pooled_view(a)),
        "## Findings: the numbers behind each verdict",
        "\n".join(f"{r['#']}. **{r['verdict']}** — "
                  + "; ".join(str(r["evidence"]).split(EVIDENCE_SEP))
                  for _, r in a.findings.iterrows()),
        "## Protocol", _md(protocol_view(a)), "## Versions", _md(versions_view(a)),
        "## Figures", "\n".join(f"- [{p.stem}](figures/{p.name})"
                                for group in figs.values() for p in group),
    ]
    if a.notes:
        md_parts += ["## Notes", "\n".join(f"- {n}" for n in a.notes)]
    (out / "report.md").write_text("\n\n".join(p for p in md_parts if p) + "\n",
                                   encoding="utf-8")
    return out / "report.html"


class ReportTargetError(UserError, ValueError):
    """A report target that names neither a study file nor a results directory."""


@dataclass(frozen=True)
class ReportTarget:
    """What ``lstm-odyssey report`` reads and where it writes: the storage, the studies to
    keep — those stored under the study file name ``study`` and the Optuna studies named in
    ``searches`` (a study file's searches, shared tasks included; both None: all) — and the
    output directory."""

    storage: str | StorageURL
    study: str | None
    searches: frozenset[str] | None
    out: Path


def resolve_target(target: str | None, storage: str | None,
                   out_dir: str | None) -> ReportTarget:
    """The :class:`ReportTarget` of ``lstm-odyssey report``.

    ``target`` is a study file (its storage and searches; output ``results/<name>/report``), a
    results directory holding the sweep's journal file (output ``<dir>/report``) or None
    (then ``storage`` and ``out_dir`` are required). An explicit ``storage``/``out_dir`` wins.
    """
    study = searches = None
    default_out = None
    if target is not None:
        path = Path(target)
        if path.is_dir():
            storage = storage or str(journal_in(path))
            default_out = path / "report"
        else:
            from ..sweep.studyfile import load_study

            spec = load_study(path)
            storage = spec.storage(storage)  # a StorageURL: it may carry a base journal
            study, searches = spec.name, spec.searches()
            default_out = Path("results") / spec.name / "report"
    if storage is None:
        raise ReportTargetError("no storage given; pass --storage URL, a study file or a "
                                "results directory")
    out = Path(out_dir) if out_dir else default_out
    if out is None:
        raise ReportTargetError("no output directory given; pass -o DIR")
    return ReportTarget(storage, study, searches, out)


def build_report(storage: str, out_dir: str | Path, study: str | None = None,
                 n_trees: int = 100, seed: int = 0,
                 searches: Collection[str] | None = None) -> Path:
    """Analyse ``storage`` (filtered as :func:`analyze`) and write the report into
    ``out_dir``; returns report.html."""
    return write_report(analyze(storage, study, n_trees=n_trees, seed=seed, searches=searches),
                        out_dir)


def summary(a: Analysis) -> dict:
    """The findings, overview, significance and importance tables as one JSON-serialisable
    object (machine column names)."""
    def records(df: pd.DataFrame) -> list[dict]:
        return json.loads(df.to_json(orient="records"))

    done, planned = trial_counts(a)
    return {
        "storage": a.results.storage,
        "finished": done,
        "planned": planned,
        "findings": records(a.findings),
        "overview": records(overview(a)),
        "significance": records(a.comparison),
        "significance_left_out": records(a.comparison_strict),
        "cap_sensitivity": records(a.cap),
        "importance": records(a.importance),
        "importance_pooled": records(a.pooled),
        "ped_anova": records(a.ped),
        "notes": a.notes,
    }


def summary_text(a: Analysis) -> str:
    """The findings, the significance table and vanilla's importances for a terminal."""
    f = findings_view(a)[["#", "verdict", "why"]]
    parts = [progress_line(a), *filter(None, [incomplete_warning(a)]), "",
             "Findings of the paper against ours",
             f.to_string(index=False), ""]
    sig = a.comparison[["task", "variant", "n_top", "diff", "welch_p", "verdict", "powered",
                        "holm_p", "mwu_p", "ci_low", "ci_high", "paired_p"]]
    parts += [f"Variant vs vanilla, Welch on the best {PCT} % (Δ > 0: worse than vanilla)",
              sig.map(_fmt).to_string(index=False)]
    imp = a.importance[(a.importance["target"] == "test metric")
                       & (a.importance["variant"] == REFERENCE)]
    if len(imp):
        wide = imp.assign(value=[f"{m:.1%} ± {s:.1%}" for m, s in zip(imp["mean"], imp["std"])])
        table = wide.pivot(index="effect", columns="task", values="value").fillna("–")
        table = table.loc[list(dict.fromkeys(wide["effect"]))]  # mains, pairs, rest
        r2 = imp.groupby("task")["oob_r2"].first()
        parts += ["", "fANOVA (vanilla): fraction of test-metric variance (mean ± std across "
                  "trees); OOB R² " + ", ".join(f"{t} {v:.2f}" for t, v in r2.items()),
                  table.to_string()]
    parts += [f"note: {n}" for n in a.notes]
    return "\n".join(parts)

