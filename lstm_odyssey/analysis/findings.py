"""PAPER.md §7, finding by finding, against our results: reproduced / not reproduced / not
testable, with the numbers behind each verdict.

Tasks are matched to the paper's datasets by their metric (frame error → TIMIT, CER → IAM,
NLL per step → JSB). Variant findings use the Welch verdicts on the best 10 % (the paper's
test). Hyperparameter findings use the fANOVA of each task; the thresholds are stated in
the evidence (e.g. momentum < 1 % of variance, interactions < 10 % together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..sweep import schema
from .fanova import Fanova

DATASET_OF_METRIC = {"frame_error_pct": "TIMIT", "cer_pct": "IAM", "nll_per_step": "JSB"}
REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = "reproduced", "not reproduced", "not testable"
MIN_FANOVA_TRIALS = 30
PAPER_RANGES = {"TIMIT": (27.0, 35.0), "IAM": (10.0, 30.0), "JSB": (8.4, 8.8)}


@dataclass
class TaskAnalysis:
    """What the findings need to know about one task."""

    task: str
    metric: str
    source: str
    metric_fanova: Fanova | None
    time_fanova: Fanova | None

    @property
    def dataset(self) -> str:
        return DATASET_OF_METRIC.get(self.metric, "?")


def _cell(comparison: pd.DataFrame, task: str, variant: str) -> tuple[str, str]:
    row = comparison[(comparison["task"] == task) & (comparison["variant"] == variant)]
    if row.empty:
        return "missing", f"{variant} {task}: not run"
    r = row.iloc[0]
    holm = f", Holm p={r['holm_p']:.2g}" if "holm_p" in r else ""
    return r["verdict"], (f"{variant} {task}: Δ={r['diff']:+.3g}, p={r['welch_p']:.2g}{holm} "
                          f"({r['verdict']})")


def _variant_finding(comparison: pd.DataFrame, tasks: list[TaskAnalysis], variants: list[str],
                     expect: Callable[[str, str], bool],
                     needs_all_datasets: bool = False) -> tuple[str, str]:
    """``expect(dataset, verdict) -> bool`` says whether a cell agrees with the paper. A finding
    that names the three datasets (``needs_all_datasets``) is only reproduced when the study
    has a task for each of them."""
    cells = [(t, v, *_cell(comparison, t.task, v)) for v in variants for t in tasks]
    bad = [e for t, _, verdict, e in cells if verdict not in ("missing", "too few trials")
           and not expect(t.dataset, verdict)]
    untestable = [e for _, _, verdict, e in cells if verdict in ("missing", "too few trials")]
    evidence = "; ".join(e for *_, e in cells) or "no tasks"
    absent = sorted(set(PAPER_RANGES) - {t.dataset for t in tasks})
    if absent:
        evidence += f"; no task for {', '.join(absent)} in this study"
    if bad:
        return NOT_REPRODUCED, evidence
    if untestable or not cells or (needs_all_datasets and absent):
        return NOT_TESTABLE, evidence
    return REPRODUCED, evidence


def _frac(fa: Fanova, param: str) -> float:
    m = fa.main_effects().set_index("param")["mean"]
    return float(m.get(param, np.nan))


def _hp_finding(tasks: list[TaskAnalysis],
                check: Callable[[TaskAnalysis], tuple[bool | None, str]],
                param: str | None = None) -> tuple[str, str]:
    """``check(task) -> (ok, evidence)`` per task whose fANOVA rests on at least
    :data:`MIN_FANOVA_TRIALS` completed trials and in which ``param`` was searched (for
    ``None``: at least two hyperparameters were)."""
    usable = [t for t in tasks if t.metric_fanova is not None
              and t.metric_fanova.n_samples >= MIN_FANOVA_TRIALS]
    if not usable:
        return NOT_TESTABLE, (f"no task has {MIN_FANOVA_TRIALS} completed trials, too few for "
                              "a meaningful fANOVA")

    def run(t: TaskAnalysis) -> tuple[bool | None, str]:
        searched = t.metric_fanova.params
        if (param is not None and param not in searched) or len(searched) < 2:
            return None, f"{param or 'two hyperparameters'} not searched"
        ok, e = check(t)
        return (None if ok is None else bool(ok)), e

    results = [run(t) for t in usable]
    evidence = "; ".join(f"{t.task}: {e}" for t, (_, e) in zip(usable, results))
    if any(ok is False for ok, _ in results):
        return NOT_REPRODUCED, evidence
    if any(ok is None for ok, _ in results):
        return NOT_TESTABLE, evidence
    return REPRODUCED, evidence


def _ends(fa: Fanova, param: str) -> tuple[float, float, float, str]:
    """Marginal at the low end, the middle and the high end of ``param``'s range, and those
    three points as text."""
    m = fa.marginal(param, 21)
    y, x = m["mean"].to_numpy(), m["x"].to_numpy()
    return float(y[0]), float(y[10]), float(y[-1]), "/".join(f"{v:.3g}" for v in x[[0, 10, -1]])


def _lr(t: TaskAnalysis) -> tuple[bool, str]:
    fa = t.metric_fanova
    main = fa.main_effects().set_index("param")["mean"]
    m = fa.marginal(schema.LEARNING_RATE, 81)
    lo, hi = m["mean"].min(), m["mean"].max()
    basin = m[m["mean"] <= lo + 0.1 * (hi - lo)]["x"]
    width = np.log10(basin.max() / basin.min())
    pairs = fa.pair_effects()
    both = {schema.LEARNING_RATE, schema.HIDDEN_SIZE}
    lh = pairs[pairs.param_a.isin(both) & pairs.param_b.isin(both)]["mean"].sum()
    ok = main.idxmax() == schema.LEARNING_RATE
    best = m["x"][m["mean"].idxmin()]
    return ok, (f"learning rate {main[schema.LEARNING_RATE]:.0%} of variance (largest: "
                f"{main.idxmax()}), best ≈ {best:.1e}, basin within 10 % of the range spans "
                f"{width:.1f} decades, lr×hidden interaction {lh:.1%}")


def _hidden(t: TaskAnalysis) -> tuple[bool | None, str]:
    low, mid, high, at = _ends(t.metric_fanova, schema.HIDDEN_SIZE)
    ok = high < low and (low - mid) > (mid - high)
    text = f"metric at {at} blocks {low:.3g}/{mid:.3g}/{high:.3g}"
    if t.time_fanova is None:
        return None, text + ", no training times"
    tl, _, th, _ = _ends(t.time_fanova, schema.HIDDEN_SIZE)
    return ok and th > tl, text + f", time {tl / 3600:.2g} h → {th / 3600:.2g} h"


def _momentum(t: TaskAnalysis) -> tuple[bool | None, str]:
    fm = _frac(t.metric_fanova, schema.ONE_MINUS_MOMENTUM)
    if t.time_fanova is None:
        return None, f"{fm:.1%} of metric variance, no training times"
    ft = _frac(t.time_fanova, schema.ONE_MINUS_MOMENTUM)
    return fm < 0.01 and ft < 0.01, f"{fm:.1%} of metric and {ft:.1%} of time variance (< 1 %?)"


def _noise(t: TaskAnalysis) -> tuple[bool | None, str]:
    low, _, high, at = _ends(t.metric_fanova, schema.INPUT_NOISE)
    lo_x, _, hi_x = at.split("/")
    text = f"metric at noise {lo_x} → {hi_x}: {low:.3g} → {high:.3g}"
    if t.time_fanova is None:
        return None, text + ", no training times"
    tl, _, th, _ = _ends(t.time_fanova, schema.INPUT_NOISE)
    return high > low and th > tl, text + f", time {tl / 3600:.2g} h → {th / 3600:.2g} h"


def _interactions(t: TaskAnalysis) -> tuple[bool, str]:
    pairs = t.metric_fanova.pair_effects()
    total = float(pairs["mean"].sum())
    top = pairs.loc[pairs["mean"].idxmax()]
    return total < 0.10, (f"all pairs {total:.1%} of variance (< 10 %?), largest "
                          f"{top.param_a}×{top.param_b} {top['mean']:.1%}")


def _ranges(trials: pd.DataFrame, tasks: list[TaskAnalysis]) -> tuple[str, str]:
    from .stats import top_trials

    parts, verdicts = [], []
    for t in tasks:
        tg = trials[trials["task"] == t.task]
        top = pd.concat([top_trials(g, 0.1) for _, g in tg.groupby("variant")])
        if top.empty:
            parts.append(f"{t.task}: no completed trials")
            verdicts.append(None)
            continue
        lo, hi = top["test_metric"].min(), top["test_metric"].max()
        paper = PAPER_RANGES.get(t.dataset)
        parts.append(f"{t.task} ({t.source}): best-10 % {lo:.3g}–{hi:.3g}"
                     + (f" vs paper {paper[0]:g}–{paper[1]:g}" if paper else ""))
        if t.source != "real" or paper is None:
            verdicts.append(None)
        else:
            verdicts.append(bool(lo <= paper[1] and hi >= paper[0]))
    evidence = "; ".join(parts) + ". Times depend on hardware and are not compared."
    if any(v is False for v in verdicts):
        return NOT_REPRODUCED, evidence
    if not verdicts or any(v is None for v in verdicts):
        return NOT_TESTABLE, evidence + " Only real-corpus tasks are comparable."
    return REPRODUCED, evidence


def findings_table(trials: pd.DataFrame, comparison: pd.DataFrame,
                   tasks: list[TaskAnalysis]) -> pd.DataFrame:
    """One row per finding of PAPER.md §7: number, finding, verdict, evidence."""
    rows = [
        ("No variant is significantly better than vanilla on any dataset.",
         _variant_finding(comparison, tasks, sorted(set(comparison["variant"])),
                          lambda d, v: v != "better")),
        ("NFG and NOAF are significantly worse on all three datasets.",
         _variant_finding(comparison, tasks, ["NFG", "NOAF"], lambda d, v: v == "worse",
                          needs_all_datasets=True)),
        ("NIG, NOG and NIAF are significantly worse on TIMIT and IAM, not on JSB.",
         _variant_finding(comparison, tasks, ["NIG", "NOG", "NIAF"],
                          lambda d, v: (v == "worse") == (d in ("TIMIT", "IAM")),
                          needs_all_datasets=True)),
        ("CIFG and NP do not change performance significantly.",
         _variant_finding(comparison, tasks, ["CIFG", "NP"], lambda d, v: v == "n.s.")),
        ("FGR brings no gain despite more parameters (worse on JSB).",
         _variant_finding(comparison, tasks, ["FGR"], lambda d, v: v != "better")),
        (("The learning rate is by far the most important hyperparameter, with a wide basin "
         "whose position depends on the dataset, not on the hidden size."),
         _hp_finding(tasks, _lr, schema.LEARNING_RATE)),
        ("Larger hidden size is better with diminishing returns; training time grows with it.",
         _hp_finding(tasks, _hidden, schema.HIDDEN_SIZE)),
        ("Momentum explains almost no variance (< 1 %) in performance or training time.",
         _hp_finding(tasks, _momentum, schema.ONE_MINUS_MOMENTUM)),
        ("Input noise hurts and slows training.", _hp_finding(tasks, _noise, schema.INPUT_NOISE)),
        ("Interactions between hyperparameters are small.", _hp_finding(tasks, _interactions)),
        ("Best-10 % ranges: TIMIT ≈ 27–35 %, IAM ≈ 10–30 % CER, JSB ≈ 8.4–8.8 NLL.",
         _ranges(trials, tasks)),
    ]
    return pd.DataFrame([{"#": i + 1, "finding": f, "verdict": v, "evidence": e}
                         for i, (f, (v, e)) in enumerate(rows)])
