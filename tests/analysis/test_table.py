"""Reading sweep storages (the records of lstm_odyssey.records) into the results table."""

from __future__ import annotations

import pytest

from lstm_odyssey.analysis.synthetic import write_synthetic_study
from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.errors import UserError
from lstm_odyssey.records import StorageError, StorageNotFound
from lstm_odyssey.sweep import schema
from lstm_odyssey.sweep.space import PAPER_SPACE


def test_synthetic_study_round_trips(synthetic_storage: str) -> None:
    r = load_results(synthetic_storage)
    assert len(r.trials) == 3 * 9 * 30
    assert set(r.trials["variant"]) == {"V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG",
                                        "FGR"}
    assert r.tasks == ["timit-synth", "iam-synth", "jsb-synth"]
    assert {p for p, d in r.space.items() if d.log} == {p for p, d in PAPER_SPACE.items() if d.log}
    assert r.space[schema.LEARNING_RATE].low == pytest.approx(1e-6)
    done = r.trials[r.trials["status"] == "complete"]
    assert done["test_metric"].notna().all() and done["n_parameters"].gt(0).all()
    assert r.trials["baseline_metric"].notna().all()  # the trivial predictor, every trial
    diverged = r.trials[r.trials["status"] == "diverged"]
    assert len(diverged) > 0 and (diverged["state"] == "FAIL").all()
    assert diverged["test_metric"].isna().all() and (diverged["failure_reason"] != "").all()
    # paired design: every variant of a task ran the same configurations
    tg = r.trials[r.trials["task"] == "jsb-synth"]
    lrs = tg.pivot(index="config_id", columns="variant", values=schema.LEARNING_RATE)
    assert (lrs.nunique(axis=1) == 1).all()
    assert len(r.studies) == 27 and r.studies["source"].eq("synthetic").all()


def test_a_study_file_reads_its_own_studies_and_the_searches_it_shares(
        synthetic_storage: str) -> None:
    """The filter of a study file's report: stored under its name, or one of its searches."""
    every = load_results(synthetic_storage).trials
    (name,) = set(every["study"])
    shared = {"synthetic/jsb-synth/V", "synthetic/jsb-synth/NP"}
    assert len(load_results(synthetic_storage, study=name).trials) == len(every)
    assert len(load_results(synthetic_storage, study=name, searches=shared).trials) == len(every)
    only = load_results(synthetic_storage, study="other", searches=shared).trials
    assert set(only["optuna_study"]) == shared
    assert set(load_results(synthetic_storage, searches=shared).trials["optuna_study"]) == shared
    with pytest.raises(StorageError, match="searches of the study file 'other'"):
        load_results(synthetic_storage, study="other", searches={"other/jsb/V"})


def test_csv_export_drops_histories(synthetic_storage: str, tmp_path) -> None:
    import pandas as pd

    r = load_results(synthetic_storage)
    back = pd.read_csv(r.to_csv(tmp_path / "t.csv"))
    assert len(back) == len(r.trials) and "history" not in back.columns
    assert {"task", "variant", "seed", "test_metric", "wall_time_s", "epochs"} <= set(back.columns)


def test_sqlite_storage_and_study_filter(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    write_synthetic_study(url, study="a", tasks=("jsb-synth",), variants=("V", "NP"), n_trials=3)
    write_synthetic_study(url, study="b", tasks=("jsb-synth",), variants=("V",), n_trials=2)
    assert len(load_results(url).trials) == 3 + 3 + 2
    assert len(load_results(url, study="b").trials) == 2
    with pytest.raises(StorageError, match="no study 'c'"):
        load_results(url, study="c")


def test_fabricated_trials_never_join_a_real_study(tmp_path) -> None:
    """A storage that holds a study of real trials is refused before anything is written."""
    import optuna

    url = f"sqlite:///{tmp_path / 'real.db'}"
    optuna.create_study(study_name="mine/jsb/V", storage=url)
    with pytest.raises(UserError, match="holds a study that is not fabricated .'mine/jsb/V'."):
        write_synthetic_study(url, tasks=("jsb-synth",), variants=("V",), n_trials=2)
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["mine/jsb/V"]


def test_storage_mistakes_are_user_errors(tmp_path) -> None:
    with pytest.raises(StorageNotFound) as e:
        load_results(f"sqlite:///{tmp_path / 'missing.db'}")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, UserError)
    assert not (tmp_path / "missing.db").exists()  # never creates an empty storage
    with pytest.raises(StorageNotFound):
        load_results(str(tmp_path / "missing.log"))
    with pytest.raises(StorageError):
        load_results("nosuchdialect://host/db")


def test_synthetic_study_mistakes_are_user_errors(tmp_path) -> None:
    path = tmp_path / "new" / "dir" / "s.log"          # parent folders are created
    write_synthetic_study(str(path), tasks=("jsb-synth",), variants=("V",), n_trials=2)
    assert len(load_results(str(path)).trials) == 2
    with pytest.raises(UserError, match="already holds study 'synthetic/jsb-synth/V'"):
        write_synthetic_study(str(path), tasks=("jsb-synth",), variants=("V",), n_trials=2)
    with pytest.raises(StorageError) as e:
        write_synthetic_study("postgresql://me:hunter2@127.0.0.1:1/db", n_trials=2)
    assert "hunter2" not in str(e.value) and "\n" not in str(e.value)
