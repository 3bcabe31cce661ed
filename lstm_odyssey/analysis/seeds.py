"""Seed replicates: a configuration trained again with other seeds, read as its seed mean and
seed SD.

For configuration j of a variant with r_j ≥ 1 replicates y_j1 … y_jr (test outcomes,
:mod:`.outcomes`): the seed mean ȳ_j and, for r_j ≥ 2, the seed SD s_j (ddof 1). The pooled
seed SD of a (task, variant) pools the configurations with replicates,

    s_pool = √( Σ_j (r_j − 1)·s_j² / Σ_j (r_j − 1) ),   df = Σ_j (r_j − 1),

the run-to-run spread a researcher sees when rerunning one setting with another seed.

An effect is **smaller than seed noise** when |effect| < s_pool: rerunning one setting of one
variant moves its metric by as much as the difference claimed between variants. (A mean over
n configurations and their seeds can still estimate such an effect; the flag says it would not
show in any single run.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .paired import TEST, replicate_outcomes


def seed_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (task when present, variant, config_id): ``replicates`` (seeds with an outcome),
    ``seed_mean`` and ``seed_sd`` (NaN with one replicate). Seeds are told apart by the
    ``replicate`` column (:func:`.paired.replicate_outcomes`: missing = the planned seed).
    Pass one protocol's trials: a replicate set that reruns the planned seed under another
    protocol measures the protocol, not seed noise."""
    keys = [c for c in ("task", "variant", "config_id") if c in trials]
    g = replicate_outcomes(trials, TEST, keys).groupby(keys, sort=False)
    return pd.DataFrame({"replicates": g.size(), "seed_mean": g.mean(),
                         "seed_sd": g.std(ddof=1)}).reset_index()


@dataclass(frozen=True)
class SeedNoise:
    """The pooled seed SD of one (task, variant) and what it rests on."""

    task: str
    variant: str
    sd: float          # s_pool; NaN without any configuration with two replicates
    df: int            # Σ (r_j − 1)
    configs: int       # configurations with at least two replicates

    def smaller_than_noise(self, effect: float) -> bool | None:
        """Whether |effect| < s_pool (module docstring); None when the noise is unknown."""
        if not math.isfinite(self.sd) or not math.isfinite(effect):
            return None
        return abs(effect) < self.sd


def pooled_seed_sd(trials: pd.DataFrame) -> dict[tuple[str, str], SeedNoise]:
    """Per (task, variant): the :class:`SeedNoise` of its configurations' replicates."""
    summary = seed_summary(trials if "task" in trials else trials.assign(task=""))
    out = {}
    for (task, variant), g in summary.groupby(["task", "variant"], sort=False):
        rep = g[g["replicates"] >= 2]
        df = int((rep["replicates"] - 1).sum())
        sd = (math.sqrt(float(((rep["replicates"] - 1) * rep["seed_sd"] ** 2).sum()) / df)
              if df else math.nan)
        out[(task, variant)] = SeedNoise(task, variant, sd, df, len(rep))
    return out
