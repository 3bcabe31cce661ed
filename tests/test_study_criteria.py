"""benchmarks/study_criteria.py: the epoch-cap measure; the study scripts' one-line errors."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "study_criteria.py"
_spec = importlib.util.spec_from_file_location("study_criteria", SCRIPT)
criteria = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(criteria)


def _history(metrics: list[float | None]) -> list[dict]:
    return [{"epoch": i + 1, "valid_metric": m} for i, m in enumerate(metrics)]


def test_gain_after_is_the_improvement_made_after_the_epoch() -> None:
    h = _history([30.0, 25.0, 24.0, 26.0, 23.5, 23.0])
    # best before epoch 4 is 24.0 (epochs 1-3), best overall 23.0
    assert criteria.gain_after(h, 4) == 1.0
    # the best came before epoch 7: nothing gained after it
    assert criteria.gain_after(h, 7) == 0.0


def test_gain_after_skips_unvalidated_epochs_and_needs_one_before() -> None:
    h = _history([None, 25.0, None, 24.0])
    assert criteria.gain_after(h, 3) == 1.0
    assert criteria.gain_after(h, 2) == math.inf


def test_wobble_is_the_change_between_consecutive_validations_at_the_end() -> None:
    h = _history([40.0, 30.0, 25.0, None, 24.0, 24.5])
    assert criteria.wobble(h, last=3) == [0.5]  # epochs 4-6, the unvalidated one skipped
    assert criteria.wobble(h) == [10.0, 5.0, 1.0, 0.5]


@pytest.mark.parametrize("script", ["study_criteria.py", "study_progress.py"])
def test_a_missing_storage_is_one_line_not_a_traceback(script: str, tmp_path: Path) -> None:
    study = Path(__file__).resolve().parents[1] / "studies" / "odyssey-free-2.toml"
    run = subprocess.run(
        [sys.executable, str(SCRIPT.parent / script), str(study),
         "--storage", str(tmp_path / "none.log")],
        check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith("error: no sweep storage at ")
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
