"""Coordinators racing: several processes planning at once enqueue every configuration once."""

from __future__ import annotations

import multiprocessing as mp

from lstm_odyssey.records import StorageURL
from lstm_odyssey.sweep.plan import plan
from lstm_odyssey.sweep.studyfile import load_study

from .conftest import trials_by_config


def _coordinator(path: str, url: str, barrier, out) -> None:
    spec = load_study(path)
    storage = StorageURL.parse(url).open(create=True)
    barrier.wait()  # all processes start planning at the same moment
    out.put(plan(spec, storage, StorageURL.parse(url)))


def _race(path: str, url: str, n: int = 3) -> list[int]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_coordinator, args=(path, url, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    added = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    return added


def _check(url: str, added: list[int]) -> None:
    assert sorted(added) == [0, 0, 12]  # one coordinator did all the work
    found = trials_by_config(url, "t")
    assert len(found) == 2
    assert all(sorted(g) == list(range(6)) and all(len(ts) == 1 for ts in g.values())
               for g in found.values())


def test_racing_coordinators_on_a_journal_file(write_study, tmp_path) -> None:
    path = write_study(trials=6)
    url = str(tmp_path / "journal.log")
    _check(url, _race(str(path), url))


def test_racing_coordinators_on_postgresql(write_study, pg_url) -> None:
    path = write_study(trials=6)
    _check(pg_url, _race(str(path), pg_url))
