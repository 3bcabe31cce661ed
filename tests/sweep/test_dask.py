"""The Dask executor: a local cluster runs a small study to completion."""

from __future__ import annotations

import os

import pytest

from lstm_odyssey.sweep.executors import sweep
from lstm_odyssey.sweep.studyfile import load_study

from .conftest import assert_exactly_once


@pytest.mark.slow
def test_dask_local_cluster_runs_a_study_to_completion(write_study, tmp_path) -> None:
    pytest.importorskip("dask.distributed")
    spec = load_study(write_study(trials=2, variants='["V", "NIAF"]'))
    url = str(tmp_path / "journal.log")
    out = sweep(spec, url, jobs=2, dask="local", progress=False, echo=lambda s: None)
    assert (out.done, out.planned) == (4, 4)
    found = assert_exactly_once(url, "t", searches=2, trials=2)
    workers = {t.user_attrs["worker"]["pid"] for g in found.values() for ts in g.values()
               for t in ts}
    assert workers and os.getpid() not in workers  # run by the Dask workers, not in here
