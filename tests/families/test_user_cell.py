"""A user's own cell: the worked example (examples/janet.py, JANET) loaded from
``package.module:Object``, checked against its equations, trained through TrainConfig and the
CLI, swept and reported beside the LSTM; every way to get the protocol wrong is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lstm_odyssey import count_parameters
from lstm_odyssey.families import CellError, load_cell, parse_variant
from lstm_odyssey.kernels import reference
from lstm_odyssey.nn import Recurrent
from lstm_odyssey.train import TrainConfig, run

from ..train.tiny_tasks import music_task

ROOT = Path(__file__).resolve().parents[2]
JANET = "examples.janet:JANET"
BAD = "tests.families.bad_cells"


@pytest.fixture(autouse=True)
def at_the_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # where 'examples.janet' imports from (the current directory)


def test_janet_follows_its_equations_and_every_gradient_checks():
    family = load_cell(JANET)
    assert parse_variant("JANET").family is family and family.origin == JANET
    assert load_cell(JANET) is family  # loading again is the same family
    torch.manual_seed(0)
    rnn = Recurrent(3, 4, variant="janet", init="normal", init_std=0.5).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    y, h_n = rnn(x)
    g = rnn.gate_weights()
    for b in range(2):
        h = torch.zeros(4, dtype=torch.float64)
        for t in range(6):
            s = g["W_f"] @ x[t, b] + g["R_f"] @ h + g["b_f"]
            cand = torch.tanh(g["W_c"] @ x[t, b] + g["R_c"] @ h + g["b_c"])
            h = torch.sigmoid(s) * h + (1 - torch.sigmoid(s - 1)) * cand
            torch.testing.assert_close(y[t, b], h)
        torch.testing.assert_close(h_n[0, b], h)
    assert rnn.count_parameters() == count_parameters("janet", 3, 4)
    assert count_parameters("janet", 39, 100) == 2 * 100 * (39 + 100 + 1)

    v = parse_variant("janet")
    params = {k: p.detach().clone().requires_grad_() for k, p in rnn.direction_params().items()}
    xs = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)

    def f(x, h0, *ps):
        y, (h,) = reference.family_sequence(v, x, dict(zip(params, ps)), (h0,))
        return y, h

    assert torch.autograd.gradcheck(f, (xs, h0, *params.values()))


def test_a_function_returning_the_cell_loads_and_state_names_are_enough():
    family = load_cell(f"{BAD}:elman")
    assert [s.name for s in family.make_cell(None).state] == ["h"]
    y, h = Recurrent(2, 3, variant="elman")(torch.randn(4, 2))
    assert y.shape == (4, 3) and h.shape == (1, 3)


@pytest.mark.parametrize("path, message", [
    ("examples.janet", "write it as 'package.module:ClassOrFunction'"),
    ("no_such_package.cells:X", "cannot import 'no_such_package.cells'"),
    ("examples.janet:Janet", "module 'examples.janet' has no 'Janet'"),
    (f"{BAD}:NoStep", "it has no step (the protocol: name, state, parameters, step"),
    (f"{BAD}:NOT_A_CELL", "it has no name, state, parameters, step"),
])
def test_a_wrong_path_or_a_missing_method_is_one_line(path, message):
    with pytest.raises(CellError) as e:
        load_cell(path)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("obj, message", [
    ("WrongShape", "step returned state 'c' of shape (2, 1), expected (2, 4) (B, 1·N)"),
    ("ReturnsNaN", "step returned NaN or inf in state 'h' on the first step of the first batch"),
])
def test_a_wrong_state_or_nan_on_the_first_batch_is_one_line(obj, message):
    family = load_cell(f"{BAD}:{obj}")
    rnn = Recurrent(3, 4, variant=family.name)
    with pytest.raises(CellError) as e:
        rnn(torch.randn(5, 2, 3))
    assert message in str(e.value) and f"{BAD}:{obj}" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_users_cell_trains_like_a_built_in():
    config = TrainConfig(task="music-test", variant=None, cell=JANET, hidden_size=5,
                         learning_rate=0.1, momentum=0.9, input_noise=0.0, max_epochs=3,
                         patience=3, threads=1)
    assert config.variant == "janet" and config.to_dict()["cell"] == JANET
    record = run(config, task=music_task())
    assert record["status"] == "complete" and record["variant"] == "janet"
    assert record["backend"] == "reference"
    losses = [e["train_loss"] for e in record["history"]]
    assert losses[-1] < losses[0]
    assert record["n_parameters"] == count_parameters("janet", 6, 5) + 6 * 5 + 6


def test_the_cli_trains_a_cell_and_names_a_wrong_one_in_one_line():
    base = [sys.executable, "-m", "lstm_odyssey", "train", "--task", "jsb", "--hidden", "4",
            "--lr", "0.01", "--momentum", "0.9"]
    out = subprocess.run([*base, "--cell", "examples.janet:Janet"], cwd=ROOT, check=False,
                         capture_output=True, text=True)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no 'Janet'" in lines[0], out.stderr


@pytest.mark.slow
def test_a_users_cell_sweeps_and_reports_beside_the_lstm(tmp_path):
    from lstm_odyssey.analysis.report import build_report
    from lstm_odyssey.analysis.table import load_results
    from lstm_odyssey.sweep.executors import sweep
    from lstm_odyssey.sweep.studyfile import load_study

    study = tmp_path / "cells.toml"
    study.write_text(f"""
name = "cells"
seed = 3
trials = 2
cell = "{JANET}"
variants = ["V", "janet", "gru"]
[protocol]
max_epochs = 1
patience = 1
[space]
hidden_size = [4, 6]
[tasks.jsb]
size = 2
""")
    spec = load_study(study)
    assert spec.variants == ("V", "janet", "gru") and spec.cell == JANET
    url = str(tmp_path / "journal.log")
    out = sweep(spec, url, jobs=1, progress=False, echo=lambda s: None)
    assert out.done == 6
    table = load_results(url)
    assert sorted(set(table.trials["variant"])) == ["V", "gru", "janet"]
    report = build_report(url, tmp_path / "report", n_trees=5)
    assert "janet" in (report.parent / "report.md").read_text()
