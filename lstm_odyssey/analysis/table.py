"""Read a sweep's Optuna storage into pandas tables (the contract: :mod:`lstm_odyssey.records`
and :mod:`lstm_odyssey.sweep.schema`).

:func:`load_results` returns a :class:`Results`: one row per trial (``trials``), one row per
Optuna study (``studies``) and the search space read from the trials' distributions
(``space``), so the analysis needs neither the study file nor torch. A trial of a replicate set
(:mod:`lstm_odyssey.sweep.replicates`) has the set's name in ``replicate_set`` ("" for a
search's own trials) and its seed index in ``replicate`` (0: the planned seed).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pandas as pd

from ..records import StorageError, StorageURL, StudyMeta, TrialRecord
from ..sweep import schema
from ..sweep.space import Dim  # one searched hyperparameter: bounds, log scale

# The record's keys that are columns (history and versions stay in memory, not exported).
_IN_MEMORY = ("history", "versions")
_RECORD = [k for k in TrialRecord.stored_keys() if k not in _IN_MEMORY]
_LABELS = ["status", "failure_reason", "config_id", "seed"]  # come first, then the params
# Columns of the trials table, in order.
TRIAL_COLUMNS = (
    "study", "task", "variant", "source", "metric", "optuna_study", "trial", "state", *_LABELS,
    *schema.PARAMS, *(k for k in _RECORD if k not in _LABELS), "max_epochs", "replicate_set",
)
NUMERIC = (*schema.PARAMS, *(k for k in _RECORD if k not in ("status", "failure_reason")),
           "max_epochs")


@dataclass
class Results:
    """Everything the analysis reads from a storage."""

    trials: pd.DataFrame
    studies: pd.DataFrame
    space: dict[str, Dim] = field(default_factory=dict)
    storage: str = ""          # the URL with any password masked
    # when the last of the read trials finished (the storage's clock): a report states this
    # rather than when it was written, so that the same storage gives the same report
    last_finished: dt.datetime | None = None

    @property
    def tasks(self) -> list[str]:
        """Task names in the order they first appear."""
        return list(dict.fromkeys(self.trials["task"]))

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the trials table (without the per-epoch histories) as CSV."""
        path = Path(path)
        self.trials.drop(columns=["history", "versions"]).to_csv(path, index=False)
        return path


def _selected(stored_under: str | None, name: str, study: str | None,
              searches: Collection[str] | None) -> bool:
    """Whether the Optuna study ``name`` (of study file ``stored_under``) passes the filter of
    :func:`load_results`."""
    if study is None and searches is None:
        return True
    return (study is not None and stored_under == study) or (
        searches is not None and name in searches)


def load_results(storage: str | StorageURL, study: str | None = None,
                 searches: Collection[str] | None = None) -> Results:
    """Load every lstm-odyssey study of ``storage``, or only those stored under the study file
    name ``study`` and/or the Optuna studies named in ``searches`` (given both, a study is kept
    if it is either: a study file's report reads what it planned and the searches it shares
    from an earlier study, ``from``).

    Optuna studies without :class:`~lstm_odyssey.records.StudyMeta` are ignored. Raises
    :class:`StorageError` when nothing is left.
    """
    url = storage if isinstance(storage, StorageURL) else StorageURL.parse(storage)
    store = url.open(create=False)
    rows: list[dict] = []
    study_rows: list[dict] = []
    space: dict[str, Dim] = {}
    finished: list[dt.datetime] = []
    for summary in optuna.get_all_study_summaries(store, include_best_trial=False):
        meta = StudyMeta.from_user_attrs(summary.user_attrs)
        if meta is None or not _selected(meta.study, summary.study_name, study, searches):
            continue
        ostudy = optuna.load_study(study_name=summary.study_name, storage=store)
        trials = ostudy.get_trials(deepcopy=False)
        versions: dict = {}
        finished += [t.datetime_complete for t in trials if t.datetime_complete]
        for t in trials:
            record = TrialRecord.from_user_attrs(t.user_attrs)
            versions = versions or dict(record.versions or {})
            for name, dist in t.distributions.items():
                if name in schema.PARAMS and name not in space:
                    space[name] = Dim.from_distribution(dist)
            row = {
                "study": meta.study, "task": meta.task, "variant": meta.variant,
                "source": meta.source, "metric": meta.metric,
                "optuna_study": summary.study_name, "trial": t.number, "state": t.state.name,
                **record.to_dict(),
                "status": schema.trial_status(t.state, record.status).value,  # lost if untrusted
                "failure_reason": record.failure_reason or "",
                **{p: t.params.get(p) for p in schema.PARAMS},
            }
            if row["momentum"] is None and row[schema.ONE_MINUS_MOMENTUM] is not None:
                row["momentum"] = 1.0 - row[schema.ONE_MINUS_MOMENTUM]
            if row["valid_metric"] is None and t.state == optuna.trial.TrialState.COMPLETE:
                row["valid_metric"] = t.value
            row["max_epochs"] = (meta.protocol or {}).get("max_epochs")  # the protocol's cap
            row["replicate"] = record.replicate or 0  # 0: the planned seed
            row["replicate_set"] = (meta.replicates or {}).get("set", "")  # "": a search
            row["history"] = record.history or []
            rows.append(row)
        study_rows.append({
            **meta.to_dict(),
            "optuna_study": summary.study_name,
            "n_trials": len(trials),
            "versions": versions,
        })
    if not study_rows:
        which = ("searches of the study file" + (f" {study!r}" if study else "")
                 if searches is not None else f"study {study!r}" if study
                 else "lstm-odyssey studies")
        raise StorageError(
            f"storage {url.masked} holds no {which}; "
            "check --storage (and --study) or run a sweep"
        )
    trials_df = pd.DataFrame(rows, columns=[*TRIAL_COLUMNS, *_IN_MEMORY])
    numeric = list(NUMERIC)
    trials_df[numeric] = trials_df[numeric].apply(pd.to_numeric, errors="coerce")
    return Results(trials_df, pd.DataFrame(study_rows), space, url.masked,
                   max(finished, default=None))
