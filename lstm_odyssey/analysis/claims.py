"""The paper's claims (docs/paper.md §Findings), every one in this table as data: its number,
its text, how it is checked and what the paper found per dataset.

* :class:`VariantClaim` — a variant against vanilla. ``expect`` is what the paper found, per
  dataset (:class:`Expectation`: a default and the datasets that differ), ``variants`` the
  variants it speaks of (None: every variant the study ran). The paper's column judges each
  (task, variant) cell by the Welch rule (:mod:`.findings`); the decisive column by the paired
  tests of :mod:`.decisive` with the test that fits the claim's form (:data:`PAIRED_RULES`):
  "worse" by the two-sided paired t-test, "no significant difference" by TOST equivalence,
  "not better" (one-sided) by non-superiority against the margin and "not worse" by
  non-inferiority.
* :class:`ForestClaim` — a statement about vanilla's hyperparameters, checked on its fANOVA
  forests (:mod:`.findings`); ``ranked`` (the decisive column) reads the training-time half
  from the rank correlations (:mod:`.ranks`) or the forest on log CPU time instead of the
  forest on raw CPU seconds.
* :class:`RangeClaim` — the best-10 % ranges of the paper's corpora.

:func:`paper_expectation` answers "what did the paper find for this variant on this dataset"
from the same table (:mod:`.ranking` shows it beside each rank).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from ..sweep import schema
from .findings import (
    Decision,
    Expect,
    FindingVerdict,
    TaskAnalysis,
    _hidden,
    _hp_finding,
    _interactions,
    _lr,
    _momentum,
    _noise,
    _ranges,
    _variant_finding,
)

Judgement = tuple[FindingVerdict, str, str]   # verdict, one-line reason, evidence


@dataclass(frozen=True)
class Expectation:
    """What the paper found for a variant against vanilla: ``default`` on every dataset but
    those in ``on``."""

    default: Expect
    on: Mapping[str, Expect] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "on", MappingProxyType(dict(self.on)))

    def at(self, dataset: str) -> Expect:
        return self.on.get(dataset, self.default)


@dataclass(frozen=True)
class Context:
    """What the claims are checked on: the scored trials of the searches, the Welch table of
    :func:`.stats.compare_variants` (or a variant of it, e.g. Holm-corrected), the tasks that
    stand for a paper dataset."""

    trials: pd.DataFrame
    comparison: pd.DataFrame
    tasks: Sequence[TaskAnalysis]

    @property
    def variants(self) -> list[str]:
        return sorted(set(self.comparison["variant"]))


@dataclass(frozen=True)
class VariantClaim:
    number: int
    text: str
    expect: Expectation
    variants: tuple[str, ...] | None = None   # None: every variant of the study

    def of(self, ctx: Context) -> list[str]:
        return list(self.variants) if self.variants is not None else ctx.variants

    def judge(self, ctx: Context) -> Judgement:
        return _variant_finding(ctx.comparison, list(ctx.tasks), self.of(ctx),
                                lambda v, d: self.expect.at(d))


@dataclass(frozen=True)
class ForestClaim:
    number: int
    text: str
    check: Callable[[TaskAnalysis], tuple[Decision, str]]
    params: tuple[str, ...]
    needs_time: bool

    def judge(self, ctx: Context) -> Judgement:
        return _hp_finding(list(ctx.tasks), self.check, self.params, self.needs_time)


@dataclass(frozen=True)
class RangeClaim:
    number: int
    text: str

    def judge(self, ctx: Context) -> Judgement:
        return _ranges(ctx.trials, list(ctx.tasks))


Claim = VariantClaim | ForestClaim | RangeClaim
W, S, NB, NW = Expect.WORSE, Expect.SAME, Expect.NOT_BETTER, Expect.NOT_WORSE
HP = schema

CLAIMS: tuple[Claim, ...] = (
    VariantClaim(1, "No variant is significantly better than vanilla on any dataset.",
                 Expectation(NB)),
    VariantClaim(2, "NFG and NOAF are significantly worse on all three datasets.",
                 Expectation(W), ("NFG", "NOAF")),
    VariantClaim(3, "NIG, NOG and NIAF are significantly worse on TIMIT and IAM, not on JSB.",
                 Expectation(W, {"JSB": NW}), ("NIG", "NOG", "NIAF")),
    VariantClaim(4, "CIFG and NP do not change performance significantly.",
                 Expectation(S), ("CIFG", "NP")),
    VariantClaim(5, "FGR brings no gain despite more parameters (worse on JSB).",
                 Expectation(NB, {"JSB": W}), ("FGR",)),
    ForestClaim(6, "The learning rate is by far the most important hyperparameter, with a wide "
                   "basin that does not move with the hidden size.",
                _lr, (HP.LEARNING_RATE, HP.HIDDEN_SIZE), needs_time=False),
    ForestClaim(7, "Larger hidden size is better with diminishing returns; training time grows "
                   "with it.", _hidden, (HP.HIDDEN_SIZE,), needs_time=True),
    ForestClaim(8, "Momentum explains almost no variance (< 1 %) in performance or training "
                   "time.", _momentum, (HP.ONE_MINUS_MOMENTUM,), needs_time=True),
    ForestClaim(9, "Input noise hurts (possibly a small gain on TIMIT) and slows training.",
                _noise, (HP.INPUT_NOISE,), needs_time=True),
    ForestClaim(10, "Interactions between hyperparameters are small.", _interactions, (),
                needs_time=False),
    RangeClaim(11, "Best-10 % ranges: TIMIT ≈ 27–35 %, IAM ≈ 10–30 % CER, JSB ≈ 8.4–8.8 NLL."),
)
FINDINGS = tuple(c.text for c in CLAIMS)


def paper_expectation(variant: str, dataset: str) -> Expect | None:
    """What the paper found for ``variant`` against vanilla on ``dataset``: the first claim of
    :data:`CLAIMS` that names the variant; None for vanilla and for variants no claim names
    (combinations; claim 1, "not better", speaks of every variant)."""
    claim = next((c for c in CLAIMS if isinstance(c, VariantClaim) and c.variants
                  and variant in c.variants), None)
    return None if claim is None else claim.expect.at(dataset)


def claims_of(kind: type) -> list[Claim]:
    return [c for c in CLAIMS if isinstance(c, kind)]


def findings_table(trials: pd.DataFrame, comparison: pd.DataFrame,
                   tasks: list[TaskAnalysis]) -> pd.DataFrame:
    """One row per claim of :data:`CLAIMS` by the paper's rules: number, finding, verdict,
    reason, evidence. Only tasks that stand for one of the paper's datasets enter (a task of
    the user's that stands for none is reported, not compared with the paper)."""
    ctx = Context(trials, comparison, [t for t in tasks if t.dataset != "?"])
    rows = [(c, c.judge(ctx)) for c in CLAIMS]
    return pd.DataFrame([{"#": c.number, "finding": c.text, "verdict": v, "reason": r,
                          "evidence": e} for c, (v, r, e) in rows])
