"""Read a sweep's Optuna storage into pandas tables (the contract:
:mod:`lstm_odyssey.sweep.schema`).

:func:`load_results` returns a :class:`Results`: one row per trial (``trials``), one row per
Optuna study (``studies``) and the search space read from the trials' distributions
(``space``), so the analysis needs neither the study file nor torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pandas as pd

from ..errors import UserError
from ..sweep import schema
from ..sweep import storage as sweep_storage
from ..sweep.space import Dim  # one searched hyperparameter: bounds, log scale
from ..sweep.storage import StorageError, mask_url

# Columns of the trials table, in order; ``history`` stays in memory and is not exported.
TRIAL_COLUMNS = (
    "study", "task", "variant", "source", "metric", "optuna_study", "trial", "state", "status",
    "failure_reason", "config_id", "seed", *schema.PARAMS, "momentum", "valid_metric",
    "test_metric", "train_metric", "best_epoch", "epochs", "wall_time_s", "cpu_time_s",
    "n_parameters", "baseline_metric",
)


class StorageNotFound(UserError, FileNotFoundError):
    """A storage URL that points at a file that does not exist."""


@dataclass
class Results:
    """Everything the analysis reads from a storage."""

    trials: pd.DataFrame
    studies: pd.DataFrame
    space: dict[str, Dim] = field(default_factory=dict)
    storage: str = ""          # the URL with any password masked

    @property
    def tasks(self) -> list[str]:
        """Task names in the order they first appear."""
        return list(dict.fromkeys(self.trials["task"]))

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the trials table (without the per-epoch histories) as CSV."""
        path = Path(path)
        self.trials.drop(columns=["history", "versions"]).to_csv(path, index=False)
        return path


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Open an existing sweep storage (see :mod:`lstm_odyssey.sweep.storage`); unlike a sweep,
    the analysis never creates an empty one."""
    if sweep_storage.is_rdb(url):
        path = url.split(":///", 1)[-1] if url.startswith("sqlite:///") else ""
        if path not in ("", ":memory:") and not os.path.exists(path):
            raise StorageNotFound(
                f"storage file {path} does not exist; run the sweep first or fix --storage"
            )
    elif not sweep_storage.journal_path(url).is_file():
        raise StorageNotFound(
            f"storage {url!r} is neither an RDB URL nor an existing journal file; "
            "pass e.g. sqlite:///results/x.db or the path of the sweep's journal file"
        )
    return sweep_storage.open_storage(url)


def load_results(storage: str, study: str | None = None) -> Results:
    """Load every lstm-odyssey study of ``storage`` (or only those of the study file ``study``).

    Optuna studies without the ``schema.STUDY_ATTR`` attribute are ignored. Raises
    :class:`StorageError` when nothing is left.
    """
    store = open_storage(storage)
    rows: list[dict] = []
    study_rows: list[dict] = []
    space: dict[str, Dim] = {}
    for summary in optuna.get_all_study_summaries(store, include_best_trial=False):
        meta = summary.user_attrs.get(schema.STUDY_ATTR)
        if not isinstance(meta, dict) or (study is not None and meta.get("study") != study):
            continue
        ostudy = optuna.load_study(study_name=summary.study_name, storage=store)
        trials = ostudy.get_trials(deepcopy=False)
        versions: dict = {}
        for t in trials:
            ua = t.user_attrs
            versions = versions or dict(ua.get("versions") or {})
            for name, dist in t.distributions.items():
                if name in schema.PARAMS and name not in space:
                    space[name] = Dim(float(dist.low), float(dist.high), bool(dist.log),
                                      isinstance(dist, optuna.distributions.IntDistribution))
            row = {
                "study": meta.get("study"), "task": meta.get("task"),
                "variant": meta.get("variant"), "source": meta.get("source"),
                "metric": meta.get("metric"), "optuna_study": summary.study_name,
                "trial": t.number, "state": t.state.name,
                "status": schema.trial_status(t.state, ua.get("status")),  # lost if not trusted
                "failure_reason": ua.get("failure_reason", ""),
            }
            row.update({p: t.params.get(p) for p in schema.PARAMS})
            for key in schema.TRIAL_KEYS:
                if key not in row and key not in ("status", "failure_reason"):
                    row[key] = ua.get(key)
            if row["momentum"] is None and row[schema.ONE_MINUS_MOMENTUM] is not None:
                row["momentum"] = 1.0 - row[schema.ONE_MINUS_MOMENTUM]
            if row["valid_metric"] is None and t.state == optuna.trial.TrialState.COMPLETE:
                row["valid_metric"] = t.value
            row["history"] = ua.get("history") or []
            rows.append(row)
        study_rows.append({
            **{k: meta.get(k) for k in schema.STUDY_KEYS},
            "optuna_study": summary.study_name,
            "n_trials": len(trials),
            "versions": versions,
        })
    if not study_rows:
        which = f"study {study!r}" if study else "lstm-odyssey studies"
        raise StorageError(
            f"storage {mask_url(storage)} holds no {which}; "
            "check --storage (and --study) or run a sweep"
        )
    trials_df = pd.DataFrame(rows, columns=[*TRIAL_COLUMNS, "history", "versions"])
    numeric = [*schema.PARAMS, "momentum", "valid_metric", "test_metric", "train_metric",
               "best_epoch", "epochs", "wall_time_s", "cpu_time_s", "n_parameters", "config_id",
               "seed", "baseline_metric"]
    trials_df[numeric] = trials_df[numeric].apply(pd.to_numeric, errors="coerce")
    return Results(trials_df, pd.DataFrame(study_rows), space, mask_url(storage))
