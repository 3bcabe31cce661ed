"""The variants of each task ranked by their best-10 % mean, beside what the paper found and
what the public reproduction on Penn Treebank found.

* **Our rank**: the order of the best-10 % mean test metric (lower is better; equal means share
  a rank; a variant without an outcome is not ranked). A rank is no finding by itself: the
  Welch verdict beside it (with the power rule, :mod:`.stats`) says whether the difference to
  vanilla is significant.
* **The paper**: what it found for the variant on the dataset the task stands for
  (:func:`.claims.paper_expectation`, docs/paper.md §Findings 2–5).
* **The PTB reproduction** ordered ``NP ≈ V ≈ CIFG ≫ NFG, NOAF, NOG``. On one task that order
  *holds in rank* when each of NP, V and CIFG ranks ahead of each of NFG, NOAF and NOG, and
  *holds in the tests* when NP and CIFG are not significantly different from vanilla and NFG,
  NOAF and NOG are significantly worse (an n.s. without power is neither: it is reported
  underpowered).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .claims import paper_expectation
from .figures import variant_order
from .findings import TaskAnalysis
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
    paper_order = {v: i for i, v in enumerate(variant_order(df["variant"]))}
    df["order"] = df["variant"].map(paper_order)  # equal means: the paper's order
    df = df.sort_values(["mean_top", "order"], na_position="last").drop(columns="order")
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
    expected = {**{v: Verdict.NS for v in PTB_TOP if v != REFERENCE},
                **{v: Verdict.WORSE for v in PTB_BOTTOM}}
    off = [f"{v}: {by.loc[v, 'verdict']}" for v, want in expected.items()
           if by.loc[v, "verdict"] != str(want)]
    checked = len(expected)
    tests = (f"holds in the tests ({checked} of {checked})" if not off else
             f"in the tests {checked - len(off)} of {checked} as the order says ("
             + "; ".join(off) + ")")
    return f"{rank_text}; {tests}"


def paper_says(variant: str, dataset: str) -> str:
    """What the paper found for ``variant`` on ``dataset``, in words ("–" where it has no
    finding: combinations, or a task that stands for none of its datasets)."""
    if variant == REFERENCE:
        return "reference"
    expect = paper_expectation(variant, dataset)
    return "–" if expect is None or dataset == "?" else expect.value
