"""Hyperparameter importance per (task, variant), as the paper ran it: fANOVA on distinct
configurations, a pooled forest with the variant as an input, and PED-ANOVA beside.

* **Distinct configurations.** The paired design runs every configuration once per variant (a
  re-queued configuration may run twice); a forest sees each configuration once, at the mean
  outcome of its trials, so its sample size and OOB R² are not inflated.
* **Per variant.** One forest per (task, variant) on that variant's outcomes
  (:mod:`.outcomes`: diverged runs included, clipped at the baseline). Vanilla's drives
  Figs. 4–6 and findings 6–10, as in the paper.
* **Pooled.** One forest per task over all variants with the variant as a categorical input:
  variant k of K is coded k + ½ on [0, K], so the uniform measure gives each variant weight
  1/K and the variant's main effect is the share of variance that the variant choice explains.
  Here a configuration is distinct per variant.
* **PED-ANOVA** (Watanabe et al., IJCAI 2023) through Optuna's
  :class:`optuna.importance.PedAnovaImportanceEvaluator`: how much each hyperparameter matters
  for reaching the best 10 % (``target_quantile=0.1``) of a variant's configurations.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd

from ..records import RESULTS
from ..sweep import schema
from .fanova import Fanova, FanovaError
from .outcomes import TEST, counted, scored
from .table import Dim

VARIANT = "variant"
MIN_CONFIGS = 6          # fewest distinct configurations a forest is fitted on
MIN_PED_CONFIGS = 10     # fewest for PED-ANOVA (its best 10 % must hold at least one)


def searched(space: dict[str, Dim]) -> dict[str, Dim]:
    """The searched hyperparameters of ``space`` (those with a range, in schema order)."""
    return {p: space[p] for p in schema.PARAMS if p in space and space[p].high > space[p].low}


def distinct_configs(trials: pd.DataFrame, target: str, space: dict[str, Dim],
                     by: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per distinct configuration (the values of ``space`` and ``by``) with the mean of
    ``target`` over its trials; rows without a finite ``target`` are dropped first."""
    rows = trials[np.isfinite(pd.to_numeric(trials[target], errors="coerce"))]
    keys = [*space, *by]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, target])
    return rows.groupby(keys, as_index=False, sort=False)[target].mean()


@dataclass
class Forest:
    """A fitted fANOVA and what it was fitted on."""

    fanova: Fanova
    n_configs: int

    @property
    def oob_r2(self) -> float:
        return self.fanova.oob_r2


def _fit(X: pd.DataFrame, y: pd.Series, space: dict[str, Dim], n_trees: int,
         seed: int) -> Forest | None:
    if len(y) < MIN_CONFIGS or not space:
        return None
    try:
        return Forest(Fanova(X, y, space, n_trees=n_trees, seed=seed), len(y))
    except FanovaError:
        return None


def metric_forest(trials: pd.DataFrame, space: dict[str, Dim], n_trees: int = 100,
                  seed: int = 0, sample=counted) -> Forest | None:
    """fANOVA of the test outcome of one variant's trials (``sample`` picks them)."""
    space = searched(space)
    configs = distinct_configs(sample(scored(trials)), TEST, space)
    return _fit(configs[list(space)], configs[TEST], space, n_trees, seed)


TRAINING_TIME = "training_time_s"


def training_time(trials: pd.DataFrame) -> pd.Series:
    """Each trial's training time: the CPU time of its training process (one thread per
    worker: the compute the configuration needs, however loaded the machine was — wall time on
    a shared machine grows with the load, up to 2× in the flagship study). Where no trial
    recorded a CPU time (older or fabricated storages), the wall time; where only some did, the
    others are NaN (left out), so that one forest never mixes the two."""
    wall = pd.to_numeric(trials["wall_time_s"], errors="coerce")
    cpu = pd.to_numeric(trials.get("cpu_time_s", pd.Series(np.nan, index=trials.index)),
                        errors="coerce")
    return cpu if cpu.notna().any() else wall


def time_forest(trials: pd.DataFrame, space: dict[str, Dim], n_trees: int = 100,
                seed: int = 0, log: bool = False) -> Forest | None:
    """fANOVA of the training time (:func:`training_time`) of one variant's results (runs
    that ended by the protocol or at the time budget: a diverged run's time is cut short);
    ``log``: of log(time) instead — a time is a product of per-epoch cost and epochs run, so
    its hyperparameters act multiplicatively, which a forest on the log sees as additive
    effects."""
    space = searched(space)
    results = trials[trials["status"].isin(RESULTS)]
    time = training_time(results)
    if log:
        time = np.log(time.where(time > 0))
    configs = distinct_configs(results.assign(**{TRAINING_TIME: time}), TRAINING_TIME, space)
    return _fit(configs[list(space)], configs[TRAINING_TIME], space, n_trees, seed)


def pooled_forest(trials: pd.DataFrame, space: dict[str, Dim], variants: list[str],
                  n_trees: int = 100, seed: int = 0) -> Forest | None:
    """fANOVA over all of a task's variants with the variant as a categorical input
    (module docstring); its main effect ``variant`` is the variant's share."""
    space = searched(space)
    configs = distinct_configs(counted(scored(trials)), TEST, space, by=(VARIANT,))
    if configs.empty:
        return None
    code = {v: i + 0.5 for i, v in enumerate(variants)}
    X = configs[list(space)].assign(**{VARIANT: configs[VARIANT].map(code)})
    return _fit(X, configs[TEST], {**space, VARIANT: Dim(0.0, float(len(variants)), False)},
                n_trees, seed)


def _distribution(dim: Dim) -> optuna.distributions.BaseDistribution:
    if dim.integer:
        return optuna.distributions.IntDistribution(int(dim.low), int(dim.high), log=dim.log)
    return optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)


def ped_anova(trials: pd.DataFrame, space: dict[str, Dim], fraction: float = 0.1,
              seed: int = 0) -> dict[str, float]:
    """PED-ANOVA importance (normalised to sum 1) of each searched hyperparameter for reaching
    the best ``fraction`` of one variant's distinct configurations; empty with fewer than
    :data:`MIN_PED_CONFIGS`."""
    space = searched(space)
    configs = distinct_configs(counted(scored(trials)), TEST, space)
    if len(configs) < MIN_PED_CONFIGS or not space:
        return {}
    dists = {p: _distribution(d) for p, d in space.items()}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line per call
    try:
        study = optuna.create_study(direction="minimize",
                                    sampler=optuna.samplers.RandomSampler(seed=seed))
    finally:
        optuna.logging.set_verbosity(verbosity)
    study.add_trials([
        optuna.trial.create_trial(
            params={p: (round(r[p]) if space[p].integer else float(r[p])) for p in space},
            distributions=dists, value=float(r[TEST]))
        for _, r in configs.iterrows()])
    evaluator = optuna.importance.PedAnovaImportanceEvaluator(target_quantile=fraction)
    with warnings.catch_warnings():  # PED-ANOVA warns about few trials; the caller gates on n
        warnings.simplefilter("ignore")
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return {p: float(values.get(p, math.nan)) for p in space}
