"""Local sweeps on the embedded journal storage: exactly once, resume after Ctrl-C,
determinism of a re-run trial, status, re-planning."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.records import STUDY_ATTR, Status, StorageURL, StudyMeta, TrialRecord
from lstm_odyssey.sweep.executors import sweep
from lstm_odyssey.sweep.studyfile import StudyFileError, load_study
from lstm_odyssey.tasks import load_task
from lstm_odyssey.train import run

from .conftest import CLI, assert_exactly_once, trials_by_config


@pytest.mark.slow
def test_smoke_sweep_jobs_2_completes_each_trial_exactly_once(write_study, tmp_path) -> None:
    spec = load_study(write_study(trials=3, variants='["V", "NFG", "CIFG"]'))
    url = str(tmp_path / "journal.log")
    out = sweep(spec, url, jobs=2, progress=False, echo=lambda s: None)
    assert (out.done, out.planned, out.already_complete) == (9, 9, False)
    found = assert_exactly_once(url, "t", searches=3, trials=3)
    assert all(len(ts) == 1 for g in found.values() for ts in g.values())  # nobody was lost
    # the paired design: configuration i has the same parameters and seed in every variant
    for cid in range(3):
        cfgs = {(json.dumps(g[cid][0].params, sort_keys=True), g[cid][0].user_attrs["seed"])
                for g in found.values()}
        assert len(cfgs) == 1
    # both processes worked, and trials record what a training run records
    t = found["t/jsb/V"][0][0]
    assert set(TrialRecord.stored_keys()) <= set(t.user_attrs) and t.user_attrs["history"]
    assert t.value == t.user_attrs["valid_metric"]
    storage = optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(url))
    meta = optuna.load_study(study_name="t/jsb/CIFG", storage=storage).user_attrs[
        STUDY_ATTR]
    # every key but those a search of this kind does not store (a replicate set's, a
    # continuation's first configuration, a user dataset's kind)
    assert set(StudyMeta.stored_keys()) - {"replicates", "first", "kind", "stands_for"} <= set(meta)
    assert meta["variant"] == "CIFG" and "replicates" not in meta and "first" not in meta
    assert meta["pruner"] == "none" and meta["metric"] == "nll_per_step"
    # running it again says so, runs nothing and writes nothing (a shipped journal stays as it
    # is)
    lines = []
    before = Path(url).read_bytes()
    again = sweep(spec, url, jobs=2, progress=False, echo=lines.append)
    assert again.already_complete and "is complete" in lines[0]
    assert Path(url).read_bytes() == before


def test_rerun_of_a_recorded_trial_reproduces_its_metric(write_study, tmp_path) -> None:
    spec = load_study(write_study(trials=1, variants='["NP"]', max_epochs=2))
    url = str(tmp_path / "journal.log")
    sweep(spec, url, jobs=1, progress=False, echo=lambda s: None)
    (t,), = trials_by_config(url, "t")["t/jsb/NP"].values()
    task = spec.tasks[0]
    config = spec.train_config(task, "NP", t.params, t.user_attrs["seed"], 0)
    record = run(config, task=load_task("jsb", size=task.size, seed=task.data_seed))
    assert record["valid_metric"] == t.value
    assert [h["valid_metric"] for h in record["history"]] == [
        h["valid_metric"] for h in t.user_attrs["history"]]


def test_more_trials_append_and_a_changed_plan_is_refused(write_study, tmp_path) -> None:
    path = write_study(trials=1, variants='["V"]')
    url = str(tmp_path / "journal.log")
    sweep(load_study(path), url, jobs=1, progress=False, echo=lambda s: None)
    first = trials_by_config(url, "t")["t/jsb/V"][0][0].params
    path.write_text(path.read_text().replace("trials = 1", "trials = 2"))
    sweep(load_study(path), url, jobs=1, progress=False, echo=lambda s: None)
    found = assert_exactly_once(url, "t", searches=1, trials=2)
    assert found["t/jsb/V"][0][0].params == first
    path.write_text(path.read_text().replace("seed = 7", "seed = 8"))
    with pytest.raises(StudyFileError, match="planned with a different seed.*seed: 7 → 8\\)"):
        sweep(load_study(path), url, jobs=1, progress=False, echo=lambda s: None)
    path.write_text(path.read_text().replace("seed = 8", "seed = 7").replace(
        "max_epochs = 1", "max_epochs = 2"))
    with pytest.raises(StudyFileError, match=r"\(protocol.max_epochs: 1 → 2\)"):
        sweep(load_study(path), url, jobs=1, progress=False, echo=lambda s: None)


def _done(url: str) -> int:
    try:
        groups = trials_by_config(url, "t")
    except Exception:  # noqa: BLE001 — the journal may not exist yet
        return 0
    return sum(t.state == optuna.trial.TrialState.COMPLETE
               for g in groups.values() for ts in g.values() for t in ts)


@pytest.mark.slow
@pytest.mark.parametrize("sig,jobs", [(signal.SIGINT, "2"), (signal.SIGTERM, "1")])
def test_ctrl_c_then_rerun_resumes_without_duplicates_or_losses(write_study, tmp_path, sig,
                                                                 jobs) -> None:
    """Ctrl-C, or SIGTERM to a sweep started in the background, stops it cleanly."""
    path = write_study(trials=2, variants='["V", "CIFG"]', max_epochs=30)
    url = str(tmp_path / "journal.log")
    cmd = [*CLI, "sweep", str(path), "--jobs", jobs, "--storage", url, "--no-progress"]
    # SIGTERM goes to a sweep that ignores SIGINT, as a shell's background job does.
    start = ["bash", "-c", 'trap "" INT; exec "$@"', "_"] if sig == signal.SIGTERM else []
    proc = subprocess.Popen([*start, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 240
    while _done(url) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.3)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    interrupted = _done(url)
    assert 1 <= interrupted < 4
    groups = trials_by_config(url, "t")
    states = [t.state for g in groups.values() for ts in g.values() for t in ts]
    assert optuna.trial.TrialState.RUNNING not in states  # the running ones were re-queued
    lost = [t for g in groups.values() for ts in g.values() for t in ts
            if t.user_attrs.get("status") == Status.LOST]
    again = subprocess.run([*cmd[:6], "1", *cmd[7:]], capture_output=True, text=True,
                           timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "is complete: 4/4" in again.stdout
    found = assert_exactly_once(url, "t", searches=2, trials=2)
    retried = {t.user_attrs.get("retry_of") for g in found.values() for ts in g.values()
               for t in ts}
    assert {t.number for t in lost} <= retried
    status = subprocess.run([*CLI, "status", str(path), "--storage", url, "--json"],
                            capture_output=True, text=True, check=True)
    rows = json.loads(status.stdout)["searches"]
    assert [(r["variant"], r["planned"], r["complete"], r["running"], r["waiting"])
            for r in rows] == [("V", 2, 2, 0, 0), ("CIFG", 2, 2, 0, 0)]
    assert sum(r["lost"] for r in rows) == len(lost)
    assert all(r["best"] is not None for r in rows)


def test_default_storage_is_under_results(write_study, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_study(write_study())
    assert spec.storage().resolved().text == str(tmp_path / "results" / "t" / "journal.log")


def test_a_lost_trial_nobody_requeued_is_picked_up_within_the_heartbeat_interval(
        write_study, tmp_path) -> None:
    """A reaper that died between failing a trial and re-queueing it leaves an orphan: a
    waiting sweep re-queues it once it is a heartbeat interval old, and says that it waits."""
    from lstm_odyssey.sweep import plan as plan_module
    from lstm_odyssey.sweep.worker import Worker

    url = str(tmp_path / "journal.log")
    spec = load_study(write_study(trials=1, variants='["V"]', storage=url))
    assert spec.heartbeat_interval == 1
    worker = Worker(spec, StorageURL.parse(url))
    assert plan_module.plan(spec, worker.storage, worker.url) == 1
    _, trial = worker.pop()
    worker.storage.set_trial_user_attr(trial._trial_id, "status", Status.LOST)
    worker.storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    # too recent: a reaper may be about to re-queue it
    assert plan_module.plan(spec, worker.storage, worker.url) == 0
    lines: list[str] = []
    sweep(spec, url, jobs=1, progress=False, echo=lines.append)
    assert "1 lost trial(s) wait to be re-queued (within 1 s, the storage's heartbeat " \
           "interval)" in lines
    found = assert_exactly_once(url, "t", searches=1, trials=1)
    lost, rerun = sorted(found["t/jsb/V"][0], key=lambda t: t.number)
    waited = (rerun.datetime_start - lost.datetime_complete).total_seconds()
    assert rerun.user_attrs["retry_of"] == lost.number
    assert 1.0 < waited < 1.0 + 2.0 + 3.0  # heartbeat interval + one poll (2 s) + slack


def test_exploratory_pruner_is_recorded_and_every_configuration_is_done_once(
        write_study, tmp_path) -> None:
    spec = load_study(write_study(trials=12, variants='["V"]', max_epochs=10,
                                  extra='pruner = "median"'))
    url = str(tmp_path / "journal.log")
    sweep(spec, url, jobs=1, progress=False, echo=lambda s: None)
    groups = trials_by_config(url, "t")["t/jsb/V"]
    assert sorted(groups) == list(range(12)) and all(len(ts) == 1 for ts in groups.values())
    states = {ts[0].state for ts in groups.values()}
    # with these seeds the median pruner (5 start-up trials, 5 warm-up epochs) stops one
    assert states == {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    for (t,) in groups.values():
        assert t.user_attrs["status"] == ("pruned" if t.state.name == "PRUNED" else "complete")
        assert t.user_attrs["history"]
    storage = optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(url))
    meta = optuna.load_study(study_name="t/jsb/V", storage=storage).user_attrs[
        STUDY_ATTR]
    assert meta["pruner"] == "median"


def test_a_task_shared_from_an_earlier_study_is_not_run_again(write_study, tmp_path) -> None:
    """`from`: a study replans one task without re-running the others — the shared searches
    must be what it would plan itself (same seed, space, protocol, data)."""
    url = str(tmp_path / "journal.log")
    sweep(load_study(write_study(trials=1, variants='["V"]')), url, jobs=1, progress=False,
          echo=lambda s: None)
    shared = write_study(name="u", trials=1, variants='["V"]').read_text().replace(
        "[tasks.jsb]\n", '[tasks.jsb]\nfrom = "t"\n')
    path = tmp_path / "u.toml"
    path.write_text(shared)
    spec = load_study(path)
    assert [name for _, _, name in spec.study_names()] == ["t/jsb/V"]
    lines: list[str] = []
    out = sweep(spec, url, jobs=1, progress=False, echo=lines.append)
    assert out.already_complete and (out.done, out.planned) == (1, 1), lines
    assert_exactly_once(url, "t", searches=1, trials=1)       # nothing was planned or run twice
    assert not [n for n in trials_by_config(url, "t") if not n.startswith("t/")]
    status = subprocess.run([*CLI, "status", str(path), "--storage", url, "--json"],
                            capture_output=True, text=True, check=True)
    (row,) = json.loads(status.stdout)["searches"]
    assert (row["task"], row["variant"], row["complete"]) == ("jsb", "V", 1), row
    assert set(load_results(url, searches=spec.searches()).trials["optuna_study"]) == {"t/jsb/V"}
    for change, words in [(("seed = 7", "seed = 8"), r"planned it differently \(seed: 7 → 8\)"),
                          (('from = "t"', 'from = "z"'), "has no search 'z/jsb/V'")]:
        path.write_text(shared.replace(*change))
        with pytest.raises(StudyFileError, match=words) as e:
            sweep(load_study(path), url, jobs=1, progress=False, echo=lambda s: None)
        assert "\n" not in str(e.value) and "shared from study" in str(e.value)
    stored = optuna.get_all_study_summaries(StorageURL.parse(url).open(create=False),
                                            include_best_trial=False)
    assert [s.study_name for s in stored] == ["t/jsb/V"]   # the refused runs created nothing


@pytest.mark.slow
def test_a_shared_task_with_more_trials_plans_only_the_configurations_after(write_study,
                                                                             tmp_path) -> None:
    """`from` with more trials than the origin planned: the origin's configurations are not
    run again; the later ones are planned in this study's own search, exactly as the origin
    would have drawn them (the paired design continues)."""
    url = str(tmp_path / "journal.log")
    sweep(load_study(write_study(trials=2, variants='["V"]')), url, progress=False,
          echo=lambda s: None)
    shared = write_study(name="u", trials=4, variants='["V"]').read_text().replace(
        "[tasks.jsb]\n", '[tasks.jsb]\nfrom = "t"\n')
    path = tmp_path / "u.toml"
    path.write_text(shared)
    spec = load_study(path)
    out = sweep(spec, url, progress=False, echo=lambda s: None)
    assert (out.done, out.planned, out.already_complete) == (4, 4, False)
    assert_exactly_once(url, "t", searches=1, trials=2)
    own = trials_by_config(url, "u")["u/jsb/V"]
    assert sorted(own) == [2, 3] and all(len(ts) == 1 for ts in own.values())
    drawn = load_study(write_study(name="w", trials=4, variants='["V"]'))
    from lstm_odyssey.sweep.space import plan_configs
    for c in plan_configs(drawn.space, drawn.seed, "jsb", 4)[2:]:
        (t,) = own[c.config_id]
        assert t.params == c.params and t.user_attrs["seed"] == c.seed
    df = load_results(url, spec.name, spec.searches()).trials
    assert sorted(df["config_id"]) == [0, 1, 2, 3]
    path.write_text(shared.replace("trials = 4", "trials = 1"))
    with pytest.raises(StudyFileError, match="more than 1; set 'trials' to at least 2"):
        sweep(load_study(path), url, progress=False, echo=lambda s: None)
