"""The report of a storage: :func:`write_report` writes ``report.html`` (self-contained,
figures embedded as data URIs; the first screen is the answer: the findings with their verdicts
and a task × variant matrix), ``report.md``, the CSVs (machine column names) and
``figures/*.png|svg`` — three views of one report model (:mod:`.sections`, :mod:`.model`,
:mod:`.render`); :func:`build_report` analyses (:mod:`.pipeline`) and writes.
:func:`summary` and :func:`summary_text` are what ``lstm-odyssey analyze`` prints.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from ..records.atomic import atomic_directory
from .decisive import Registration
from .pipeline import FRACTION, PCT, Analysis, analyze
from .render import fmt, to_html, to_markdown, write_csvs
from .sections import make_figures, report_model
from .stats import REFERENCE
from .targets import ReportTarget, ReportTargetError, resolve_target
from .views import findings_view, incomplete_warning, overview, progress_line, trial_counts

__all__ = ["FRACTION", "Analysis", "ReportTarget", "ReportTargetError", "analyze",
           "build_report", "resolve_target", "summary", "summary_text", "write_report"]


def write_report(a: Analysis, out_dir: str | Path) -> Path:
    """Write report.html, report.md, the CSVs and the figures into ``out_dir``; returns the
    path of report.html."""
    out = Path(out_dir)
    # the whole report appears at once or not at all (an interrupted or full-disk write
    # leaves the previous report as it was)
    with atomic_directory(out) as tmp:
        model = report_model(a, make_figures(a, tmp / "figures"))
        write_csvs(model, tmp)
        (tmp / "report.html").write_text(to_html(model), encoding="utf-8")
        (tmp / "report.md").write_text(to_markdown(model), encoding="utf-8")
    return out / "report.html"


def build_report(storage: str, out_dir: str | Path, study: str | None = None,
                 n_trees: int = 100, seed: int = 0,
                 searches: Collection[str] | None = None,
                 registration: Registration | None = None) -> Path:
    """Analyse ``storage`` (filtered as :func:`.pipeline.analyze`, under ``registration``)
    and write the report into ``out_dir``; returns report.html."""
    return write_report(analyze(storage, study, n_trees=n_trees, seed=seed, searches=searches,
                                registration=registration), out_dir)


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
              sig.map(fmt).to_string(index=False)]
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
