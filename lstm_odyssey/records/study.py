"""A study's metadata: what one Optuna study of a sweep says about itself.

The sweep keeps one Optuna study per (study file, task, variant); its ``user_attrs[STUDY_ATTR]``
is a :class:`StudyMeta` as a dict (:meth:`StudyMeta.to_user_attrs`). The analysis reads only
studies that carry it. The keys from ``trials`` on were added by the sweep (a fabricated study
has no ``seed``, ``pruner`` or ``plan``); a key that was never written loads as None (studies
stored before ``kind`` and ``stands_for`` existed are read by their metric and source:
:meth:`lstm_odyssey.tasks.kinds.Role.of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

STUDY_ATTR = "lstm_odyssey"
SCHEMA_VERSION = 1
# Keys written only when set, so that studies without them keep their stored form.
_OPTIONAL = ("seed", "pruner", "plan", "replicates", "first", "kind", "stands_for")


@dataclass
class StudyMeta:
    """What a study of a sweep is (field order = stored order)."""

    study: str | None = None      # the study file's name
    task: str | None = None
    variant: str | None = None    # canonical variant name (CellSpec.name)
    source: str | None = None     # tasks.kinds.Source ("generated", "free corpus", ...);
                                  # earlier versions: "synthetic" or "real"
    data: str | None = None       # one line: what the data is
    metric: str | None = None     # the kind's metric: "frame_error_pct", "cer_pct", ...
    protocol: dict | None = None  # max_epochs, patience, batch_size, ...
    schema: int | None = SCHEMA_VERSION
    trials: int | None = None     # planned trials
    seed: int | None = None       # the study seed
    pruner: str | None = None     # "none" (the paper) | "median" | "hyperband" (exploratory)
    plan: dict | None = None      # seed, space, protocol and data the configurations came from
    first: int | None = None      # the first config_id when it continues a shared search
                                  # (its ``trials`` are first … first + trials − 1)
    replicates: dict | None = None  # a replicate set's search: Replicates.to_dict() (its set,
                                    # the search it repeats, the chosen configurations, seeds)
    kind: str | None = None       # the task kind (tasks.kinds.TaskKind); None: written before
                                  # kinds were stored (then the metric says what it stands for)
    stands_for: dict | None = None  # the paper dataset it stands for (StandsFor.to_dict()),
                                    # None: none (or, without ``kind``, the metric's)

    @classmethod
    def stored_keys(cls) -> tuple[str, ...]:
        """The stored keys, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_user_attrs(cls, attrs: Mapping[str, Any]) -> Self | None:
        """The metadata of a study's ``user_attrs``; None for a study that is not a sweep's."""
        meta = attrs.get(STUDY_ATTR)
        if not isinstance(meta, dict):
            return None
        return cls(**{k: meta.get(k) for k in cls.stored_keys()})

    def to_dict(self) -> dict[str, Any]:
        """Every field, in order."""
        return {k: getattr(self, k) for k in self.stored_keys()}

    def to_user_attrs(self) -> dict[str, Any]:
        """``{STUDY_ATTR: metadata}`` as the study stores it."""
        return {STUDY_ATTR: {k: v for k, v in self.to_dict().items()
                             if k not in _OPTIONAL or v is not None}}
