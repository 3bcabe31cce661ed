"""The analysis reads what a real sweep stores: a one-trial sweep on real (tiny) JSB data, then
the trials table the report is built from."""

from __future__ import annotations

import math

import pytest

from lstm_odyssey.analysis.report import analyze
from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.sweep.executors import sweep
from lstm_odyssey.sweep.studyfile import load_study

from ..sweep.conftest import study_toml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("rec")
    (tmp / "rec.toml").write_text(study_toml(name="rec", trials=1, variants='["V"]'))
    url = str(tmp / "journal.log")
    sweep(load_study(tmp / "rec.toml"), url, jobs=1, progress=False, echo=lambda s: None)
    return url


def test_a_swept_trial_has_its_metrics_and_status(swept: str) -> None:
    t = load_results(swept).trials.iloc[0]
    assert t["status"] in ("complete", "diverged") and t["task"] == "jsb"
    assert math.isfinite(t["valid_metric"]) and t["n_parameters"] > 0


def test_a_swept_trial_stores_the_trivial_baseline_for_the_learnability_gate(
        swept: str) -> None:
    """Without it every real task's learnability is unknown and all findings not testable."""
    t = load_results(swept).trials.iloc[0]
    assert math.isfinite(t["baseline_metric"]) and t["baseline_metric"] > 0
    gate = analyze(swept, n_trees=4).tasks[0].learn
    assert "no trivial baseline" not in gate.reason

