"""Does the protocol's epoch cap decide a verdict? The verdicts replayed under a lower cap.

A run stops at ``max_epochs`` even when it is still improving, so a variant that learns more
slowly than vanilla can be scored worse for its speed, not for where it would end. Raising the
cap would mean running the study again; lowering it can be replayed exactly from the trials'
histories: early stopping depends only on the validation metrics seen so far, so a run under
the cap C' = ⌊cut · max_epochs⌋ is the recorded run up to epoch C', and its outcome is the best
validation metric of its epochs ≤ C' (the recorded one when the best epoch came before C').

Only the validation metric is known per epoch (the test set is scored once, at the best
epoch), so the replay compares validation outcomes: for each task and variant v ≠ vanilla r,
Welch's test on the best ⌈q·n⌉ validation outcomes (the rules of :mod:`.outcomes`: diverged
runs count, clipped at the baseline) at the cap C and at C'. A verdict that changes between C'
and C depends on where the cap sits; one that holds at both, with Δ moving little against the
gap, is not an artefact of the cap (learning curves flatten, so a cap raised by as much would
move Δ less). It says nothing about runs the cap cut off far from their plateau: those show as
a Δ that moves a lot between C' and C.
"""

from __future__ import annotations

import math

import pandas as pd

from .outcomes import VALID, counted, scored
from .stats import REFERENCE, n_top, welch_verdict

CUT = 0.8   # the lower cap, as a fraction of the protocol's max_epochs
EARLY = "outcome_valid_early"   # the column :func:`under_lower_cap` adds


def lower_cap(max_epochs: float, cut: float = CUT) -> int:
    """C' = ⌊cut · max_epochs⌋, at least one epoch."""
    return max(1, math.floor(cut * max_epochs))


def best_until(history: list[dict], epoch: int) -> float:
    """The best (lowest) validation metric of the epochs ≤ ``epoch``; NaN when none."""
    seen = [e["valid_metric"] for e in history
            if e["epoch"] <= epoch and e["valid_metric"] is not None
            and math.isfinite(e["valid_metric"])]
    return min(seen) if seen else math.nan


def under_lower_cap(trials: pd.DataFrame, cut: float = CUT) -> pd.DataFrame:
    """The counted trials with :data:`EARLY` added: the validation outcome each would have
    had under the cap ⌊cut · max_epochs⌋ (module docstring), clipped at the baseline like every
    outcome. A trial whose best epoch came before that cap keeps its outcome; so does one
    without a recorded history or cap (a run that diverged before its first validation keeps
    the baseline)."""
    df = counted(scored(trials)).copy()
    early = df[VALID].copy()
    for i, row in df.iterrows():
        cap, history, best_epoch = row.get("max_epochs"), row.get("history"), row["best_epoch"]
        if pd.isna(cap) or pd.isna(best_epoch) or not isinstance(history, list) or not history:
            continue
        c = lower_cap(cap, cut)
        if best_epoch > c:
            early[i] = min(best_until(history, c), row["baseline"])
    df[EARLY] = early
    return df


def _best(trials: pd.DataFrame, column: str, fraction: float) -> pd.DataFrame:
    """The best ⌈fraction·n⌉ of ``trials`` by ``column`` (lower is better)."""
    return trials.nsmallest(n_top(len(trials), fraction), column)


def cap_sensitivity(trials: pd.DataFrame, fraction: float = 0.1, cut: float = CUT,
                    alpha: float = 0.05, reference: str = REFERENCE) -> pd.DataFrame:
    """One row per (task, variant ≠ reference) of a task with a recorded cap: Welch on the
    best ``fraction`` by validation outcome at the protocol's cap and at ⌊cut · cap⌋.

    Columns: task, variant, max_epochs, lower_cap, n_top, n_top_ref, moved (how many of the
    variant's best trials at the cap had their best epoch after the lower cap), moved_ref
    (vanilla's), diff (Δ of the mean validation outcome at the cap), p (Welch's p-value there),
    verdict, diff_lower, p_lower, verdict_lower, changed (the two verdicts differ).
    """
    df = under_lower_cap(trials, cut)
    rows = []
    for task, tg in df.groupby("task", sort=False):
        caps = tg["max_epochs"].dropna() if "max_epochs" in tg else pd.Series(dtype=float)
        ref = tg[tg["variant"] == reference]
        if ref.empty or caps.empty:
            continue
        cap = int(caps.max())
        c = lower_cap(cap, cut)
        ref_top, ref_low = _best(ref, VALID, fraction), _best(ref, EARLY, fraction)
        for variant, g in tg.groupby("variant", sort=False):
            if variant == reference:
                continue
            top, low = _best(g, VALID, fraction), _best(g, EARLY, fraction)
            a, b = top[VALID].to_numpy(), ref_top[VALID].to_numpy()
            a_low, b_low = low[EARLY].to_numpy(), ref_low[EARLY].to_numpy()
            _, p, v = welch_verdict(a, b, alpha)
            _, p_low, v_low = welch_verdict(a_low, b_low, alpha)
            rows.append({
                "task": task, "variant": variant, "max_epochs": cap, "lower_cap": c,
                "n_top": len(a), "n_top_ref": len(b),
                "moved": int((top["best_epoch"] > c).sum()),
                "moved_ref": int((ref_top["best_epoch"] > c).sum()),
                "diff": float(a.mean() - b.mean()) if len(a) and len(b) else math.nan,
                "p": p, "verdict": v,
                "diff_lower": (float(a_low.mean() - b_low.mean()) if len(a_low) and len(b_low)
                               else math.nan),
                "p_lower": p_low, "verdict_lower": v_low, "changed": v != v_low,
            })
    return pd.DataFrame(rows, columns=[
        "task", "variant", "max_epochs", "lower_cap", "n_top", "n_top_ref", "moved",
        "moved_ref", "diff", "p", "verdict", "diff_lower", "p_lower", "verdict_lower",
        "changed"])
