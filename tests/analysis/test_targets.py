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
    assert t.storage.text.endswith(f"smoke/{JOURNAL_FILE}")
    assert not t.registration.stated  # no [analysis] table: the documented defaults
    assert t.study == "smoke" and t.searches
    assert all(name.startswith("smoke/") for name in t.searches)
    assert t.out == Path("results") / "smoke" / "report"


def test_a_study_and_its_extension_report_together() -> None:
    """An extension on its base journal holds the base study's searches: both files report
    from the extension's storage, the union of their searches, into the extension's folder."""
    base, ext = (str(REPO / "studies" / f) for f in ("odyssey-free-2.toml",
                                                     "odyssey-free-2-ext.toml"))
    t = resolve_target([base, ext], None, None)
    assert t.storage.base is not None and t.out == Path("results/odyssey-free-2-ext/report")
    alone = resolve_target(base, None, None).searches
    assert alone < t.searches and any(n.endswith("/seeds") for n in t.searches)
    with pytest.raises(ReportTargetError, match="do not share a storage"):
        resolve_target([base, str(REPO / "studies" / "smoke.toml")], None, None)


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
