"""Shared helpers of the sweep tests: tiny study files and a throw-away PostgreSQL database."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from lstm_odyssey.records import Status, StorageURL
from lstm_odyssey.sweep import recovery, schema

PG_ADMIN = os.environ.get("LSTM_ODYSSEY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CLI = [sys.executable, "-m", "lstm_odyssey"]


def study_toml(name: str = "t", trials: int = 2, variants: str = '["V", "NFG"]',
               max_epochs: int = 1, extra: str = "", storage: str = "") -> str:
    """A tiny study: 2 chorales, 4–6 blocks, reference backend, 1 thread."""
    text = f"""
name = "{name}"
seed = 7
trials = {trials}
variants = {variants}
{extra}
[protocol]
max_epochs = {max_epochs}
patience = {max_epochs}
backend = "reference"

[space]
hidden_size = [4, 6]
learning_rate = [1e-2, 1e-1]

[tasks.jsb]
size = 2
"""
    if storage:
        text += f'\n[storage]\nurl = "{storage}"\nheartbeat_interval = 1\ngrace_period = 3\n'
    return text


@pytest.fixture
def write_study(tmp_path: Path):
    def write(**kw) -> Path:
        path = tmp_path / f"{kw.get('name', 't')}.toml"
        path.write_text(study_toml(**kw))
        return path
    return write


def trials_by_config(url: str, study: str) -> dict[str, dict[int, list]]:
    """{optuna study name: {config_id: [trials]}} of a study file's searches."""
    storage = StorageURL.parse(url).open(create=False)
    out: dict[str, dict[int, list]] = {}
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if not s.study_name.startswith(f"{study}/"):
            continue
        groups: dict[int, list] = {}
        for t in optuna.load_study(study_name=s.study_name, storage=storage).get_trials():
            groups.setdefault(t.user_attrs["config_id"], []).append(t)
        out[s.study_name] = groups
    return out


def assert_exactly_once(url: str, study: str, searches: int, trials: int) -> dict:
    """Every planned configuration of every search has exactly one result, and it is
    COMPLETE; every other trial of it is a LOST one that was re-queued."""
    found = trials_by_config(url, study)
    assert len(found) == searches
    for name, groups in found.items():
        assert sorted(groups) == list(range(trials)), name
        for cid, ts in groups.items():
            done = [t for t in ts if recovery.is_done(t)]
            assert len(done) == 1, (name, cid, [(t.number, t.state) for t in ts])
            assert done[0].state == optuna.trial.TrialState.COMPLETE
            assert done[0].user_attrs["status"] == "complete"
            for t in ts:
                if t is not done[0]:
                    assert t.state == optuna.trial.TrialState.FAIL
                    assert schema.trial_status(t.state, t.user_attrs["status"]) == Status.LOST
    return found


@pytest.fixture
def pg_url():
    """A fresh, uniquely named PostgreSQL database, dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError as e:
        pytest.skip(f"PostgreSQL at {PG_ADMIN} is unreachable ({str(e).strip()})")
    admin.autocommit = True
    name = f"lstm_odyssey_sweep_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
