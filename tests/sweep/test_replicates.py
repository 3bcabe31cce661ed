"""Replicate sets: parsed with one-line errors, chosen once from complete searches, planned
exactly once, resumed, counted once, stored on a base journal without touching it."""

from __future__ import annotations

import hashlib

import optuna
import pytest

from lstm_odyssey.analysis.outcomes import score
from lstm_odyssey.analysis.stats import top_trials
from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.records import StorageURL, StudyMeta, TrialRecord
from lstm_odyssey.records.journal import JournalCorrupt
from lstm_odyssey.sweep import recovery, replicates
from lstm_odyssey.sweep.executors import sweep
from lstm_odyssey.sweep.plan import plan, search_plans
from lstm_odyssey.sweep.studyfile import StudyFileError, load_study
from lstm_odyssey.sweep.worker import Worker

from .conftest import study_toml

SEEDS = '\n[tasks.jsb.replicates.seeds]\nselect = "best 50%"\nseeds = 2\n'


def _quiet(_: str) -> None:
    pass


def _replicate_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    storage = StorageURL.parse(url).open(create=False)
    return optuna.load_study(study_name=name, storage=storage).get_trials()


@pytest.mark.parametrize("table, message", [
    ('select = "best 10%"', "'tasks.jsb.replicates.s.seeds' = None must be a count"),
    ('select = "top 10%"\nseeds = 1', "must be \"best P%\""),
    ('select = "best 0%"\nseeds = 1', "the percentage must be in (0, 100]"),
    ('select = [0, 0]\nseeds = 1', "names a configuration twice"),
    ('select = [0, 5]\nseeds = 1', "beyond the task's 2 planned ones"),
    ('select = [0]\nseeds = [0]', "repeats the search's own runs"),
    ('select = [0]\nseeds = [1, 1]', "distinct replicate indices"),
    ('select = [0]\nseed = 2', "did you mean 'tasks.jsb.replicates.s.seeds'?"),
    ('select = [0]\nseeds = 1\nprotocol = { max_epoch = 3 }', "did you mean"),
])
def test_a_bad_replicate_set_is_one_line_naming_the_key(tmp_path, table, message) -> None:
    path = tmp_path / "t.toml"
    path.write_text(study_toml() + f"\n[tasks.jsb.replicates.s]\n{table}\n")
    with pytest.raises(StudyFileError) as e:
        load_study(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_bad_set_name_is_refused(tmp_path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(study_toml() + '\n[tasks.jsb.replicates."Bad Name"]\nselect = [0]\nseeds = 1\n')
    with pytest.raises(StudyFileError, match="lower-case letters"):
        load_study(path)


def test_replicate_seeds_are_shared_by_variants_and_new() -> None:
    planned = 123
    assert replicates.replicate_seed(7, "jsb", 3, 0, planned) == planned
    one = replicates.replicate_seed(7, "jsb", 3, 1, planned)
    assert one == replicates.replicate_seed(7, "jsb", 3, 1, planned)  # any variant, any machine
    assert len({one, replicates.replicate_seed(7, "jsb", 3, 2, planned),
                replicates.replicate_seed(7, "jsb", 4, 1, planned), planned}) == 4


@pytest.mark.slow
def test_replicates_are_chosen_once_planned_once_resumed_and_read(tmp_path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(study_toml(trials=4) + SEEDS)
    spec = load_study(path)
    url = str(tmp_path / "journal.log")
    storage = StorageURL.parse(url).open(create=True)
    plan(spec, storage, StorageURL.parse(url))
    # before the searches are complete, the best 50 % cannot be chosen: nothing is planned
    assert [len(p.planned) for p in search_plans(spec, storage)] == [4, 4, 0, 0]
    # run part of it, then resume: the sets are planned when their searches are done
    Worker(spec, StorageURL.parse(url), storage=storage).run(max_trials=3)
    out = sweep(spec, url, progress=False, echo=_quiet)
    assert (out.done, out.planned) == (8 + 2 * 2 * 2, 16)
    again = sweep(spec, url, progress=False, echo=_quiet)
    assert again.already_complete and again.planned == 16

    results = load_results(url, spec.name, spec.searches())
    df = results.trials
    main = score(df[df["replicate_set"] == ""])
    for variant in spec.variants:
        name = replicates.study_name(spec.name, "jsb", variant, "seeds")
        trials = _replicate_trials(url, name)
        keys = [TrialRecord.from_user_attrs(t.user_attrs).key for t in trials]
        # exactly once: one trial per (configuration, replicate), all done
        assert sorted(keys) == sorted(set(keys)) and all(recovery.is_done(t) for t in trials)
        meta = StudyMeta.from_user_attrs(
            optuna.load_study(study_name=name, storage=storage).user_attrs)
        chosen = replicates.Replicates.from_dict(meta.replicates)
        # the chosen configurations are the analysis's best 50 % by validation
        best = top_trials(main[main["variant"] == variant], 0.5)
        assert chosen.configs == tuple(sorted(best["config_id"].astype(int)))
        assert set(keys) == {(c, r) for c in chosen.configs for r in (1, 2)}
        # the same hyperparameters as the configuration, other seeds than its planned one
        for t in trials:
            record = TrialRecord.from_user_attrs(t.user_attrs)
            row = main[(main["variant"] == variant) & (main["config_id"] == record.config_id)]
            assert t.params["hidden_size"] == row["hidden_size"].item()
            assert record.seed != row["seed"].item() and record.replicate in (1, 2)
    # paired: replicate r of configuration c has one seed, whatever the variant
    reps = df[df["replicate_set"] == "seeds"]
    assert (reps.groupby(["config_id", "replicate"])["seed"].nunique() == 1).all()
    assert set(reps["replicate"]) == {1, 2} and set(main["replicate"]) == {0}


@pytest.mark.slow
def test_an_extension_on_a_base_journal_never_writes_the_base(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    base_path = tmp_path / "a" / "journal.log"
    first = tmp_path / "a.toml"
    first.write_text(study_toml(name="a", trials=2))
    sweep(load_study(first), str(base_path), progress=False, echo=_quiet)
    digest = hashlib.sha256(base_path.read_bytes()).hexdigest()

    ext = tmp_path / "b.toml"
    text = study_toml(name="b", trials=2).replace("[tasks.jsb]\nsize = 2",
                                                  '[tasks.jsb]\nsize = 2\nfrom = "a"')
    ext.write_text(text + '\n[tasks.jsb.replicates.more]\nselect = [1]\nseeds = 1\n'
                   f'\n[storage]\nurl = "{tmp_path / "b" / "journal.log"}"\n'
                   f'base = "{base_path}"\n')
    spec = load_study(ext)
    out = sweep(spec, progress=False, echo=_quiet)
    assert (out.done, out.planned) == (4 + 2, 6)
    assert hashlib.sha256(base_path.read_bytes()).hexdigest() == digest
    # the extension reads the shared searches from the base and its own from its journal
    url = spec.storage()
    assert url.base == base_path
    df = load_results(url, spec.name, spec.searches()).trials
    assert set(df["optuna_study"]) == {"a/jsb/V", "a/jsb/NFG", "b/jsb/V/more", "b/jsb/NFG/more"}
    assert df.groupby("replicate_set").size().to_dict() == {"": 4, "more": 2}
    # a base that changed under the extension is refused, naming the fix
    with open(base_path, "ab") as f:
        f.write(b'{"op_code": 0, "worker_id": "x", "study_name": "z", "directions": [1]}\n')
    with pytest.raises(JournalCorrupt, match="has since changed"):
        url.open(create=False)
