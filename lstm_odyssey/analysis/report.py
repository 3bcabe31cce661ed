"""The whole analysis of a storage and the report it writes.

:func:`analyze` computes everything into an :class:`Analysis`; :func:`write_report` writes
``report.html`` (self-contained: figures embedded as data URIs, a table of contents),
``report.md`` (the summary tables), the CSVs and ``figures/*.png|svg``; :func:`build_report`
does both.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import importlib.metadata as md
import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..sweep import schema
from . import figures
from .fanova import Fanova, FanovaError
from .findings import TaskAnalysis, findings_table
from .stats import (
    MIN_SAMPLES,
    UNFINISHED,
    compare_variants,
    completed,
    finished,
    variant_summary,
)
from .table import Results, load_results

FRACTION = 0.1


@dataclass
class Analysis:
    """Every table of the report, computed from one storage."""

    results: Results
    variants: pd.DataFrame
    comparison: pd.DataFrame
    importance: pd.DataFrame
    tasks: list[TaskAnalysis]
    findings: pd.DataFrame
    n_trees: int = 100
    notes: list[str] = field(default_factory=list)


def _fanova(done: pd.DataFrame, target: str, results: Results, n_trees: int,
            seed: int) -> Fanova | None:
    space = {p: d for p, d in results.space.items() if p in schema.PARAMS and d.high > d.low}
    rows = done[np.isfinite(done[target])]
    if len(rows) < 2 * MIN_SAMPLES or not space:
        return None
    try:
        return Fanova(rows[list(space)], rows[target], space, n_trees=n_trees, seed=seed)
    except FanovaError:
        return None


def _importance_rows(task: str, target: str, fa: Fanova) -> list[dict]:
    rows = [{"task": task, "target": target, "effect": r.param, "mean": r.mean, "std": r.std}
            for r in fa.main_effects().itertuples()]
    rows += [{"task": task, "target": target, "effect": f"{r.param_a} × {r.param_b}",
              "mean": r.mean, "std": r.std} for r in fa.pair_effects().itertuples()]
    rest, rest_std = fa.unexplained()
    rows.append({"task": task, "target": target, "effect": "higher order (rest)",
                 "mean": rest, "std": rest_std})
    for r in rows:
        r["oob_r2"] = fa.oob_r2
        r["n_trials"] = fa.n_samples
    return rows


def analyze(storage: str, study: str | None = None, n_trees: int = 100, seed: int = 0,
            fraction: float = FRACTION) -> Analysis:
    """Load ``storage`` (optionally only study file ``study``) and compute every table:
    variant summary, significance tests, fANOVA of the test metric and of the training time
    per task (all variants' completed trials pooled), and the PAPER.md §7 findings."""
    results = load_results(storage, study)
    trials = results.trials
    notes = []
    imp_rows: list[dict] = []
    tasks = []
    for task in results.tasks:
        tg = trials[trials["task"] == task]
        done = completed(tg)
        fa_m = _fanova(done, "test_metric", results, n_trees, seed)
        fa_t = _fanova(done, "wall_time_s", results, n_trees, seed)
        if fa_m is None:
            notes.append(f"{task}: too few completed trials ({len(done)}) for fANOVA")
        for target, fa in (("test metric", fa_m), ("training time", fa_t)):
            if fa is not None:
                imp_rows += _importance_rows(task, target, fa)
        tasks.append(TaskAnalysis(task, str(tg["metric"].iloc[0]), str(tg["source"].iloc[0]),
                                  fa_m, fa_t))
    comparison = compare_variants(trials, fraction=fraction, seed=seed)
    return Analysis(
        results=results,
        variants=variant_summary(trials, fraction),
        comparison=comparison,
        importance=pd.DataFrame(imp_rows, columns=["task", "target", "effect", "mean", "std",
                                                   "oob_r2", "n_trials"]),
        tasks=tasks,
        findings=findings_table(trials, comparison, tasks),
        n_trees=n_trees,
        notes=notes,
    )


# -- tables for people ---------------------------------------------------------------------------
def overview(a: Analysis) -> pd.DataFrame:
    """Per task: data source, data description, variants, trials, completed (including runs
    stopped at the time budget), diverged, failed and still running."""
    rows = []
    s = a.results.studies
    for task in a.results.tasks:
        tg = a.results.trials[a.results.trials["task"] == task]
        meta = s[s["task"] == task].iloc[0]
        complete, diverged = len(completed(tg)), int((tg["status"] == "diverged").sum())
        rows.append({
            "task": task, "source": meta["source"], "data": meta["data"],
            "metric": meta["metric"], "variants": tg["variant"].nunique(), "trials": len(tg),
            "complete": complete, "diverged": diverged,
            "failed": len(finished(tg)) - complete - diverged,  # lost trials were re-run
            "running": int(tg["status"].isin(UNFINISHED).sum()),
        })
    return pd.DataFrame(rows)


def significance_view(a: Analysis) -> pd.DataFrame:
    """The comparison table with the columns a reader needs, in reading order."""
    cols = ["task", "variant", "n_top", "mean_top", "mean_top_ref", "diff", "welch_p", "verdict",
            "holm_p", "verdict_holm", "mwu_p", "ci_low", "ci_high", "paired_n", "paired_p",
            *[c for c in a.comparison.columns if c.startswith("verdict_top")],
            "failure_rate", "divergence_rate"]
    return a.comparison[cols]


def protocol_and_versions(a: Analysis) -> pd.DataFrame:
    """Protocol per task as stored with the studies, and the package versions."""
    rows = []
    s = a.results.studies
    for task in a.results.tasks:
        proto = s[s["task"] == task].iloc[0]["protocol"]
        rows.append({"item": f"protocol {task}", "value": json.dumps(proto, sort_keys=True)})
    versions = next((v for v in s["versions"] if v), {})
    rows += [{"item": f"sweep {k}", "value": str(v)} for k, v in sorted(versions.items())]
    for pkg in ("lstm-odyssey", "optuna", "scikit-learn", "scipy", "pandas", "matplotlib"):
        try:
            rows.append({"item": f"analysis {pkg}", "value": md.version(pkg)})
        except md.PackageNotFoundError:
            continue
    rows.append({"item": "analysis python", "value": platform.python_version()})
    rows.append({"item": "storage", "value": a.results.storage})
    return pd.DataFrame(rows)


def _fmt(x: object) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    return str(x)


def _md(df: pd.DataFrame) -> str:
    return df.map(_fmt).to_markdown(index=False) if len(df) else "_(empty)_"


def _html_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "<p><em>(empty)</em></p>"
    table = df.map(_fmt).to_html(index=False, escape=True, classes="tbl", border=0)
    for word, css in VERDICT_CSS.items():
        table = table.replace(f"<td>{word}</td>", f'<td class="{css}">{word}</td>')
    return f'<div class="scroll">{table}</div>'


# -- writing -----------------------------------------------------------------------------------
def _figures(a: Analysis, fig_dir: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"fig3": [], "fig4": [], "fig5": [], "fig6": [], "curves": []}
    trials = a.results.trials
    for t in a.tasks:
        out["fig3"].append(figures.boxplots(trials, a.comparison, t.task, fig_dir, FRACTION))
        searched = t.metric_fanova.params if t.metric_fanova is not None else []
        if {schema.LEARNING_RATE, schema.HIDDEN_SIZE, schema.INPUT_NOISE} & set(searched):
            out["fig4"].append(figures.marginals(t.metric_fanova, t.time_fanova, t.task,
                                                 t.metric, fig_dir))
            if schema.LEARNING_RATE in searched and len(searched) > 1:
                out["fig6"].append(figures.interactions(t.metric_fanova, t.task, t.metric,
                                                        fig_dir))
        out["curves"].append(figures.learning_curves(trials, t.task, fig_dir))
    fas = {t.task: t.metric_fanova for t in a.tasks if t.metric_fanova is not None}
    if fas:
        out["fig5"].append(figures.importance(fas, fig_dir))
    return out


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'
            f"<figcaption>{html.escape(path.stem)}</figcaption></figure>")


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222}h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table.tbl{border-collapse:collapse;font-size:.85em;margin:.5em 0}table.tbl td,table.tbl th
{border:1px solid #ccc;padding:2px 6px}table.tbl th{background:#eee}figure{margin:1em 0}
img{max-width:100%}nav{background:#f6f6f6;padding:.5em 1em}.note{color:#555}
.scroll{overflow-x:auto}table.tbl td:first-child{white-space:nowrap}
td.worse{background:#f8d0d0}td.better{background:#d0f0d0}td.na{color:#888}"""
VERDICT_CSS = {"worse": "worse", "better": "better", "reproduced": "better",
               "not reproduced": "worse", "not testable": "na", "too few trials": "na"}


def write_report(a: Analysis, out_dir: str | Path) -> Path:
    """Write report.html, report.md, the CSVs and the figures into ``out_dir``; returns the
    path of report.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a.results.to_csv(out / "trials.csv")
    a.variants.to_csv(out / "variants.csv", index=False)
    a.comparison.to_csv(out / "significance.csv", index=False)
    a.importance.to_csv(out / "importance.csv", index=False)
    a.findings.to_csv(out / "findings.csv", index=False)
    figs = _figures(a, out / "figures")
    over, sig, prot = overview(a), significance_view(a), protocol_and_versions(a)
    imp = a.importance[a.importance["target"] == "test metric"].drop(columns="target")
    imp_time = a.importance[a.importance["target"] == "training time"].drop(columns="target")
    pct = round(FRACTION * 100)
    sections: list[tuple[str, str, str]] = [
        ("overview", "Overview: data, trials, failures",
         _html_table(over) + "<p>A trial that diverged (NaN loss) or failed is kept as a "
         "failure and counts in the failure and divergence rates.</p>"),
        ("protocol", "Protocol and versions", _html_table(prot)),
        ("variants", "Variants per task", _html_table(a.variants)),
        ("significance", f"Variant vs vanilla (Welch on the best {pct} %)",
         f"<p>Best {pct} % of each variant's trials chosen by validation metric; Δ = variant − "
         "vanilla of the mean test metric (lower is better, Δ &gt; 0 is worse). Welch's t-test "
         "(the paper's test, p &lt; 0.05), Holm across the variants of a task, Mann–Whitney U, "
         "bootstrap 95 % CI of Δ, Wilcoxon signed-rank on matched configurations, and the "
         "verdict at other top fractions. Fewer than "
         f"{MIN_SAMPLES} values in a sample: <em>too few trials</em>.</p>" + _html_table(sig)),
        ("fig3", "Figure 3: test metric per variant",
         "".join(_img(p) for p in figs["fig3"])),
        ("importance", "Hyperparameter importance (fANOVA)",
         "<p>Fraction of variance of the test metric explained by each hyperparameter and each "
         f"pair (mean ± std across {a.n_trees} trees of a random forest over all variants' "
         "completed "
         "trials; log-scaled parameters on their log scale); OOB R² is the forest's fit.</p>"
         + "".join(_img(p) for p in figs["fig5"]) + _html_table(imp)
         + "<h3>Training time</h3>" + _html_table(imp_time)),
        ("fig4", "Figure 4: marginal effects", "".join(_img(p) for p in figs["fig4"])),
        ("fig6", "Figure 6: interactions", "".join(_img(p) for p in figs["fig6"])),
        ("curves", "Learning curves", "".join(_img(p) for p in figs["curves"])),
        ("findings", "Findings of the paper (PAPER.md §7) against ours",
         _html_table(a.findings)),
    ]
    if a.notes:
        sections.append(("notes", "Notes", "<ul>" + "".join(
            f"<li>{html.escape(n)}</li>" for n in a.notes) + "</ul>"))
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>'
                  for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>lstm-odyssey report</title><style>{CSS}</style></head><body>"
            f"<h1>lstm-odyssey report</h1><p class=\"note\">{html.escape(a.results.storage)}, "
            f"written {when}</p><nav><strong>Contents</strong><ol>{toc}</ol></nav>{body}"
            "</body></html>")
    (out / "report.html").write_text(page, encoding="utf-8")
    md_parts = [
        "# lstm-odyssey report", f"Storage: `{a.results.storage}`, written {when}.",
        "## Overview", _md(over), "## Protocol and versions", _md(prot),
        "## Variants per task", _md(a.variants),
        f"## Variant vs vanilla (Welch on the best {pct} %)", _md(sig),
        "## Hyperparameter importance (fANOVA, test metric)", _md(imp),
        "## Hyperparameter importance (fANOVA, training time)", _md(imp_time),
        "## Findings of the paper against ours", _md(a.findings),
        "## Figures", "\n".join(f"- [{p.stem}](figures/{p.name})"
                                for group in figs.values() for p in group),
    ]
    if a.notes:
        md_parts += ["## Notes", "\n".join(f"- {n}" for n in a.notes)]
    (out / "report.md").write_text("\n\n".join(md_parts) + "\n", encoding="utf-8")
    return out / "report.html"


class ReportTargetError(UserError, ValueError):
    """A report target that names neither a study file nor a results directory."""


def resolve_target(target: str | None, storage: str | None,
                   out_dir: str | None) -> tuple[str, str | None, Path]:
    """(storage URL, study name filter, output directory) of ``lstm-odyssey report``.

    ``target`` is a study file (its storage and name; output ``results/<name>/report``), a
    results directory holding the sweep's journal file (output ``<dir>/report``) or None
    (then ``storage`` and ``out_dir`` are required). An explicit ``storage``/``out_dir`` wins.
    """
    study = None
    default_out = None
    if target is not None:
        path = Path(target)
        if path.is_dir():
            storage = storage or str(path / schema.JOURNAL_FILE)
            default_out = path / "report"
        else:
            from ..sweep.storage import default_url
            from ..sweep.studyfile import load_study

            spec = load_study(path)
            storage = storage or spec.storage_url or default_url(spec.name)
            study = spec.name
            default_out = Path("results") / spec.name / "report"
    if storage is None:
        raise ReportTargetError("no storage given; pass --storage URL, a study file or a "
                                "results directory")
    out = Path(out_dir) if out_dir else default_out
    if out is None:
        raise ReportTargetError("no output directory given; pass -o DIR")
    return storage, study, out


def build_report(storage: str, out_dir: str | Path, study: str | None = None,
                 n_trees: int = 100, seed: int = 0) -> Path:
    """Analyse ``storage`` and write the report into ``out_dir``; returns report.html."""
    return write_report(analyze(storage, study, n_trees=n_trees, seed=seed), out_dir)


def summary(a: Analysis) -> dict:
    """The significance, importance and findings tables as one JSON-serialisable object."""
    def records(df: pd.DataFrame) -> list[dict]:
        return json.loads(df.to_json(orient="records"))

    return {
        "storage": a.results.storage,
        "overview": records(overview(a)),
        "significance": records(significance_view(a)),
        "importance": records(a.importance),
        "findings": records(a.findings),
        "notes": a.notes,
    }


def summary_text(a: Analysis) -> str:
    """The significance and importance tables as plain text for a terminal."""
    sig = significance_view(a)[["task", "variant", "n_top", "diff", "welch_p", "verdict",
                                "holm_p", "mwu_p", "ci_low", "ci_high", "paired_p"]]
    imp = a.importance[a.importance["target"] == "test metric"]
    wide = imp.assign(value=[f"{m:.1%} ± {s:.1%}" for m, s in zip(imp["mean"], imp["std"])])
    parts = [(f"Variant vs vanilla, Welch on the best {round(FRACTION * 100)} % "
             "(Δ > 0: worse than vanilla)"), sig.map(_fmt).to_string(index=False)]
    if len(wide):
        table = wide.pivot(index="effect", columns="task", values="value").fillna("–")
        table = table.loc[list(dict.fromkeys(wide["effect"]))]  # mains, pairs, rest
        r2 = imp.groupby("task")["oob_r2"].first()
        parts += ["", "fANOVA: fraction of test-metric variance (mean ± std across trees); OOB R² "
                  + ", ".join(f"{t} {v:.2f}" for t, v in r2.items()), table.to_string()]
    parts += [f"note: {n}" for n in a.notes]
    return "\n".join(parts)
