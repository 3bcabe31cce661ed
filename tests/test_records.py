"""The stored contract (lstm_odyssey.records): a record from training survives the trip through
the storage unchanged, the committed journals' trials load as records, and a storage string is
parsed once and opened only where it is meant to be created."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import optuna
import pytest

from lstm_odyssey.records import (
    Status,
    StorageError,
    StorageNotFound,
    StorageURL,
    StudyMeta,
    TrialRecord,
)
from lstm_odyssey.records.storage import Kind
from lstm_odyssey.sweep.studyfile import load_study

ROOT = Path(__file__).resolve().parents[1]

# The stored format, written out here so that a change to the dataclass that changes what a
# sweep stores fails: the keys in their stored order and the status strings.
STORED_KEYS = ("config_id", "seed", "momentum", "status", "failure_reason", "valid_metric",
               "test_metric", "train_metric", "best_epoch", "epochs", "wall_time_s",
               "cpu_time_s", "n_parameters", "history", "versions", "baseline_metric",
               "replicate")  # new keys are only ever appended: stored records keep loading
STORED_STATUSES = {"complete", "time_limit", "diverged", "failed", "pruned", "lost"}


def _stored(value: object) -> object:
    """What the sweep stored of a value before TrialRecord (JSON types, NaN/inf as null),
    written here independently of TrialRecord.to_user_attrs."""
    value = json.loads(json.dumps(value, default=float))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def test_the_stored_keys_and_statuses_are_unchanged() -> None:
    assert TrialRecord.stored_keys() == STORED_KEYS
    assert STORED_STATUSES <= {s.value for s in Status}


@pytest.mark.parametrize("status", ["complete", "diverged", "time_limit"])
def test_a_record_from_training_round_trips_through_user_attrs(status: str) -> None:
    from lstm_odyssey.train import TrainConfig, run

    from .train.tiny_tasks import ctc_task, music_task

    # a CTC task at a huge learning rate diverges (as in tests/train/test_loop.py)
    task = ctc_task(sizes=(8, 4, 4)) if status == "diverged" else music_task(sizes=(4, 2, 2))
    settings = {"complete": {}, "diverged": {"learning_rate": 1e6, "max_epochs": 5},
                "time_limit": {"time_budget_s": 1e-9}}[status]
    config = TrainConfig(**{"task": task.name, "variant": "V", "hidden_size": 8,
                            "learning_rate": 0.1, "momentum": 0.9, "input_noise": 0.0,
                            "max_epochs": 2, "config_id": 3, "seed": 5, **settings})
    ran = run(config, task=task)
    record = TrialRecord.from_user_attrs(ran)
    assert record.status == Status(status) == ran["status"]
    attrs = record.to_user_attrs()
    # what the sweep stored before TrialRecord existed: every key, in order, JSON-cleaned
    assert list(attrs) == list(STORED_KEYS)
    assert attrs == {k: _stored(ran.get(k)) for k in STORED_KEYS}
    json.dumps(attrs, allow_nan=False)  # plain JSON
    assert TrialRecord.from_user_attrs(attrs).to_user_attrs() == attrs


def test_a_partial_label_holds_only_what_is_set() -> None:
    assert TrialRecord(config_id=2, seed=7).to_user_attrs(partial=True) == {"config_id": 2,
                                                                            "seed": 7}
    lost = TrialRecord(status=Status.LOST, failure_reason="gone").to_user_attrs(partial=True)
    assert lost == {"status": "lost", "failure_reason": "gone"}


def test_an_unknown_status_is_not_trusted() -> None:
    assert TrialRecord.from_user_attrs({"status": "exploded"}).status is None
    assert TrialRecord.from_user_attrs({}) == TrialRecord()


@pytest.mark.parametrize("journal", ["odyssey-reduced", "odyssey-free"])
def test_the_committed_journals_trials_load_as_records(journal: str, tmp_path: Path) -> None:
    """Every trial of the committed journals (a copy; wherever the study file puts it, plain or
    xz-compressed as shipped) loads; records written before cpu_time_s and baseline_metric
    existed load with None there; stored values come back."""
    study_file = {"odyssey-reduced": ROOT / "results" / "odyssey-reduced" / "study.toml",
                  "odyssey-free": ROOT / "studies" / "odyssey-free.toml"}[journal]
    committed = ROOT / load_study(study_file).storage().path
    copy = tmp_path / committed.name
    shutil.copy(committed, copy)
    storage = StorageURL.parse(str(copy)).open(create=False)
    loaded = missing_new_keys = 0
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        meta = StudyMeta.from_user_attrs(summary.user_attrs)
        assert meta is not None and meta.study.startswith(journal)  # odyssey-free-2 shares it
        assert meta.to_user_attrs()[next(iter(summary.user_attrs))] == next(
            iter(summary.user_attrs.values()))
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for t in study.get_trials(deepcopy=False):
            record = TrialRecord.from_user_attrs(t.user_attrs)
            stored = {k: v for k, v in t.user_attrs.items() if k in STORED_KEYS}
            assert {k: v for k, v in record.to_user_attrs().items() if k in stored} == stored
            assert all(getattr(record, k) is None for k in STORED_KEYS if k not in stored)
            if t.state.is_finished() and t.user_attrs.get("status") in STORED_STATUSES:
                assert record.status == t.user_attrs["status"]
                missing_new_keys += "cpu_time_s" not in t.user_attrs
            loaded += 1
    assert loaded > 100
    if journal == "odyssey-reduced":  # written before cpu_time_s: all load with None there
        assert missing_new_keys > 0


def test_storage_strings_are_parsed_once(tmp_path: Path) -> None:
    journal = StorageURL.parse("results/x/journal.log")
    assert (journal.kind, journal.path) == (Kind.JOURNAL, Path("results/x/journal.log"))
    prefixed = StorageURL.parse("journal://results/x/journal.log")
    assert prefixed.path == journal.path and prefixed.text == "journal://results/x/journal.log"
    assert prefixed.resolved().text == str(Path("results/x/journal.log").resolve())
    assert StorageURL.parse("sqlite:///rel/x.db").path == Path("rel/x.db")
    assert StorageURL.parse("sqlite:////abs/x.db").path == Path("/abs/x.db")
    assert StorageURL.parse("sqlite:///:memory:").path is None
    pg = StorageURL.parse("postgresql+psycopg2://me:pw@host/db")
    assert (pg.kind, pg.path, pg.masked) == (Kind.POSTGRESQL, None,
                                             "postgresql+psycopg2://me:***@host/db")
    assert pg.exists() and pg.resolved() is pg
    with pytest.raises(StorageError, match="unsupported scheme 'mysql'"):
        StorageURL.parse("mysql://x")


@pytest.mark.parametrize("form", ["{d}/none.log", "journal://{d}/none.log",
                                  "sqlite:///{d}/none.db"])
def test_a_reader_never_creates_a_storage(form: str, tmp_path: Path) -> None:
    url = StorageURL.parse(form.format(d=tmp_path / "sub"))
    with pytest.raises(StorageNotFound, match="no sweep storage at .*none"):
        url.open(create=False)
    assert not (tmp_path / "sub").exists()
    url.open(create=True)
    assert url.exists() and url.open(create=False) is not None


def test_synthetic_study_metadata_keeps_its_stored_form() -> None:
    meta = StudyMeta(study="s", task="t", variant="V", source="synthetic", data="-",
                     metric="cer_pct", protocol={}, trials=3)
    (stored,) = meta.to_user_attrs().values()
    assert list(stored) == ["study", "task", "variant", "source", "data", "metric", "protocol",
                            "schema", "trials"]
    assert StudyMeta.from_user_attrs(meta.to_user_attrs()) == meta
    assert StudyMeta.from_user_attrs({"other": 1}) is None
