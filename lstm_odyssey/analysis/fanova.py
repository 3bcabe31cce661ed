"""Functional ANOVA on a scikit-learn random forest (Hutter, Hoos & Leyton-Brown, ICML 2014).

Each tree t of the forest is a piecewise-constant function f_t on the search box Θ (log-scaled
hyperparameters are mapped to log10 first, so integrals are taken on the log scale the search
sampled from). With μ the uniform measure on Θ, the tree's marginal of a set U of
hyperparameters is

    a_U(x_U) = ∫ f_t(x_U, x_{−U}) dμ(x_{−U})
             = Σ_leaves v_ℓ · 1[x_U ∈ ℓ_U] · Π_{d∉U} |ℓ_d| / |Θ_d|,

which is exact and piecewise constant on the grid of the tree's split points. Its variance
decomposition is

    V = Var_μ f_t = Σ_ℓ vol_ℓ (v_ℓ − f̄)²,      f̄ = Σ_ℓ vol_ℓ v_ℓ,
    V_{j}  = Var_μ a_{j}(x_j),
    V_{jk} = Var_μ a_{jk}(x_j, x_k) − V_{j} − V_{k},

and the fraction of variance of U is V_U / V, computed per tree; we report mean ± std across
trees, and the unexplained rest 1 − Σ_j V_j/V − Σ_{j<k} V_{jk}/V (higher-order interactions).
Marginal curves and pairwise grids are a_U evaluated per tree (mean ± std across trees).
The forest's out-of-bag R² tells how much of the data it explains at all.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from ..errors import UserError
from .table import Dim


class FanovaError(UserError, ValueError):
    """Too little data to fit the forest."""


@dataclass
class _Tree:
    lo: np.ndarray        # (L, d) leaf lower bounds, transformed space
    hi: np.ndarray        # (L, d)
    v: np.ndarray         # (L,) leaf values
    w: np.ndarray         # (L, d) leaf widths as fractions of the box
    mean: float
    var: float


def _leaves(tree, lows: np.ndarray, highs: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    t = tree.tree_
    lo_out, hi_out, v_out = [], [], []
    stack = [(0, lows.copy(), highs.copy())]
    while stack:
        node, lo, hi = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == right:  # leaf
            lo_out.append(lo)
            hi_out.append(hi)
            v_out.append(t.value[node, 0, 0])
            continue
        f, thr = t.feature[node], t.threshold[node]
        lhi = hi.copy()
        lhi[f] = min(max(thr, lo[f]), hi[f])
        rlo = lo.copy()
        rlo[f] = max(min(thr, hi[f]), lo[f])
        stack.append((left, lo, lhi))
        stack.append((right, rlo, hi))
    return np.array(lo_out), np.array(hi_out), np.array(v_out, dtype=float)


class Fanova:
    """fANOVA of ``y`` over the hyperparameters ``space`` (columns of ``X``).

    ``X`` holds the raw hyperparameter values; dimensions with ``Dim.log`` are analysed in log10.
    The forest: ``n_trees`` trees, bootstrap samples, all features per split, seeded.
    """

    def __init__(self, X: pd.DataFrame, y: np.ndarray | pd.Series, space: dict[str, Dim],
                 n_trees: int = 100, seed: int = 0, min_samples_leaf: int = 1) -> None:
        self.params = list(space)
        self.space = space
        y = np.asarray(y, dtype=float)
        Z = self.transform(X)
        ok = np.isfinite(y) & np.all(np.isfinite(Z), axis=1)
        Z, y = Z[ok], y[ok]
        if len(y) < 4:
            raise FanovaError(
                f"fANOVA needs at least 4 completed trials, got {len(y)}; run more trials"
            )
        self.n_samples = len(y)
        self.bounds = np.array([self._tbounds(space[p]) for p in self.params], dtype=float)
        self.forest = RandomForestRegressor(
            n_estimators=n_trees, bootstrap=True, oob_score=True, random_state=seed,
            min_samples_leaf=min_samples_leaf, max_features=1.0, n_jobs=1,
        )
        with warnings.catch_warnings():  # few trees: some samples have no OOB prediction
            warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
            self.forest.fit(Z, y)
        self.oob_r2 = self._oob_r2(Z, y)
        lows, highs = self.bounds[:, 0], self.bounds[:, 1]
        self._trees: list[_Tree] = []
        for est in self.forest.estimators_:
            lo, hi, v = _leaves(est, lows, highs)
            w = (hi - lo) / (highs - lows)
            vol = np.prod(w, axis=1)
            mean = float(vol @ v)
            self._trees.append(_Tree(lo, hi, v, w, mean, float(vol @ (v - mean) ** 2)))
        self._edges = [self._tree_edges(t) for t in self._trees]
        self._main = np.array([[self._var_main(t, e, j) for j in range(len(self.params))]
                               for t, e in zip(self._trees, self._edges)])
        self._pairs = list(itertools.combinations(range(len(self.params)), 2))
        self._pair = np.array([[self._var_pair(t, e, j, k) - m[j] - m[k] for j, k in self._pairs]
                               for t, e, m in zip(self._trees, self._edges, self._main)])

    def _oob_r2(self, Z: np.ndarray, y: np.ndarray) -> float:
        """Out-of-bag R² = 1 − Σ(y − ŷ_oob)² / Σ(y − ȳ)² over the samples that some tree left
        out (scikit-learn scores a sample no tree left out as if predicted 0)."""
        in_bag = np.zeros((len(self.forest.estimators_), len(y)), dtype=bool)
        for i, idx in enumerate(self.forest.estimators_samples_):
            in_bag[i, idx] = True
        left_out = ~in_bag.all(axis=0)
        yy, pred = y[left_out], self.forest.oob_prediction_[left_out]
        total = float(np.sum((yy - yy.mean()) ** 2)) if len(yy) else 0.0
        return 1 - float(np.sum((yy - pred) ** 2)) / total if total > 0 else math.nan

    # -- transforms ---------------------------------------------------------------------------
    @staticmethod
    def _tbounds(dim: Dim) -> tuple[float, float]:
        return (math.log10(dim.low), math.log10(dim.high)) if dim.log else (dim.low, dim.high)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Raw hyperparameter values → the analysed space (log10 for log dimensions)."""
        cols = []
        for p in self.params:
            x = np.asarray(X[p], dtype=float)
            if self.space[p].log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = np.log10(x)
            cols.append(x)
        return np.column_stack(cols)

    def _untransform(self, j: int, z: np.ndarray) -> np.ndarray:
        return 10 ** z if self.space[self.params[j]].log else z

    # -- per-tree exact marginals -------------------------------------------------------------
    def _tree_edges(self, t: _Tree) -> list[np.ndarray]:
        return [np.unique(np.concatenate([t.lo[:, j], t.hi[:, j]])) for j in
                range(len(self.params))]

    def _cover(self, t: _Tree, edges: np.ndarray, j: int) -> np.ndarray:
        """(L, K) indicator: leaf ℓ spans grid cell k along dimension j."""
        return (t.lo[:, j, None] <= edges[None, :-1]) & (t.hi[:, j, None] >= edges[None, 1:])

    def _frac(self, edges: np.ndarray, j: int) -> np.ndarray:
        return np.diff(edges) / (self.bounds[j, 1] - self.bounds[j, 0])

    def _others(self, t: _Tree, dims: tuple[int, ...]) -> np.ndarray:
        keep = [d for d in range(len(self.params)) if d not in dims]
        return t.v * np.prod(t.w[:, keep], axis=1)

    def _marginal1(self, t: _Tree, edges: list[np.ndarray], j: int) -> np.ndarray:
        return self._others(t, (j,)) @ self._cover(t, edges[j], j)

    def _marginal2(self, t: _Tree, edges: list[np.ndarray], j: int, k: int) -> np.ndarray:
        cj, ck = self._cover(t, edges[j], j), self._cover(t, edges[k], k)
        return (cj * self._others(t, (j, k))[:, None]).T @ ck

    def _var_main(self, t: _Tree, edges: list[np.ndarray], j: int) -> float:
        a = self._marginal1(t, edges, j)
        return float(self._frac(edges[j], j) @ (a - t.mean) ** 2)

    def _var_pair(self, t: _Tree, edges: list[np.ndarray], j: int, k: int) -> float:
        a = self._marginal2(t, edges, j, k)
        weights = np.outer(self._frac(edges[j], j), self._frac(edges[k], k))
        return float(np.sum(weights * (a - t.mean) ** 2))

    # -- results ------------------------------------------------------------------------------
    def _fractions(self, v: np.ndarray) -> np.ndarray:
        total = np.array([t.var for t in self._trees])
        with np.errstate(divide="ignore", invalid="ignore"):
            f = v / total[:, None]
        f[total <= 0] = np.nan
        return f

    def tree_main_effects(self) -> pd.DataFrame:
        """Per tree (rows), the fraction of variance of each hyperparameter alone (columns);
        NaN for a constant tree. Each tree is fit on a bootstrap sample of the data, so the
        spread across trees is how much a fraction moves with the sample."""
        return pd.DataFrame(self._fractions(self._main), columns=self.params)

    def tree_pair_effects(self) -> pd.DataFrame:
        """Per tree (rows), the fraction of variance of each pair's interaction; columns
        (param_a, param_b)."""
        pairs = [(self.params[j], self.params[k]) for j, k in self._pairs]
        return pd.DataFrame(self._fractions(self._pair),
                            columns=pd.MultiIndex.from_tuples(pairs))

    def main_effects(self) -> pd.DataFrame:
        """Fraction of variance of each hyperparameter alone: columns param, mean, std (across
        trees)."""
        f = self.tree_main_effects()
        return pd.DataFrame({"param": self.params, "mean": f.mean().to_numpy(),
                             "std": f.std(ddof=0).to_numpy()})

    def pair_effects(self) -> pd.DataFrame:
        """Fraction of variance of each pair's interaction: columns param_a, param_b, mean, std."""
        f = self.tree_pair_effects()
        return pd.DataFrame({
            "param_a": [a for a, _ in f.columns], "param_b": [b for _, b in f.columns],
            "mean": f.mean().to_numpy(), "std": f.std(ddof=0).to_numpy(),
        })

    def unexplained(self) -> tuple[float, float]:
        """Mean ± std across trees of 1 − (all main and pair fractions): higher orders."""
        rest = 1 - np.nansum(self._fractions(self._main), axis=1) - np.nansum(
            self._fractions(self._pair), axis=1)
        return float(np.mean(rest)), float(np.std(rest))

    def _grid(self, j: int, n: int) -> np.ndarray:
        lo, hi = self.bounds[j]
        return np.linspace(lo, hi, n)

    def tree_marginals(self, param: str, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """The marginal prediction over ``param`` on ``n`` points (log-spaced for log
        dimensions), per tree: (x in raw units, array of shape (trees, n))."""
        j = self.params.index(param)
        z = self._grid(j, n)
        vals = []
        for t, e in zip(self._trees, self._edges):
            a = self._marginal1(t, e, j)
            idx = np.clip(np.searchsorted(e[j], z, side="right") - 1, 0, len(a) - 1)
            vals.append(a[idx])
        return self._untransform(j, z), np.array(vals)

    def marginal(self, param: str, n: int = 50) -> pd.DataFrame:
        """The marginal prediction over ``param`` on ``n`` points: columns x (raw units), mean,
        std across trees."""
        x, vals = self.tree_marginals(param, n)
        return pd.DataFrame({"x": x, "mean": vals.mean(0), "std": vals.std(0)})

    def marginal_pair(self, a: str, b: str, n: int = 30) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, np.ndarray]:
        """The joint marginal over (a, b) on an n×n grid: (x_a, x_b, mean, std), with mean and
        std of shape (n, n) indexed [i_a, i_b] (x in raw units)."""
        j, k = self.params.index(a), self.params.index(b)
        zj, zk = self._grid(j, n), self._grid(k, n)
        vals = []
        for t, e in zip(self._trees, self._edges):
            m = self._marginal2(t, e, j, k)
            ij = np.clip(np.searchsorted(e[j], zj, side="right") - 1, 0, m.shape[0] - 1)
            ik = np.clip(np.searchsorted(e[k], zk, side="right") - 1, 0, m.shape[1] - 1)
            vals.append(m[np.ix_(ij, ik)])
        vals = np.array(vals)
        return self._untransform(j, zj), self._untransform(k, zk), vals.mean(0), vals.std(0)
