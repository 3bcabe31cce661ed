"""Shared fixtures: a fabricated sweep with known structure and the report built from it."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from lstm_odyssey.analysis.report import analyze, write_report
from lstm_odyssey.analysis.synthetic import write_synthetic_study

optuna.logging.set_verbosity(optuna.logging.WARNING)
TASKS = ("timit-synth", "iam-synth", "jsb-synth")


@pytest.fixture(scope="session")
def synthetic_storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three tasks × nine variants × 30 trials (best 10 % = 3) in a journal file."""
    path = tmp_path_factory.mktemp("sweep") / "journal.log"
    write_synthetic_study(str(path), tasks=TASKS, n_trials=30, seed=1)
    return str(path)


@pytest.fixture(scope="session")
def analysis(synthetic_storage: str):
    return analyze(synthetic_storage, n_trees=24)


@pytest.fixture(scope="session")
def report_dir(analysis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(analysis, out)
    return out
