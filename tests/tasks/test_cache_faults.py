"""The cache under faults: temp files of a killed writer are removed,
a manifest of the wrong shape is rebuilt, a data.npz that is a folder is a one-line error."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lstm_odyssey.tasks import cache
from lstm_odyssey.tasks.common import Corpus, RawSplit

CONFIG = {"task": "toy", "size": 2}  # any config: the cache functions do not interpret it


def _build() -> Corpus:
    split = RawSplit([np.ones((3, 2))], [np.zeros(3, dtype=np.int64)], ["a"])
    return Corpus(split, split, split, meta={"name": "toy"})


def test_temp_files_of_a_killed_writer_are_removed(data_dir):
    corpus = _build()
    folder = cache.save(CONFIG, corpus)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    litter = folder / f"tmp-{cache._host()}-{dead}-abc.npz"     # a killed prepare's
    other_host = folder / "tmp-elsewhere-1-abc.npz"             # another machine's, fresh
    legacy = folder / "tmpq1w2e3.npz"                     # earlier versions' name, a day old
    for f in (litter, other_host, legacy):
        f.write_bytes(b"partial")
    os.utime(legacy, (0, 0))
    live = folder / f"tmp-{cache._host()}-{os.getpid()}-abc.npz"  # a writer at work
    live.write_bytes(b"partial")
    cache.cached(CONFIG, lambda: corpus)
    assert not litter.exists() and not legacy.exists()
    assert other_host.exists() and live.exists()
    os.utime(other_host, (0, 0))
    os.utime(live, (0, 0))
    cache.cached(CONFIG, lambda: corpus)
    assert not other_host.exists() and not live.exists()          # older than a day


def test_a_manifest_of_the_wrong_shape_is_rebuilt(data_dir):
    corpus = _build()
    folder = cache.save(CONFIG, corpus)
    for wrong in ([1, 2], {"config": CONFIG}, "text", {"config": CONFIG, "sha256": "x"}):
        (folder / cache.MANIFEST).write_text(json.dumps(wrong))
        with pytest.warns(UserWarning, match="rebuilding"):
            assert cache.load(CONFIG) is None
    assert cache.cached(CONFIG, lambda: corpus) is not None and cache.load(CONFIG) is not None


def test_a_data_file_that_is_a_folder_is_a_one_line_error(data_dir):
    folder = cache.save(CONFIG, _build())
    (folder / cache.DATA_FILE).unlink()
    (folder / cache.DATA_FILE).mkdir()
    with pytest.raises(cache.CacheError) as e:
        cache.cached(CONFIG, lambda: pytest.fail("nothing is built"))
    assert str(folder) in str(e.value) and "\n" not in str(e.value)
