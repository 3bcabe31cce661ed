"""The variants of each task ranked by their best-10 % mean, beside what the paper found and
what the public reproduction on Penn Treebank found (the two comparisons issue 15 asks for).

* **Our rank**: the order of the best-10 % mean test metric (lower is better; equal means share
  a rank; a variant without an outcome is not ranked). A rank is no finding by itself: the
  Welch verdict beside it (with the power rule, :mod:`.stats`) says whether the difference to
  vanilla is significant.
* **The paper**: what it found for the variant on the dataset the task stands for
  (:func:`.findings.paper_expectation`, PAPER.md §7 findings 2–5).
* **The PTB reproduction** ordered ``NP ≈ V ≈ CIFG ≫ NFG, NOAF, NOG``. On one task that order
  *holds in rank* when each of NP, V and CIFG ranks ahead of each of NFG, NOAF and NOG, and
  *holds in the tests* when NP and CIFG are not significantly different from vanilla and NFG,
  NOAF and NOG are significantly worse (an n.s. without power is neither: it is reported
  underpowered).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .figures import variant_order
from .findings import TaskAnalysis, paper_expectation
from .stats import REFERENCE, Verdict, verdict_text

PTB_TOP = ("NP", "V", "CIFG")
PTB_BOTTOM = ("NFG", "NOAF", "NOG")
PTB_ORDER = "NP ≈ V ≈ CIFG ≫ NFG, NOAF, NOG"


def ranking(comparison: pd.DataFrame, task: str) -> pd.DataFrame:
    """One task's variants (vanilla included) best first: variant, rank, mean_top, n_top, diff
    (variant − vanilla), verdict (a :func:`.stats.verdict_text`; vanilla's is "reference")."""
    c = comparison[comparison["task"] == task]
    if c.empty:
        return pd.DataFrame(columns=["variant", "rank", "mean_top", "n_top", "diff", "verdict"])
    ref = c.iloc[0]
    rows = [{"variant": REFERENCE, "mean_top": ref["mean_top_ref"], "n_top": ref["n_top_ref"],
             "diff": 0.0, "verdict": "reference"}]
    rows += [{"variant": r["variant"], "mean_top": r["mean_top"], "n_top": r["n_top"],
              "diff": r["diff"], "verdict": verdict_text(r)} for _, r in c.iterrows()]
    df = pd.DataFrame(rows)
    order = {v: i for i, v in enumerate(variant_order(df["variant"]))}
    df = df.sort_values(["mean_top", "variant"], key=lambda s: s.map(order)
                        if s.name == "variant" else s, na_position="last")
    df.insert(1, "rank", df["mean_top"].rank(method="min").astype("Int64"))
    return df.reset_index(drop=True)


def ptb_group(variant: str) -> str:
    """The variant's place in the PTB reproduction's order."""
    if variant in PTB_TOP:
        return "ahead (≈ V)"
    if variant in PTB_BOTTOM:
        return "behind (≫)"
    return "–"


def ptb_check(ranked: pd.DataFrame, task: TaskAnalysis) -> str:
    """One line: does the PTB reproduction's order hold on this task, in rank and in the
    tests (module docstring)?"""
    if task.learn.learned is not True:
        return f"not testable: {task.learn.reason}"
    by = ranked.set_index("variant")
    missing = [v for v in (*PTB_TOP, *PTB_BOTTOM)
               if v not in by.index or not np.isfinite(by.loc[v, "mean_top"])]
    if missing:
        return f"not testable: no best-10 % mean for {', '.join(missing)}"
    rank = by["rank"].astype(int)
    worst_top = max(PTB_TOP, key=lambda v: rank[v])
    best_bottom = min(PTB_BOTTOM, key=lambda v: rank[v])
    in_rank = rank[worst_top] < rank[best_bottom]
    ranks = ", ".join(f"{v} {rank[v]}" for v in (*PTB_TOP, *PTB_BOTTOM))
    rank_text = (f"holds in rank ({ranks})" if in_rank else
                 f"not in rank: {best_bottom} (rank {rank[best_bottom]}) is not behind "
                 f"{worst_top} (rank {rank[worst_top]}) ({ranks})")
    same = [v for v in PTB_TOP if v != REFERENCE]
    same_ok = [v for v in same if by.loc[v, "verdict"] == str(Verdict.NS)]
    worse_ok = [v for v in PTB_BOTTOM if by.loc[v, "verdict"] == str(Verdict.WORSE)]
    off = [f"{v}: {by.loc[v, 'verdict']}" for v in (*same, *PTB_BOTTOM)
           if v not in same_ok and v not in worse_ok]
    checked = len(same) + len(PTB_BOTTOM)
    tests = (f"holds in the tests ({checked} of {checked})" if not off else
             f"in the tests {checked - len(off)} of {checked} as the order says ("
             + "; ".join(off) + ")")
    return f"{rank_text}; {tests}"


def ranking_view(comparison: pd.DataFrame, task: TaskAnalysis, pct: int) -> pd.DataFrame:
    """The ranking of one task for people, with the paper's and the PTB reproduction's view of
    each variant."""
    r = ranking(comparison, task.task)

    def paper(variant: str) -> str:
        if variant == REFERENCE:
            return "reference"
        expect = paper_expectation(variant, task.dataset)
        return "–" if expect is None or task.dataset == "?" else expect.value

    return pd.DataFrame({
        "rank": [str(x) if x is not pd.NA else "–" for x in r["rank"]],
        "variant": r["variant"],
        f"best-{pct} % mean (n)": [f"{m:.4g} ({n})" if math.isfinite(m) else f"– ({n})"
                                  for m, n in zip(r["mean_top"], r["n_top"])],
        "Δ vs vanilla": r["diff"], "our verdict": r["verdict"],
        f"paper ({task.dataset})": [paper(v) for v in r["variant"]],
        "PTB reproduction": [ptb_group(v) for v in r["variant"]],
    })
