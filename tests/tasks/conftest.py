"""Every test of the tasks package caches into its own temporary folder."""

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "datasets"
    monkeypatch.setenv("LSTM_ODYSSEY_DATA", str(d))
    return d
