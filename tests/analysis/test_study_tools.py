"""The study commands (`lstm-odyssey study …`, `lstm-odyssey calibrate …`): hand-computed
numbers on a small sweep written through the real worker (training replaced by made-up
curves), the tables shipped in results/ reproduced, and user mistakes as one line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lstm_odyssey.analysis import criteria, curves, progress, readme
from lstm_odyssey.analysis.study import open_study
from lstm_odyssey.records.runs import (
    CalibrationJob,
    CalibrationRun,
    RunFileError,
    TrainedRun,
    read_calibration_runs,
)
from lstm_odyssey.records.trial import Status, TrialRecord
from lstm_odyssey.sweep import worker
from lstm_odyssey.sweep.executors import sweep
from lstm_odyssey.sweep.studyfile import load_study
from lstm_odyssey.train.calibration import DEFAULT_LINE_SHAPE, calibration_grid

from ..sweep.conftest import study_toml

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "lstm_odyssey"]


def _history(metrics: list[float | None]) -> list[dict]:
    return [{"epoch": i + 1, "valid_metric": m} for i, m in enumerate(metrics)]


# -- the measures -----------------------------------------------------------------------------

def test_gain_after_is_the_improvement_made_from_the_epoch_on() -> None:
    h = _history([30.0, 25.0, 24.0, 26.0, 23.5, 23.0])
    assert criteria.gain_after(h, 4) == 1.0   # best of epochs 1-3 is 24.0, overall 23.0
    assert criteria.gain_after(h, 7) == 0.0   # the best came before epoch 7


def test_gain_after_skips_unvalidated_epochs_and_needs_one_before() -> None:
    h = _history([None, 25.0, None, 24.0])
    assert criteria.gain_after(h, 3) == 1.0
    assert criteria.gain_after(h, 2) == math.inf


def test_wobble_is_the_change_between_consecutive_validations_at_the_end() -> None:
    h = _history([40.0, 30.0, 25.0, None, 24.0, 24.5])
    assert criteria.wobble(h, last=3) == [0.5]  # epochs 4-6, the unvalidated one skipped
    assert criteria.wobble(h) == [10.0, 5.0, 1.0, 0.5]


def test_first_within_is_the_first_epoch_near_the_best() -> None:
    h = _history([50.0, 12.0, 10.4, 10.0, 10.6])
    assert curves.first_within(h, 10.0) == 3       # 10.4 ≤ 10 + 0.05 · 10
    assert curves.first_within(h, 10.0, within=0.01) == 4
    assert curves.first_within(h, None) is None


# -- a small sweep, written by the real worker ------------------------------------------------
# V and NFG, configurations c = 0…4, cap 10 epochs: the validation metric at epoch e is
# c + offset + 4/e (offset 0 for V, 1 for NFG), so the best epoch is the last; c < 2 run to
# the cap, the others stop at epoch 6; test = best valid + 0.25; CPU seconds 100·(c + 1)
# (+ 50 for NFG), wall seconds 20 more; NFG's configuration 3 fails before its first epoch.

def _fake_run(config, task=None, on_epoch=None) -> dict:
    c = config.config_id
    if config.variant == "NFG" and c == 3:
        raise RuntimeError("made-up failure")
    offset = 0.0 if config.variant == "V" else 1.0
    epochs = 10 if c < 2 else 6
    history = [{"epoch": e, "train_loss": 1.0, "train_metric": 1.0, "valid_loss": 1.0,
                "valid_metric": c + offset + 4 / e, "time_s": 1.0} for e in range(1, epochs + 1)]
    best = history[-1]["valid_metric"]
    cpu = 100.0 * (c + 1) + (50.0 if config.variant == "NFG" else 0.0)
    return TrialRecord(
        config_id=c, seed=config.seed, momentum=config.momentum, status=Status.COMPLETE,
        failure_reason="", valid_metric=best, test_metric=best + 0.25, train_metric=1.0,
        best_epoch=epochs, epochs=epochs, wall_time_s=cpu + 20, cpu_time_s=cpu,
        n_parameters=10, history=history, baseline_metric=12.0,
        versions={"lstm_odyssey": "9.9", "torch": "1.0", "numpy": "1.0", "optuna": "1.0",
                  "python": "3.11"}).to_dict()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study file of the small sweep (its journal beside it)."""
    tmp = tmp_path_factory.mktemp("tools")
    path = tmp / "tools.toml"
    path.write_text(study_toml(name="tools", trials=5, max_epochs=10,
                               storage=str(tmp / "journal.log")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(worker, "train_run", _fake_run)
        mp.setattr(worker.Worker, "task", lambda self, plan: None)
        sweep(load_study(path), None, jobs=1, progress=False, echo=lambda s: None)
    return path


def test_progress_counts_finished_trials_and_their_cpu_time(small: Path) -> None:
    p = progress.study_progress(open_study(small))
    (jsb,) = p.tasks
    cpu = [100, 200, 300, 400, 500, 150, 250, 350, 550]  # NFG's configuration 3 failed
    assert (jsb.task, jsb.planned, jsb.finished) == ("jsb", 10, 9)
    assert jsb.core_hours == pytest.approx(sum(cpu) / 3600)
    assert jsb.mean_core_s == pytest.approx(sum(cpu) / 9)
    assert jsb.p90_core_s == pytest.approx(510.0)   # linear: 500 + 0.2 · (550 − 500)
    assert jsb.mean_wall_s == pytest.approx(sum(cpu) / 9 + 20)
    assert jsb.remaining_core_hours == pytest.approx(sum(cpu) / 9 / 3600)
    assert p.to_markdown().splitlines()[2:] == [
        "| jsb | 9 / 10 | 0.78 | 311 | 510 | 331 | 0.1 |",
        "| all | 9 / 10 | 0.78 | | | | 0.1 |"]


def test_criteria_on_vanilla_judge_its_best_trial(small: Path) -> None:
    (c,) = criteria.study_criteria(open_study(small))
    # five V trials: the best 10 % is configuration 0, best 4/10 at epoch 10 = the cap
    assert (c.n, c.n_top, c.cap, c.early, c.capped) == (5, 1, 10, 0, 1)
    assert (c.best_valid, c.baseline, c.learned, c.cap_met) == (0.4, 12.0, True, False)
    assert c.gain == pytest.approx(4 / 7 - 4 / 10)  # best before epoch 8 is epoch 7's
    steps = sorted(4 / (e * (e + 1)) for e in range(1, 10))  # |Δ| of epochs 1…10
    assert c.wobble_median == pytest.approx(steps[4])
    assert c.wobble_p90 == pytest.approx(steps[7] + 0.2 * (steps[8] - steps[7]))
    assert (c.gap_mean, c.gap_max) == (pytest.approx(0.25), pytest.approx(0.25))
    assert criteria.to_markdown([c]).splitlines()[2] == (
        "| jsb | 5 | 12 | 0.4 (≤ 9.5: met) | 1 | 0.4 | 0 / 1 (cap 10: not met) "
        "| 1 / 1; 0.17 | 0.13 / 0.93 | 0.25 / 0.25 |")


def test_criteria_pooled_take_the_best_tenth_of_every_variant(small: Path) -> None:
    (c,) = criteria.study_criteria(open_study(small), criteria.ALL)
    # 9 results; the best 10 % = 1 trial: V's configuration 0
    assert (c.n, c.n_top, c.best_valid) == (9, 1, 0.4)
    with pytest.raises(criteria.CriteriaError, match="'NIG' is not one of study 'tools'"):
        criteria.study_criteria(open_study(small), "NIG")


def test_study_curves_list_a_variants_trials_best_first(small: Path) -> None:
    text = curves.trial_curves(open_study(small).results.trials, "jsb", "NFG")
    rows = text.splitlines()[2:]
    assert len(rows) == 4 and rows[0].split(" | ")[5] == "1.4"  # 1 + 4/10
    # configuration 1: 2 + 4/e, best 2.4; within 5 % (≤ 2.52) from epoch 8 (4/8 = 0.5)
    assert rows[1].split(" | ")[5:8] == ["2.4", "10 / 10", "8"]


def test_the_readme_block_is_replaced_and_keeps_the_authors_text(small: Path,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text("# tools\n\nWhat the study found.\n")
    study = open_study(small)
    readme.write_readme(study, "tools.toml", path, machine="a 2-core test machine")
    first = path.read_text()
    assert first.startswith("# tools\n\nWhat the study found.\n\n" + readme.BEGIN)
    assert "lstm-odyssey study progress tools.toml" in first
    words = " ".join(first.split())  # the bullets are wrapped
    assert ("- Versions (as the finished trials recorded them): lstm-odyssey 9.9, torch 1.0, "
            "optuna 1.0, numpy 1.0, Python 3.11 -") in words
    assert "- Machine: a 2-core test machine -" in words
    assert "| jsb | 9 / 10 | 0.78 | 311 | 510 | 331 | 0.1 |" in first
    path.write_text(first.replace("What the study found.", "What it found, revised.")
                    + "\nA closing note.\n")
    readme.write_readme(study, "tools.toml", path)  # no --machine: the block's is kept
    again = path.read_text()
    assert again.count(readme.BEGIN) == 1 and "What it found, revised." in again
    assert again.endswith("A closing note.\n") and again == first.replace(
        "What the study found.", "What it found, revised.") + "\nA closing note.\n"


def test_the_commands_print_the_tables(small: Path) -> None:
    out = subprocess.run([*CLI, "study", "criteria", str(small), "--variant", "all"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.splitlines()[0].startswith("| task | all trials | trivial baseline |")
    assert out.splitlines()[2].startswith("| jsb | 9 | 12 | 0.4 (≤ 9.5: met) | 1 |")


def test_help_lists_the_study_commands() -> None:
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert "study " in out and "calibrate " in out
    sub = subprocess.run([*CLI, "study", "--help"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert all(c in sub for c in ("progress", "criteria", "curves", "readme"))
    sub = subprocess.run([*CLI, "calibrate", "--help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert all(c in sub for c in ("run", "summary", "curves"))


# -- user mistakes: one line ------------------------------------------------------------------

def _one_line_error(*args: str, cwd: Path = ROOT) -> str:
    run = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                         check=False, cwd=cwd)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    return run.stderr


@pytest.mark.parametrize("command", ["progress", "criteria", "readme"])
def test_a_missing_storage_is_one_line(command: str, tmp_path: Path) -> None:
    err = _one_line_error("study", command, "studies/odyssey-free-2.toml",
                          "--storage", str(tmp_path / "none.log"))
    assert err.startswith("error: no sweep storage at ")


def test_a_bad_study_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\ntrails = 3\n[tasks.jsb]\n')
    assert "unknown key 'trails'" in _one_line_error("study", "progress", str(bad))
    assert _one_line_error("study", "criteria", str(tmp_path / "none.toml")).startswith(
        "error: ")


def test_an_unknown_variant_is_one_line(small: Path) -> None:
    assert "'XYZ' is not one of study 'tools'" in _one_line_error(
        "study", "criteria", str(small), "--variant", "XYZ")


def test_a_file_that_is_no_record_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    assert "not JSON" in _one_line_error("calibrate", "curves", str(tmp_path / "x.json"))
    assert "no *.jsonl" in _one_line_error("calibrate", "summary", str(tmp_path))
    with pytest.raises(RunFileError, match="no 'config'"):
        (tmp_path / "y.json").write_text('{"valid_metric": 1}')
        TrainedRun.read(tmp_path / "y.json")


# -- calibration records ----------------------------------------------------------------------

def test_a_calibration_run_round_trips_and_resumes_by_its_key(tmp_path: Path) -> None:
    (job,) = calibration_grid("handwriting-synth", "300", [63], [1e-3], ppc=(9.0, 13.0))
    record = _fake_run(type("C", (), {"config_id": 2, "variant": "V", "seed": 0,
                                      "momentum": 0.9})())
    run = CalibrationRun(job, (2.0, 3.0), TrialRecord.from_user_attrs(record), record)
    (tmp_path / "runs.jsonl").write_text(run.to_json() + "\n")
    (back,) = read_calibration_runs(tmp_path)
    assert back.job == job and back.job.key() == job.key() and back.cpu_s_per_epoch == 2.5
    assert back.record.valid_metric == pytest.approx(2 + 4 / 6)
    stored = json.loads(run.to_json())["job"]
    assert CalibrationJob.from_dict({**stored, "wall_budget": 60.0}).key() == job.key()
    assert CalibrationJob.from_dict({**stored, "lr": 1e-2}).key() != job.key()
    with pytest.raises(ValueError, match="apply to handwriting-synth only"):
        calibration_grid("jsb", line_chars=(10, 20))


# -- the shipped tables, reproduced -----------------------------------------------------------

def _rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")]


def _shipped_lines(path: str) -> set[str]:
    return {" ".join(line.split()) for line in (ROOT / path).read_text().splitlines()}


def _norm(line: str) -> str:
    return " ".join(line.split())


def test_pilot_curves_are_the_shipped_table() -> None:
    runs = [TrainedRun.read(p) for p in sorted((ROOT / "results/odyssey-free-2/pilot")
                                               .glob("*.json"))]
    table = curves.run_curves(runs)
    assert len(_rows(table)) == 1 + len(runs) == 6
    assert {_norm(r) for r in _rows(table)} <= _shipped_lines("results/odyssey-free-2/pilot.md")


def test_the_calibration_summary_is_the_shipped_table() -> None:
    runs = read_calibration_runs(ROOT / "results/odyssey-free/calibration")
    table = curves.calibration_summary(runs, DEFAULT_LINE_SHAPE)
    assert len(_rows(table)) == 1 + 13
    assert {_norm(r) for r in _rows(table)} <= _shipped_lines(
        "results/odyssey-free/calibration.md")


def test_the_journal_curves_are_the_shipped_table() -> None:
    study = open_study(ROOT / "results/odyssey-reduced/study.toml",
                       str(ROOT / "results/odyssey-reduced/journal.log"))
    table = curves.trial_curves(study.results.trials, "jsb")
    assert len(_rows(table)) == 1 + 8
    assert {_norm(r) for r in _rows(table)} <= _shipped_lines(
        "results/odyssey-free/calibration.md")


# What the retired scripts printed on the shipped study (benchmarks/study_progress.py): its
# README's cost table is now written by `lstm-odyssey study readme`, so the numbers are kept here.
SHIPPED_PROGRESS = """\
| jsb | 900 / 900 | 7.58 | 30 | 57 | 36 | 0.0 |
| timit-synth | 540 / 540 | 7.60 | 51 | 129 | 59 | 0.0 |
| handwriting-synth | 540 / 540 | 19.27 | 128 | 352 | 148 | 0.0 |
| all | 1980 / 1980 | 34.45 | | | | 0.0 |"""


@pytest.mark.slow
def test_the_shipped_study_gives_the_shipped_numbers() -> None:
    """Progress as the retired script printed it; both criteria tables as the study's README
    shows them (vanilla and every variant pooled)."""
    study = open_study(ROOT / "studies/odyssey-free-2.toml")
    assert _rows(progress.study_progress(study).to_markdown())[1:] == \
        SHIPPED_PROGRESS.splitlines()
    shipped = _shipped_lines("results/odyssey-free-2/README.md")
    for variant in ("V", criteria.ALL):
        rows = _rows(criteria.to_markdown(criteria.study_criteria(study, variant), variant))
        assert len(rows) == 4 and {_norm(r) for r in rows} <= shipped, variant


def test_the_trials_table_is_what_the_tools_read() -> None:
    """The tools take the trials table of load_results, nothing else: a hand-made one works."""
    trials = pd.DataFrame({
        "task": ["jsb"] * 3, "variant": ["V"] * 3, "status": ["complete", "lost", "diverged"],
        "replicate_set": ["", "", ""], "wall_time_s": [10.0, 5.0, 7.0],
        "cpu_time_s": [8.0, None, None], "versions": [None] * 3})
    p = progress.progress(trials, {"jsb": 4})
    assert (p.tasks[0].finished, p.tasks[0].core_hours * 3600) == (2, 15.0)  # lost left out


@pytest.mark.slow
def test_calibrate_run_trains_the_grid_once_and_resumes(tmp_path: Path) -> None:
    args = [*CLI, "calibrate", "run", "--task", "jsb", "--size", "4", "--hidden", "4",
            "--lr", "1e-2,1e-1", "--max-epochs", "2", "--jobs", "1", "--out", str(tmp_path)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert first.stdout.startswith("2 runs to do (0 already in ")
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert again.stdout.startswith("0 runs to do (2 already in ")
    runs = read_calibration_runs(tmp_path)
    assert sorted(r.job.lr for r in runs) == [1e-2, 1e-1]
    assert all(len(r.cpu_s) == r.record.epochs == 2 for r in runs)   # patience = max epochs
    rows = _rows(curves.calibration_summary(runs, DEFAULT_LINE_SHAPE))[1:]
    assert [r.split(" | ")[:5] for r in rows] == [["| jsb", "4", "–", "4", "0.01"],
                                                  ["| jsb", "4", "–", "4", "0.1"]]
