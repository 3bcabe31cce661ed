"""Replicate sets: more runs of chosen configurations of a task, each variant's as its own search.

A study file asks for them per task; each set has a name, a selection, seeds and an optional
protocol::

    [tasks.timit-synth.replicates.seeds]     # 3 more training seeds of each variant's best 10 %
    select = "best 10%"                      # or a list of config ids: [0, 7, 19]
    seeds = 3                                # replicates 1, 2, 3; or a list, 0 = the planned seed

    [tasks.timit-synth.replicates.uncapped]  # the best 20 % again, same seed, longer protocol
    select = "best 20%"
    seeds = [0]
    protocol = { max_epochs = 150, patience = 15 }

Each (set, variant) is one Optuna study ``<study>/<task>/<VARIANT>/<set>`` (see
:func:`study_name`) holding one trial per (configuration, replicate): the configuration's
hyperparameters, ``config_id`` and ``replicate`` in its record, and the seed
:func:`replicate_seed`. A selection ``best P%`` is each variant's own best ⌈P·n⌉ planned
configurations by validation outcome (:func:`best_configs`), taken from its complete search when
the set is first planned and stored with it (:class:`Replicates`), so it is chosen exactly
once: later results never change which configurations a set repeats. Replicate 0 re-runs the
planned seed (with another protocol it continues the same run past the old cap: the first
epochs are the same computation); replicate r ≥ 1 draws a new seed that is the same for every
variant of the configuration, so replicates keep the paired design.
"""

from __future__ import annotations

import math
import re
import statistics
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from ..errors import UserError, unknown_key
from ..records import RESULTS, Status, TrialRecord
from . import schema

SET_KEYS = ("select", "seeds", "protocol")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_BEST = re.compile(r"best[ -]?(\d+(?:\.\d+)?)\s*%")


class ReplicateError(UserError, ValueError):
    """A replicate set that cannot be planned (bad selection, an incomplete search)."""


@dataclass(frozen=True)
class ReplicateSet:
    """One replicate set of a task, as the study file states it.

    ``fraction``: each variant's best fraction by validation outcome (None when ``configs``
    lists the configurations); ``seeds``: replicate indices, 0 = the planned seed;
    ``protocol``: overrides of the task's protocol."""

    name: str
    seeds: tuple[int, ...]
    fraction: float | None = None
    configs: tuple[int, ...] = ()
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def selection(self) -> str:
        """The selection in the study file's words."""
        if self.fraction is not None:
            return f"best {self.fraction * 100:g}%"
        return "configurations " + ", ".join(map(str, self.configs))


def parse_set(where: str, prefix: str, name: str, table: Any) -> tuple[ReplicateSet, dict]:
    """A replicate set from its study-file table; returns it and its ``protocol`` table, which
    the caller validates (the study file owns protocol checks). Raises :class:`ReplicateError`
    (one line) on a bad key or value."""
    def fail(message: str) -> ReplicateError:
        return ReplicateError(f"{where}: {message}")

    if not _NAME.fullmatch(name):
        raise fail(f"replicate set name '{prefix}{name}' must be 1-40 lower-case letters, digits, "
                   "'-' or '_'")
    if not isinstance(table, dict):
        raise fail(f"'{prefix}{name}' must be a table with 'select' and 'seeds'")
    for key in table:
        if (problem := unknown_key(key, SET_KEYS, f"{prefix}{name}.")) is not None:
            raise fail(problem)
    key = f"{prefix}{name}"
    select = table.get("select")
    fraction, configs = None, ()
    if isinstance(select, str) and (m := _BEST.fullmatch(select.strip().lower())):
        fraction = float(m.group(1)) / 100
        if not 0 < fraction <= 1:
            raise fail(f"'{key}.select' = {select!r}: the percentage must be in (0, 100]")
    elif (isinstance(select, list) and select
          and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in select)):
        if len(set(select)) != len(select):
            raise fail(f"'{key}.select' names a configuration twice")
        configs = tuple(select)
    else:
        raise fail(f"'{key}.select' = {select!r} must be \"best P%\" (each variant's best P % "
                   "by validation) or a non-empty list of config ids")
    seeds = table.get("seeds")
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = tuple(range(1, seeds + 1))
    elif (isinstance(seeds, list) and seeds
          and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 1000
                  for s in seeds) and len(set(seeds)) == len(seeds)):
        seeds = tuple(seeds)
    else:
        raise fail(f"'{key}.seeds' = {seeds!r} must be a count K ≥ 1 (extra seeds 1…K) or a list "
                   "of distinct replicate indices in [0, 999] (0 = the planned seed)")
    protocol = table.get("protocol", {})
    if not protocol and seeds == (0,):
        raise fail(f"'{key}' re-runs the planned seed with the same protocol, which repeats "
                   "the search's own runs; add extra seeds or a 'protocol'")
    return ReplicateSet(name, seeds, fraction, configs, dict(protocol)), protocol


def study_name(study: str, task: str, variant: str, replicate_set: str) -> str:
    """The Optuna study name of one (task, variant) search of a replicate set."""
    return f"{schema.study_name(study, task, variant)}/{replicate_set}"


def replicate_seed(study_seed: int, task: str, config_id: int, replicate: int,
                   planned_seed: int) -> int:
    """The training seed of ``replicate`` of a configuration: the planned seed for 0, else a
    draw from a generator seeded with (study seed, crc32(task), config_id, replicate) — the
    same for every variant (the paired design) and on every machine."""
    if replicate == 0:
        return planned_seed
    rng = np.random.default_rng([study_seed, zlib.crc32(task.encode()), config_id, replicate])
    return int(rng.integers(2**31 - 1))


@dataclass(frozen=True)
class Replicates:
    """What a replicate set's search stores about itself (``StudyMeta.replicates``): its set,
    the search it repeats, the configurations chosen when it was planned and the seeds."""

    set: str
    of: str
    selection: str
    configs: tuple[int, ...]
    seeds: tuple[int, ...]

    def keys(self) -> frozenset[tuple[int, int]]:
        """The planned (config_id, replicate) pairs."""
        return frozenset((c, r) for c in self.configs for r in self.seeds)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict | None) -> Replicates | None:
        if not isinstance(d, dict):
            return None
        try:
            return cls(str(d["set"]), str(d["of"]), str(d["selection"]),
                       tuple(int(c) for c in d["configs"]), tuple(int(s) for s in d["seeds"]))
        except (KeyError, TypeError, ValueError):
            return None


def n_best(n: int, fraction: float) -> int:
    """Size of the best ``fraction`` of ``n`` configurations: ⌈fraction·n⌉, at least one (the
    analysis's best-10 % rule)."""
    return max(1, math.ceil(fraction * n - 1e-9))


def validation_outcome(record: TrialRecord, status: Status, baseline: float) -> float | None:
    """A finished trial's validation outcome by the analysis's rules (analysis/outcomes.py): a
    result or a diverged run with finite metrics counts at its best epoch, one without at the
    baseline; every outcome is clipped at the baseline; failed and pruned runs have none."""
    if status not in (*RESULTS, Status.DIVERGED):
        return None
    valid, test = record.valid_metric, record.test_metric
    finite = all(isinstance(v, int | float) and math.isfinite(v) for v in (valid, test))
    if finite:
        return float(valid) if not math.isfinite(baseline) else min(float(valid), baseline)
    return baseline if math.isfinite(baseline) else None


def task_baseline(trials: list[FrozenTrial]) -> float:
    """The median recorded baseline of a task's trials (NaN when none recorded)."""
    values = [b for t in trials
              if isinstance(b := TrialRecord.from_user_attrs(t.user_attrs).baseline_metric,
                            int | float) and math.isfinite(b)]
    return statistics.median(values) if values else math.nan


def best_configs(trials: list[FrozenTrial], planned: int, fraction: float,
                 task_median_baseline: float) -> tuple[int, ...]:
    """The best ⌈fraction·n⌉ of a variant's n configurations with an outcome, by validation
    outcome (ties: lower config_id first), sorted by config_id. ``trials``: the variant's
    search; ``planned``: its planned configurations 0…planned−1, which must all be done."""
    from .recovery import is_done

    outcome: dict[int, float] = {}
    for t in trials:
        record = TrialRecord.from_user_attrs(t.user_attrs)
        cid = record.config_id
        if not is_done(t) or not isinstance(cid, int) or not 0 <= cid < planned:
            continue
        own = record.baseline_metric
        baseline = (float(own) if isinstance(own, int | float) and math.isfinite(own)
                    else task_median_baseline)
        value = validation_outcome(record, schema.status_of(t), baseline)
        if value is not None and cid not in outcome:
            outcome[cid] = value
    ranked = sorted(outcome, key=lambda c: (outcome[c], c))
    return tuple(sorted(ranked[:n_best(len(ranked), fraction)])) if ranked else ()
