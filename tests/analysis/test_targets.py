"""Where `lstm-odyssey report` reads from and writes to; the dashboard's storage check."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_odyssey.analysis.dashboard import run_dashboard
from lstm_odyssey.analysis.report import ReportTargetError, resolve_target
from lstm_odyssey.analysis.table import load_results
from lstm_odyssey.records import JOURNAL_FILE, StorageError, StorageNotFound

REPO = Path(__file__).resolve().parents[2]


def test_results_directory_target(tmp_path: Path) -> None:
    t = resolve_target(str(tmp_path), None, None)
    assert t.storage == str(tmp_path / JOURNAL_FILE) and t.study is None and t.searches is None
    assert t.out == tmp_path / "report"
    t = resolve_target(str(tmp_path), "sqlite:///x.db", "o")
    assert (t.storage, t.out) == ("sqlite:///x.db", Path("o"))


def test_study_file_target() -> None:
    t = resolve_target(str(REPO / "studies" / "smoke.toml"), None, None)
    assert t.storage.endswith(f"smoke/{JOURNAL_FILE}")
    assert t.study == "smoke" and t.searches
    assert all(name.startswith("smoke/") for name in t.searches)
    assert t.out == Path("results") / "smoke" / "report"


def test_missing_pieces_are_user_errors() -> None:
    with pytest.raises(ReportTargetError, match="--storage"):
        resolve_target(None, None, "out")
    with pytest.raises(ReportTargetError, match="-o DIR"):
        resolve_target(None, "x.log", None)


def test_password_is_masked_in_errors() -> None:
    with pytest.raises(StorageError) as e:
        load_results("postgresql://me:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in str(e.value)


def test_dashboard_checks_the_storage_first(tmp_path: Path) -> None:
    with pytest.raises(StorageNotFound):
        run_dashboard(str(tmp_path / "missing.log"))
