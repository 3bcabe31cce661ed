"""Replay a stopping rule on a finished study: what it would have saved and what it would
have changed, without running anything.

A stopping rule looks only at a run's validation metrics so far (as early stopping does), so
its effect on a finished run can be read off the run's history: the run stops at the rule's
epoch s, its validation outcome becomes the best validation metric of the epochs ≤ s (clipped
at the baseline, the rules of :mod:`.outcomes`), and the CPU time of its epochs after s is
saved, in proportion to their recorded wall time,

    saved = cpu_time_s · Σ_{e > s} time_s(e) / Σ_e time_s(e).

Only the validation metric is known per epoch (the test set is scored at the best epoch), so,
as the cap check of :mod:`.cap` does, the replay compares the paper's rule on validation
outcomes: for each task and variant, which configurations are in the best ``fraction`` by
validation before and after, and Welch's verdict against the reference on those outcomes
before and after.

Rules are a table (:data:`RULES`): a new rule is a frozen dataclass with ``stop_epoch`` and
``describe``, registered by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from ..errors import UserError
from .cap import best_until
from .outcomes import VALID, counted, scored
from .stats import REFERENCE, n_top, welch_verdict

REPLAYED = "outcome_valid_replayed"   # the column :func:`replayed` adds
STOPPED = "stopped_at"                # the epoch a rule stopped the run at (NaN: not stopped)
SAVED = "cpu_saved_s"                 # the CPU seconds it would have saved


class ReplayError(UserError, ValueError):
    """A rule that is unknown or has a bad setting."""


class StopRule(Protocol):
    """A stopping rule: the epoch at which it stops a run (None: it does not)."""

    def stop_epoch(self, history: list[dict], baseline: float) -> int | None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class BaselineGate:
    """Stop a run after ``epochs`` epochs when none of them beat the trivial baseline (its
    validation metric never went below the baseline's)."""

    epochs: int

    def stop_epoch(self, history: list[dict], baseline: float) -> int | None:
        if len(history) <= self.epochs or not math.isfinite(baseline):
            return None
        best = best_until(history, self.epochs)
        return self.epochs if not best < baseline else None

    def describe(self) -> str:
        return f"stop a run that has not beaten the trivial baseline after {self.epochs} epochs"


@dataclass(frozen=True)
class EpochCap:
    """Stop every run after ``epochs`` epochs (a lower epoch cap)."""

    epochs: int

    def stop_epoch(self, history: list[dict], baseline: float) -> int | None:
        return self.epochs if len(history) > self.epochs else None

    def describe(self) -> str:
        return f"stop every run after {self.epochs} epochs"


RULES: dict[str, type] = {"baseline-gate": BaselineGate, "cap": EpochCap}


def make_rule(name: str, epochs: int) -> StopRule:
    """The rule ``name`` of :data:`RULES` with its epoch setting; a one-line error otherwise."""
    if name not in RULES:
        raise ReplayError(f"unknown rule {name!r}; use one of {', '.join(RULES)}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ReplayError(f"--epochs {epochs!r} must be a positive number of epochs")
    return RULES[name](epochs)


def replayed(trials: pd.DataFrame, rule: StopRule) -> pd.DataFrame:
    """The counted trials with :data:`REPLAYED`, :data:`STOPPED` and :data:`SAVED` added (see
    the module docstring); a run the rule does not stop keeps its outcome and saves nothing."""
    df = counted(scored(trials)).copy()
    valid, stopped, saved = df[VALID].copy(), pd.Series(math.nan, index=df.index), \
        pd.Series(0.0, index=df.index)
    for i, row in df.iterrows():
        history = row.get("history")
        if not isinstance(history, list) or not history:
            continue
        s = rule.stop_epoch(history, float(row["baseline"]))
        if s is None:
            continue
        stopped[i] = s
        if row["best_epoch"] > s:
            valid[i] = min(best_until(history, s), row["baseline"])
        times = [e.get("time_s") or 0.0 for e in history]
        total = sum(times)
        cpu = row.get("cpu_time_s")
        if total > 0 and cpu is not None and math.isfinite(cpu):
            saved[i] = cpu * sum(t for e, t in zip(history, times) if e["epoch"] > s) / total
    df[REPLAYED], df[STOPPED], df[SAVED] = valid, stopped, saved
    return df


@dataclass(frozen=True)
class Replay:
    """What a rule would have done: per task (``tasks``: trials, stopped, CPU saved, its share,
    best-fraction members changed) and per (task, variant ≠ reference) (``verdicts``: Welch on
    the best fraction by validation outcome before and after, and whether it changed)."""

    rule: str
    tasks: pd.DataFrame
    verdicts: pd.DataFrame


def _best_ids(g: pd.DataFrame, column: str, fraction: float) -> set:
    return set(g.nsmallest(n_top(len(g), fraction), column)["config_id"])


def replay(trials: pd.DataFrame, rule: StopRule, tasks: list[str] | None = None,
           fraction: float = 0.1, alpha: float = 0.05, reference: str = REFERENCE) -> Replay:
    """Replay ``rule`` on the ``tasks`` (all when None) of a study's trials."""
    df = replayed(trials if tasks is None else trials[trials["task"].isin(tasks)], rule)
    task_rows, verdict_rows = [], []
    for task, tg in df.groupby("task", sort=False):
        changed = sum(len(_best_ids(g, VALID, fraction) ^ _best_ids(g, REPLAYED, fraction)) // 2
                      for _, g in tg.groupby("variant", sort=False))
        cpu = pd.to_numeric(tg["cpu_time_s"], errors="coerce").sum()
        task_rows.append({"task": task, "trials": len(tg),
                          "stopped": int(tg[STOPPED].notna().sum()), "cpu_h": cpu / 3600,
                          "saved_cpu_h": tg[SAVED].sum() / 3600,
                          "saved_share": tg[SAVED].sum() / cpu if cpu > 0 else math.nan,
                          "best_members_changed": changed})
        ref = tg[tg["variant"] == reference]
        if ref.empty:
            continue
        for variant, g in tg.groupby("variant", sort=False):
            if variant == reference:
                continue
            row = {"task": task, "variant": variant}
            for column, suffix in ((VALID, ""), (REPLAYED, "_replayed")):
                a = g.nsmallest(n_top(len(g), fraction), column)[column].to_numpy()
                b = ref.nsmallest(n_top(len(ref), fraction), column)[column].to_numpy()
                _, p, v = welch_verdict(a, b, alpha)
                row.update({f"diff{suffix}": float(a.mean() - b.mean()), f"p{suffix}": p,
                            f"verdict{suffix}": v})
            row["changed"] = row["verdict"] != row["verdict_replayed"]
            verdict_rows.append(row)
    return Replay(rule.describe(), pd.DataFrame(task_rows), pd.DataFrame(verdict_rows))


def replay_text(r: Replay) -> str:
    """The replay in words and two tables (for the command line)."""
    lines = [f"rule: {r.rule}"]
    for t in r.tasks.itertuples():
        lines.append(f"{t.task}: {t.stopped} of {t.trials} trials stopped, "
                     f"{t.saved_cpu_h:.2f} of {t.cpu_h:.2f} core-hours saved "
                     f"({100 * t.saved_share:.1f} %), {t.best_members_changed} best-fraction "
                     "member(s) changed")
    changed = r.verdicts[r.verdicts["changed"]] if not r.verdicts.empty else r.verdicts
    lines.append(f"verdicts changed: {len(changed)} of {len(r.verdicts)}"
                 + "".join(f"; {c.task} {c.variant}: {c.verdict} → {c.verdict_replayed}"
                           for c in changed.itertuples()))
    return "\n".join(lines)
