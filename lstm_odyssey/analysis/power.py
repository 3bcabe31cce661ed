"""What it would take to decide: per (task, variant) the paired verdict and the configurations
per variant needed for a decision at the pre-registered power, by the paired rule and by the
paper's Welch rule.

**Paired rule** (:mod:`.paired`): the per-configuration Δ on the configurations of the
pre-registered pairing; n for the t-test to find the observed mean Δ̄ (``paired_n_difference``),
for TOST to show equivalence within the margin if the true difference is Δ̄
(``paired_n_equivalence``; none when |Δ̄| ≥ margin) and if it is 0 (``paired_n_equivalence_0``,
the best case); ``paired_n_decide`` is the fewer of the first two (either decision will do);
each configuration is run in every variant, so n is also the configurations per variant.

**Welch rule** (the paper's: Welch's t on each arm's best ``fraction`` by validation): the two
best-fraction samples (n_top each), their difference and pooled SD s_w = √((s_v² + s_r²)/2);
the smallest difference it finds with the target power at the current n_top
(``welch_detectable``); and the configurations per variant ⌈n′ / fraction⌉ for the n′ per arm
that finding the observed difference, or showing equivalence (observed difference / 0), would
take; ``welch_configs_decide`` the fewer of the first two. This assumes the best fraction
keeps its SD as the search grows — a larger search's best 10 % is more selective and usually
tighter, so read these as rough.

All sample sizes use α/m for the task's family of m comparisons (Holm's first step) and the
target power of the :class:`.preregistration.Preregistration`.
"""

from __future__ import annotations

import math

import pandas as pd

from .outcomes import TEST, scored
from .paired import (
    compare_task,
    n_equivalence,
    welch_detectable_effect,
    welch_n_difference,
    welch_n_equivalence,
)
from .preregistration import Preregistration, TestKind
from .stats import holm, top_trials, welch_verdict


def _configs(n_per_arm: int | None, fraction: float) -> int | None:
    return None if n_per_arm is None else math.ceil(n_per_arm / fraction - 1e-9)


def _fewest(*ns: int | None) -> int | None:
    known = [n for n in ns if n is not None and not (isinstance(n, float) and math.isnan(n))]
    return min(known) if known else None


def _welch_rows(tg: pd.DataFrame, prereg: Preregistration, margin: float, m: int,
                variants: list[str]) -> list[dict]:
    ref = top_trials(tg[tg["variant"] == prereg.reference], prereg.fraction)[TEST].to_numpy()
    a, power, q = prereg.alpha / m, prereg.power, prereg.fraction
    rows = []
    for variant in variants:
        top = top_trials(tg[tg["variant"] == variant], prereg.fraction)[TEST].to_numpy()
        diff = float(top.mean() - ref.mean()) if len(top) and len(ref) else math.nan
        sd = (math.sqrt((top.var(ddof=1) + ref.var(ddof=1)) / 2)
              if len(top) > 1 and len(ref) > 1 else math.nan)
        _, p, _ = welch_verdict(top, ref, prereg.alpha)
        rows.append({
            "n_top": len(top), "n_top_ref": len(ref), "welch_diff": diff, "welch_sd": sd,
            "welch_p": p,
            "welch_detectable": welch_detectable_effect(min(len(top), len(ref)), sd, a, power),
            "welch_configs_difference": _configs(welch_n_difference(diff, sd, a, power), q),
            "welch_configs_equivalence": _configs(
                welch_n_equivalence(diff, sd, margin, a, power), q),
            "welch_configs_equivalence_0": _configs(
                welch_n_equivalence(0.0, sd, margin, a, power), q),
        })
    adjusted = holm([r["welch_p"] for r in rows])
    for r, ph in zip(rows, adjusted):
        r["welch_configs_decide"] = _fewest(r["welch_configs_difference"],
                                            r["welch_configs_equivalence"])
        r["welch_p_holm"] = float(ph)
        r["welch_verdict"] = ("n.s." if not ph < prereg.alpha
                              else "worse" if r["welch_diff"] > 0 else "better")
    return rows


def power_table(trials: pd.DataFrame, prereg: Preregistration) -> pd.DataFrame:
    """One row per (task, variant ≠ reference) of a study's trials (scored by
    :func:`.outcomes.score` when not yet): the paired and Welch columns of the module
    docstring. Tasks without the reference variant are skipped; a task without a margin in
    ``prereg`` is a one-line error."""
    trials = scored(trials)
    rows = []
    for task, tg in trials.groupby("task", sort=False):
        if prereg.reference not in set(tg["variant"]):
            continue
        margin = prereg.margin(task)
        eq = TestKind.EQUIVALENCE in prereg.tests
        decisions = compare_task(tg, task, margin, prereg.reference, prereg.alpha, prereg.power,
                                 prereg.pairing, prereg.fraction,
                                 difference=TestKind.PAIRED in prereg.tests, equivalence=eq)
        variants = [d.test.variant for d in decisions]
        m = max(1, len(variants))
        welch = _welch_rows(tg, prereg, margin, m, variants)
        for d, w in zip(decisions, welch):
            t = d.test
            rows.append({
                "task": task, "variant": t.variant, "margin": margin, "n_paired": t.n,
                "mean_delta": t.mean, "sd_delta": t.sd, "paired_p_holm": d.p_difference_holm,
                "tost_p_holm": d.p_equivalence_holm,
                "paired_verdict": str(d.verdict), "paired_n_difference": d.n_difference,
                "paired_n_equivalence": d.n_equivalence,
                "paired_n_decide": _fewest(d.n_difference, d.n_equivalence),
                "paired_n_equivalence_0": (n_equivalence(0.0, t.sd, margin, prereg.alpha / m,
                                                         prereg.power) if eq else None),
                **w,
            })
    return pd.DataFrame(rows)
