import json
import time

import numpy as np
import pytest
from click.testing import CliRunner

from lstm_odyssey.cli import cli
from lstm_odyssey.tasks import (
    TASK_NAMES,
    TaskNameError,
    cache,
    free_tasks,
    load_task,
    prepare,
    timit_synth,
)


def test_names_and_errors():
    assert TASK_NAMES == ("jsb", "timit-synth", "timit", "handwriting-synth", "iam-ondb")
    assert free_tasks() == ["jsb", "timit-synth", "handwriting-synth"]
    with pytest.raises(TaskNameError, match="valid tasks: jsb, timit-synth, timit"):
        load_task("timt")
    with pytest.raises(TaskNameError, match="size 'huge'"):
        load_task("timit-synth", size="huge")
    with pytest.raises(TaskNameError, match="no option colour"):
        load_task("timit-synth", colour=1)
    with pytest.raises(ValueError):                      # UserErrors are also builtins
        load_task("handwriting-synth", path="x")


def test_second_prepare_is_cached_and_corruption_is_rebuilt(data_dir):
    t0 = time.perf_counter()
    a = prepare("timit-synth", 6, seed=3).corpus
    build = time.perf_counter() - t0
    config = {"task": "timit-synth", "source": "espeak-ng", "size": (6, 1, 1), "seed": 3,
              "version": timit_synth.GENERATOR_VERSION}
    folder = cache.cache_dir(config)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sequences"] == {"train": 6, "valid": 1, "test": 1}
    assert folder.parent == data_dir
    t0 = time.perf_counter()
    b = prepare("timit-synth", 6, seed=3).corpus
    assert time.perf_counter() - t0 < build / 3
    assert all(np.array_equal(x, y) for x, y in zip(a.train.inputs, b.train.inputs))
    data = folder / "data.npz"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="corrupted"):
        c = prepare("timit-synth", 6, seed=3).corpus
    assert all(np.array_equal(x, y) for x, y in zip(a.train.inputs, c.train.inputs))
    assert cache.load(config) is not None                 # rebuilt and valid again
    assert prepare("timit-synth", 6, seed=4).corpus.train.ids != a.train.ids


def test_cli_prepare_info_show(tmp_path):
    r = CliRunner()
    res = r.invoke(cli, ["data", "prepare", "handwriting-synth", "--size", "6"])
    assert res.exit_code == 0, res.output
    assert "handwriting-synth: 6 train, 1 valid, 1 test" in res.output
    res = r.invoke(cli, ["data", "info", "handwriting-synth", "--size", "6", "--json"])
    info = json.loads(res.output)
    assert info["splits"]["train"]["sequences"] == 6 and info["input_size"] == 4
    assert sum(info["splits"]["train"]["class_counts"].values()) == sum(
        len(y) for y in load_task("handwriting-synth", 6).train.targets)
    out = tmp_path / "new" / "ex.png"                     # its folder is created
    res = r.invoke(cli, ["data", "show", "handwriting-synth", "--size", "6", "-o", str(out)])
    assert res.exit_code == 0 and out.read_bytes()[:4] == b"\x89PNG"
    res = r.invoke(cli, ["data", "show", "timit-synth", "--size", "4", "-o", str(out)])
    assert res.exit_code == 0 and out.stat().st_size > 1000
    res = r.invoke(cli, ["data", "info", "nope"])
    assert isinstance(res.exception, TaskNameError)
