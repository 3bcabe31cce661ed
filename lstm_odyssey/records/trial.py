"""A trial's training record: what training produces, the sweep stores and the analysis reads.

The sweep stores a :class:`TrialRecord` as the Optuna trial's ``user_attrs``, one attribute per
field, in field order (:meth:`TrialRecord.to_user_attrs`); ``history`` is a list of per-epoch
dicts with the keys of :data:`EPOCH_KEYS`. Records written before a field existed lack its
key and load with None there (``cpu_time_s``, ``baseline_metric`` and ``replicate`` came later).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Self


class Status(enum.StrEnum):
    """How a trial ended, as stored in its record (the strings are the stored values).

    ``RUNNING`` and ``WAITING`` are never stored: they are what an unfinished trial counts as
    (:func:`lstm_odyssey.sweep.schema.trial_status`)."""

    COMPLETE = "complete"      # the protocol ended the run (early stopping or max_epochs)
    TIME_LIMIT = "time_limit"  # the time budget ended it; metrics of the best epoch so far
    DIVERGED = "diverged"      # a NaN/infinite loss ended it; it keeps its history
    FAILED = "failed"          # an error (a bug, a bad setting); failure_reason says which
    PRUNED = "pruned"          # stopped by an exploratory pruner
    LOST = "lost"              # its worker stopped before it finished; it was re-queued
    RUNNING = "running"
    WAITING = "waiting"


# a result: told COMPLETE with its validation metric
RESULTS = (Status.COMPLETE, Status.TIME_LIMIT)
# ended without a result: told FAIL, keeping its record
FAILURES = (Status.FAILED, Status.DIVERGED)
UNFINISHED = (Status.RUNNING, Status.WAITING)

# the keys of one entry of TrialRecord.history
EPOCH_KEYS = ("epoch", "train_loss", "train_metric", "valid_loss", "valid_metric", "time_s")


def _jsonable(value: object) -> object:
    """The value as plain JSON types (NaN/inf become None, tuples lists, numpy scalars
    Python numbers): what a storage keeps."""
    def clean(x: object) -> object:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x
    return clean(json.loads(json.dumps(value, default=float)))


@dataclass
class TrialRecord:
    """The record of one training run (field order = stored order; None = not recorded)."""

    config_id: int | None = None        # index of the planned configuration (shared by variants)
    seed: int | None = None             # training seed
    momentum: float | None = None       # 1 - one_minus_momentum, for readability
    status: Status | None = None
    failure_reason: str | None = None   # "" when complete
    valid_metric: float | None = None   # best validation metric (= the trial's value)
    test_metric: float | None = None    # test metric at the best validation epoch
    train_metric: float | None = None   # training metric at the best validation epoch
    best_epoch: int | None = None       # 1-based (0: no epoch finished)
    epochs: int | None = None           # epochs run
    wall_time_s: float | None = None    # total training wall time
    cpu_time_s: float | None = None     # CPU time of the training process: with one thread
                                        # per worker, the core time a trial cost on a shared
                                        # machine
    n_parameters: int | None = None     # trainable parameters of the network
    history: list[dict] | None = None   # per-epoch records (EPOCH_KEYS)
    versions: dict | None = None        # {"lstm_odyssey": ..., "torch": ..., "python": ...}
    baseline_metric: float | None = None  # the trivial predictor's validation metric
    replicate: int | None = None        # which training seed of the configuration: 0 (None in
                                        # older records) the planned one, r ≥ 1 the r-th extra
                                        # seed of a replicate set (sweep/replicates.py)

    @property
    def key(self) -> tuple[int, int] | None:
        """The trial's place in a plan: (``config_id``, ``replicate``), None without a
        config_id."""
        if not isinstance(self.config_id, int):
            return None
        return self.config_id, self.replicate if isinstance(self.replicate, int) else 0

    @classmethod
    def stored_keys(cls) -> tuple[str, ...]:
        """The stored keys, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_user_attrs(cls, attrs: Mapping[str, Any]) -> Self:
        """The record in a trial's ``user_attrs`` (or any mapping with its keys, such as the
        dict :func:`lstm_odyssey.train.run` returns); other keys are ignored, missing ones are
        None, a stored status string becomes a :class:`Status` (one that is none is not
        trusted: None)."""
        record = cls(**{k: attrs.get(k) for k in cls.stored_keys()})
        record.status = Status(record.status) if record.status in tuple(Status) else None
        return record

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (the status as its string), values as they are."""
        out = {k: getattr(self, k) for k in self.stored_keys()}
        out["status"] = None if self.status is None else self.status.value
        return out

    def to_user_attrs(self, partial: bool = False) -> dict[str, Any]:
        """What the sweep stores: every field, in order, as plain JSON values; with
        ``partial`` only the fields that are set (a label written before the record: a
        planned trial's ``config_id`` and ``seed``, a claimed trial's ``lost`` status)."""
        return {k: _jsonable(v) for k, v in self.to_dict().items()
                if not partial or v is not None}

    def ended(self, status: Status, reason: str) -> Self:
        """A copy with another status and failure reason."""
        return replace(self, status=status, failure_reason=reason)
