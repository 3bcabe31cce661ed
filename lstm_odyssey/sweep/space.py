"""The search space and the planned configurations of a study.

The paper's space (docs/paper.md §Search space), the default of every study file:

    hidden_size          N  ~ round(exp(U(log 19.5, log 200.5)))   log-uniform integer in [20, 200]
    learning_rate        η  ~ exp(U(log 1e-6, log 1e-2))          log-uniform in [1e-6, 1e-2]
    one_minus_momentum   1−m ~ exp(U(log 0.01, log 1))             momentum m ∈ [0, 0.99]
    input_noise          σ  ~ U(0, 1)                              std of the Gaussian input noise

Configurations are drawn up front: configuration ``i`` of task ``t`` comes from a generator
seeded with ``(study seed, crc32(t), i)`` alone, so it is the same for every variant of the task
(the paired design), the same on every machine and in every rerun, and raising ``trials`` only
appends configurations.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from ..errors import UserError
from . import schema


class RangeError(UserError, ValueError):
    """A search range that cannot be drawn from."""


@dataclass(frozen=True)
class Dim:
    """One searched hyperparameter: the range [low, high]; log-uniform if ``log``."""

    low: float
    high: float
    log: bool
    integer: bool = False

    def check(self) -> None:
        """Raise :class:`RangeError` unless :meth:`draw` can sample the range: finite bounds
        with low ≤ high, integers if ``integer``, and a positive (widened) low end if ``log``."""
        if self.integer and not all(isinstance(v, int) for v in (self.low, self.high)):
            raise RangeError("the bounds must be integers")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise RangeError("the bounds must be finite numbers")
        if self.low > self.high:
            raise RangeError("need low ≤ high")
        if self.log and self.low - (0.5 if self.integer else 0) <= 0:
            raise RangeError(f"a log-scaled range needs low {'≥ 1' if self.integer else '> 0'}")

    def draw(self, rng: np.random.Generator) -> float | int:
        """One sample; integers are rounded from the continuous range widened by ½ each side
        (as Optuna's samplers do), so both ends are as likely as inner values."""
        low, high = (self.low - 0.5, self.high + 0.5) if self.integer else (self.low, self.high)
        if self.log:
            x = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            x = rng.uniform(low, high)
        if self.integer:
            return int(min(max(round(x), self.low), self.high))
        return float(min(max(x, self.low), self.high))

    def distribution(self) -> BaseDistribution:
        """The range as the Optuna distribution a trial records."""
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, log=self.log)

    @classmethod
    def from_distribution(cls, dist: BaseDistribution) -> Dim:
        """The range of an Optuna distribution that a trial recorded."""
        return cls(float(dist.low), float(dist.high), bool(dist.log),
                   isinstance(dist, IntDistribution))


PAPER_SPACE: dict[str, Dim] = {
    schema.HIDDEN_SIZE: Dim(20, 200, log=True, integer=True),
    schema.LEARNING_RATE: Dim(1e-6, 1e-2, log=True),
    schema.ONE_MINUS_MOMENTUM: Dim(0.01, 1.0, log=True),
    schema.INPUT_NOISE: Dim(0.0, 1.0, log=False),
}


@dataclass(frozen=True)
class PlannedConfig:
    """One planned configuration: its index, hyperparameters (``schema.PARAMS`` names) and
    training seed."""

    config_id: int
    params: dict[str, float | int]
    seed: int


def plan_configs(space: dict[str, Dim], study_seed: int, task: str, n: int) -> list[PlannedConfig]:
    """The first ``n`` configurations of ``task`` (see the module docstring)."""
    out = []
    for i in range(n):
        rng = np.random.default_rng([study_seed, zlib.crc32(task.encode()), i])
        params = {name: space[name].draw(rng) for name in schema.PARAMS}
        out.append(PlannedConfig(i, params, int(rng.integers(2**31 - 1))))
    return out
