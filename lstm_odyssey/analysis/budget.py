"""Budget curves: the expected test metric of the configuration a search of k random trials
would pick by validation (Dodge et al. 2019, "Show your work").

A variant's n configurations have validation outcomes v_i and test outcomes t_i (:mod:`.outcomes`;
seed means when a configuration has replicates). Draw k of them uniformly with replacement and
keep the one with the best (lowest) validation; its test outcome T_k has, with the
configurations sorted by validation v_(1) ≤ … ≤ v_(n),

    E[T_k] = Σ_i t_(i) · [ ((n − i + 1)/n)^k − ((n − i)/n)^k ]

since the bracket is P(the best validation drawn has rank i) = P(all k ranks ≥ i) −
P(all k ranks > i). Configurations tied in validation share their group's probability
((n − a + 1)/n)^k − ((n − b)/n)^k (ranks a … b) evenly — a tie is broken at random. This is the
exact expectation over the observed configurations, not a simulation; k = 1 gives the plain
mean and E[T_k] approaches the test outcome of the best validation as k grows.

**Bands**: the curve of each bootstrap resample of the configurations (n drawn with
replacement, ``numpy.random.default_rng(seed)``), pointwise percentile interval at ``level``.
**Separation**: the smallest k at which a variant's band and the reference's are disjoint (the
budget from which the two searches' expected results differ beyond the resampling spread), or
None when they never are for k ≤ the smaller n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .paired import TEST, VALID, seed_means


def _expected_sorted(valid: np.ndarray, test: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """E[T_k] for each k, for rows (last axis) already sorted by validation; ties by group.
    Shapes: valid, test (..., n); result (..., len(ks))."""
    n = valid.shape[-1]
    pos = np.broadcast_to(np.arange(n), valid.shape)
    new = np.concatenate([np.ones(valid.shape[:-1] + (1,), bool),
                          valid[..., 1:] != valid[..., :-1]], axis=-1)
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)           # a − 1 (0-based)
    last = np.concatenate([new[..., 1:], np.ones(valid.shape[:-1] + (1,), bool)], axis=-1)
    end = n - 1 - np.maximum.accumulate(np.where(last, n - 1 - pos, 0)[..., ::-1],
                                        axis=-1)[..., ::-1]                 # b − 1 (0-based)
    size = end - start + 1
    out = np.empty(valid.shape[:-1] + (len(ks),))
    for j, k in enumerate(ks):
        weight = (((n - start) / n) ** k - ((n - end - 1) / n) ** k) / size
        out[..., j] = (weight * test).sum(axis=-1)
    return out


def expected_best(valid: np.ndarray, test: np.ndarray, ks: np.ndarray | None = None
                  ) -> np.ndarray:
    """E[T_k] of the module docstring for k in ``ks`` (default 1 … n)."""
    valid, test = np.asarray(valid, float), np.asarray(test, float)
    if valid.shape != test.shape or valid.ndim != 1 or not len(valid):
        raise ValueError("expected_best needs two equally long, non-empty 1-d arrays")
    ks = np.arange(1, len(valid) + 1) if ks is None else np.asarray(ks)
    order = np.lexsort((test, valid))
    return _expected_sorted(valid[order], test[order], ks)


@dataclass(frozen=True, eq=False)
class BudgetCurve:
    """One variant's budget curve with its bootstrap band."""

    variant: str
    k: np.ndarray
    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float

    @property
    def n(self) -> int:
        return len(self.k)


def budget_curve(valid: np.ndarray, test: np.ndarray, variant: str = "",
                 n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> BudgetCurve:
    """The curve for k = 1 … n and its pointwise percentile band from ``n_resamples``
    bootstrap resamples of the configurations."""
    valid, test = np.asarray(valid, float), np.asarray(test, float)
    ks = np.arange(1, len(valid) + 1)
    expected = expected_best(valid, test, ks)
    idx = np.random.default_rng(seed).integers(0, len(valid), (n_resamples, len(valid)))
    v, t = valid[idx], test[idx]
    order = np.lexsort((t, v), axis=-1)
    v, t = np.take_along_axis(v, order, -1), np.take_along_axis(t, order, -1)
    curves = _expected_sorted(v, t, ks)
    tail = (1 - level) / 2
    low, high = np.quantile(curves, [tail, 1 - tail], axis=0)
    return BudgetCurve(variant, ks, expected, low, high, level)


def first_separation(curve: BudgetCurve, reference: BudgetCurve) -> int | None:
    """The smallest k whose bands are disjoint, or None."""
    m = min(curve.n, reference.n)
    apart = (curve.low[:m] > reference.high[:m]) | (curve.high[:m] < reference.low[:m])
    hit = np.flatnonzero(apart)
    return int(curve.k[hit[0]]) if len(hit) else None


def budget_curves(trials: pd.DataFrame, n_resamples: int = 1000, seed: int = 0,
                  level: float = 0.95) -> dict[str, BudgetCurve]:
    """Per variant of one task's scored trials (config_id, variant, outcome_valid,
    outcome_test, optional replicate): the budget curve over its configurations with an
    outcome, seed means per configuration."""
    valid, test = seed_means(trials, VALID), seed_means(trials, TEST)
    out = {}
    for variant in pd.unique(trials["variant"]):
        both = pd.concat([valid[variant], test[variant]], axis=1, keys=["v", "t"]).dropna()
        if len(both):
            out[variant] = budget_curve(both["v"].to_numpy(), both["t"].to_numpy(), variant,
                                        n_resamples, seed, level)
    return out
