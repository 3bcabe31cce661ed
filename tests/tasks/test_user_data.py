"""The user's own data: the dataset format's round trip for every kind, every validation error
(one line, naming the file and the sequence, nothing cached), planted tasks of the new kinds
that a small network learns, a study file with a path task, and the analysis's labels."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_odyssey.analysis.findings import TaskAnalysis
from lstm_odyssey.analysis.stats import Learnability
from lstm_odyssey.tasks import (
    DatasetError,
    Source,
    StandsFor,
    TaskKind,
    TaskNameError,
    load_task,
    prepare,
    write_dataset,
)
from lstm_odyssey.tasks import userdata as ud
from lstm_odyssey.tasks.common import CorpusError
from lstm_odyssey.tasks.kinds import PaperDataset, Role

RNG = np.random.default_rng(0)


def _sequences(n: int, m: int = 3, lo: int = 6, hi: int = 14) -> list[np.ndarray]:
    return [RNG.normal(size=(int(RNG.integers(lo, hi)), m)).astype(np.float32) for _ in range(n)]


def targets_for(kind: TaskKind, xs: list[np.ndarray]) -> list:
    """Targets of each kind that depend on the inputs (so that they can be learned)."""
    if kind is TaskKind.FRAMEWISE_CE:
        return [(x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0) for x in xs]  # 4 classes
    if kind is TaskKind.BERNOULLI:
        return [(x[:, :2] > 0).astype(np.float32) for x in xs]
    if kind is TaskKind.FRAMEWISE_MSE:
        return [np.stack([x[:, 0], np.cumsum(x[:, 1]) / 4], 1).astype(np.float32) for x in xs]
    if kind is TaskKind.CTC:
        return [np.array([1 + int(x[0, 0] > 0), 3, 3][: 1 + i % 3]) for i, x in enumerate(xs)]
    return [int(x[:, 0].mean() > 0) for x in xs]  # SEQUENCE_CE


def splits(kind: TaskKind, n: tuple[int, int, int] = (12, 4, 4)) -> dict:
    out = {}
    for s, k in zip(("train", "valid", "test"), n):
        xs = _sequences(k)
        out[s] = (xs, targets_for(kind, xs))
    return out


def write(folder: Path, kind: TaskKind, **kw) -> Path:
    return write_dataset(folder, name="mine", kind=kind, **splits(kind), **kw)


# -- round trip ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(TaskKind))
def test_round_trip_of_every_kind(kind, tmp_path, data_dir):
    data = splits(kind)
    folder = write_dataset(tmp_path / "d", name="mine", kind=kind, **data,
                           output_size=4 if kind in (TaskKind.CTC, TaskKind.FRAMEWISE_CE)
                           else None, description="planted", normalise=False,
                           ids={"train": [f"s{i}" for i in range(12)]})
    config, corpus = ud.read_dataset(folder)
    assert (config.kind, config.input_size, config.source) == (kind, 3, Source.USER_FILES)
    for s, (xs, ys) in data.items():
        raw = corpus.split(s)
        assert len(raw) == len(xs)
        for a, b in zip(raw.inputs, xs):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(raw.targets, ys):
            np.testing.assert_array_equal(a.reshape(-1), np.asarray(b).reshape(-1))
    assert corpus.train.ids[:2] == ["s0", "s1"] and corpus.valid.ids[0] == "valid/0"
    task = load_task(None, path=folder)
    assert (task.name, task.loss, task.metric, task.source) == ("mine", kind, kind.metric,
                                                               "user files")
    assert task.bidirectional == kind.spec.bidirectional and task.stands_for is None
    if kind is TaskKind.CTC:
        assert task.num_classes == 4 and task.class_names[0] == "<blank>"
    # the arrays reach training unchanged (normalise = false), at the kind's dtypes
    np.testing.assert_array_equal(task.train.inputs[3], data["train"][0][3])
    assert task.train.targets[0].dtype == (np.int64 if kind.classes else np.float32)
    # the toml is what tomllib reads back, every field
    again = ud.read_config(folder)
    assert again == config and again.description == "planted" and again.normalise is False


def test_dataset_toml_fields_and_overrides(tmp_path, data_dir):
    folder = write(tmp_path / "d", TaskKind.FRAMEWISE_CE, output_size=4,
                   class_names=["a", "b", "c", "d"], source="free corpus", stands_for="TIMIT",
                   bidirectional=False, normalise=[0, 2], origin="https://example.org",
                   licence="CC0 1.0", description='a "quoted" line')
    config = ud.read_config(folder)
    assert config.stands_for == StandsFor(PaperDataset.TIMIT, False)
    assert (config.origin, config.licence, config.normalise) == ("https://example.org",
                                                                 "CC0 1.0", (0, 2))
    task = load_task("renamed", path=folder)
    assert (task.name, task.bidirectional, task.class_names) == ("renamed", False,
                                                                list("abcd"))
    assert task.description == 'a "quoted" line' and task.source == Source.FREE_CORPUS
    # column 1 is left as written, 0 and 2 are z-normalised with training statistics
    x = np.concatenate(task.train.inputs)
    assert abs(x[:, 0].mean()) < 1e-5 and abs(x[:, 0].std() - 1) < 1e-4
    raw = np.concatenate(prepare(None, path=folder).corpus.train.inputs)
    np.testing.assert_allclose(x[:, 1], raw[:, 1])
    assert load_task("renamed", path=folder, bidirectional=True).bidirectional
    with pytest.raises(TaskNameError, match="no option phones"):
        load_task("renamed", path=folder, phones=39)
    with pytest.raises(TaskNameError, match="built-in task"):
        load_task("jsb", path=folder)


def test_a_valid_dataset_is_cached_by_content(tmp_path, data_dir):
    folder = write(tmp_path / "d", TaskKind.SEQUENCE_CE)
    prepare(None, path=folder)
    (entry,) = list(data_dir.iterdir())
    assert entry.name.startswith("mine-")
    prepare("other-name", path=folder)  # the same files: the same entry
    assert len(list(data_dir.iterdir())) == 1
    write(folder, TaskKind.SEQUENCE_CE)  # new random data: a new entry
    prepare(None, path=folder)
    assert len(list(data_dir.iterdir())) == 2


# -- validation errors ---------------------------------------------------------------------------
def _edit(folder: Path, split: str = "train", **arrays) -> None:
    """Rewrite one split file with some arrays replaced (None: removed)."""
    path = folder / ud.SPLIT_FILES[split]
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    for k, v in arrays.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    np.savez(path, **data)


def _train(folder: Path) -> dict:
    with np.load(folder / "train.npz") as f:
        return {k: f[k] for k in f.files}


def _toml(folder: Path, old: str, new: str) -> None:
    p = folder / ud.CONFIG_FILE
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))


def _nan(folder):
    x = _train(folder)["inputs"].copy()
    o = _train(folder)["offsets"]
    x[o[3] + 1, 2] = np.nan
    _edit(folder, inputs=x)


def _inf(folder):
    x = _train(folder)["inputs"].copy()
    x[_train(folder)["offsets"][5], 0] = np.inf
    _edit(folder, inputs=x)


def _ragged(folder):
    o = _train(folder)["offsets"].copy()
    o[2] = o[1]  # sequence 1 has no steps
    _edit(folder, offsets=o)


def _label(folder):
    y = _train(folder)["targets"].copy()
    y[_train(folder)["offsets"][4]] = 7
    _edit(folder, targets=y)


def _crafted_pickle(folder):
    class Boom:
        def __reduce__(self):
            return (Path.touch, (folder / "pwned",))

    arrays = _train(folder)
    arrays["ids"] = np.array([Boom()] * 12, dtype=object)
    np.savez(folder / "train.npz", **arrays, allow_pickle=True)


FRAME = TaskKind.FRAMEWISE_CE
# (id, kind, corruption, the words the one-line message must hold)
CASES = [
    ("nan-input", FRAME, _nan, ["train.npz", "sequence 3", "NaN or infinite", "fill or drop"]),
    ("inf-input", FRAME, _inf, ["train.npz", "sequence 5", "NaN or infinite"]),
    ("ragged-offsets", FRAME, _ragged, ["train.npz", "sequence 1", "offsets must increase"]),
    ("offsets-end", FRAME, lambda f: _edit(f, offsets=_train(f)["offsets"][:-1]),
     ["train.npz", "'offsets' ends at", "row count"]),
    ("offsets-start", FRAME, lambda f: _edit(f, offsets=_train(f)["offsets"] + 1),
     ["train.npz", "'offsets'[0] = 1", "must be 0"]),
    ("offsets-dtype", FRAME, lambda f: _edit(f, offsets=_train(f)["offsets"].astype(float)),
     ["train.npz", "'offsets' is float64", "1-D integers"]),
    ("input-dtype", FRAME, lambda f: _edit(f, inputs=_train(f)["inputs"].astype(np.int32)),
     ["train.npz", "'inputs' is int32", "astype(np.float32)"]),
    ("input-columns", FRAME, lambda f: _edit(f, inputs=_train(f)["inputs"][:, :2]),
     ["train.npz", "2 columns", "input_size = 3"]),
    ("target-dtype", FRAME, lambda f: _edit(f, targets=_train(f)["targets"].astype(float)),
     ["train.npz", "'targets' is float64", "astype(np.int64)"]),
    ("target-rows", FRAME, lambda f: _edit(f, targets=_train(f)["targets"][:-1]),
     ["train.npz", "'targets' has", "one target row per input step"]),
    ("label-range", FRAME, _label, ["train.npz", "sequence 4", "target 7 is outside 0…3",
                                    "raise output_size"]),
    ("ctc-blank-label", TaskKind.CTC,
     lambda f: _edit(f, targets=_train(f)["targets"] * 0),
     ["train.npz", "sequence 0", "0 is the CTC blank"]),
    ("ctc-too-long", TaskKind.CTC,
     lambda f: _edit(f, targets=np.full(14 * 12, 2),
                     target_offsets=np.arange(0, 14 * 13, 14)),
     ["train.npz", "sequence 0", "fewer than CTC needs", "drop it"]),
    ("ctc-offsets-count", TaskKind.CTC,
     lambda f: _edit(f, target_offsets=_train(f)["target_offsets"][:-2].copy()),
     ["train.npz", "'target_offsets'"]),
    ("bernoulli-values", TaskKind.BERNOULLI,
     lambda f: _edit(f, targets=_train(f)["targets"] * 2),
     ["train.npz", "sequence 0", "not 0 or 1"]),
    ("regression-nan", TaskKind.FRAMEWISE_MSE,
     lambda f: _edit(f, targets=_train(f)["targets"] * np.nan),
     ["train.npz", "sequence 0", "'targets' has a NaN"]),
    ("sequence-count", TaskKind.SEQUENCE_CE,
     lambda f: _edit(f, targets=_train(f)["targets"][:-1]),
     ["train.npz", "11 labels for 12 sequences"]),
    ("empty-split", FRAME,
     lambda f: _edit(f, "valid", inputs=np.zeros((0, 3), np.float32),
                     offsets=np.zeros(1, np.int64), targets=np.zeros(0, np.int64)),
     ["valid.npz", "the split is empty", "at least one sequence"]),
    ("missing-split", FRAME, lambda f: (f / "test.npz").unlink(),
     ["the test split is missing", "no test.npz"]),
    ("missing-array", FRAME, lambda f: _edit(f, offsets=None),
     ["train.npz", "array 'offsets' is missing"]),
    ("unknown-array", FRAME, lambda f: _edit(f, target=_train(f)["targets"]),
     ["train.npz", "unknown array 'target'", "did you mean 'targets'"]),
    ("unknown-key", FRAME, lambda f: _toml(f, "kind =", "knd = \"x\"\nkind ="),
     ["dataset.toml", "unknown key 'knd'", "did you mean 'kind'"]),
    ("missing-key", FRAME, lambda f: _toml(f, "input_size = 3\n", ""),
     ["dataset.toml", "'input_size' is missing"]),
    ("unknown-kind", FRAME, lambda f: _toml(f, '"framewise_ce"', '"framewise"'),
     ["dataset.toml", "unknown task kind 'framewise'", "sequence_ce"]),
    ("format-version", FRAME, lambda f: _toml(f, "format = 1", "format = 2"),
     ["dataset.toml", "'format' = 2", "update lstm-odyssey"]),
    ("class-names", FRAME, lambda f: _toml(f, "normalise", 'class_names = ["a"]\nnormalise'),
     ["dataset.toml", "'class_names' has 1 names", "needs 4"]),
    ("not-toml", FRAME, lambda f: _toml(f, "format = 1", "format = = 1"),
     ["dataset.toml", "not valid TOML"]),
    ("pickle", FRAME, _crafted_pickle,
     ["train.npz", "object array", "never loaded"]),
]


def _valid_folder(tmp_path: Path, kind: TaskKind) -> Path:
    return write(tmp_path / "d", kind, output_size=4 if kind is not TaskKind.SEQUENCE_CE
                 and kind.classes else None)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_bad_dataset_fails_in_one_line_and_caches_nothing(case, tmp_path, data_dir):
    _, kind, corrupt, words = case
    folder = _valid_folder(tmp_path, kind)
    corrupt(folder)
    with pytest.raises((DatasetError, CorpusError)) as e:
        prepare(None, path=folder)
    message = str(e.value)
    assert "\n" not in message, message
    for w in words:
        assert w in message, (w, message)
    assert not data_dir.exists() or not any(data_dir.iterdir())  # nothing cached
    assert not (folder / "pwned").exists()  # no code from the files ran


def test_a_folder_without_dataset_toml(tmp_path, data_dir):
    (tmp_path / "d").mkdir()
    with pytest.raises(CorpusError, match=r"no dataset\.toml; a dataset folder needs one"):
        load_task("mine", path=tmp_path / "d")
    with pytest.raises(TaskNameError, match="did you mean 'timit'"):
        load_task("timt", path=tmp_path / "d")


def test_write_dataset_checks_what_it_wrote(tmp_path, data_dir):
    xs = _sequences(3)
    bad = [np.zeros(len(x) + 1, np.int64) for x in xs]
    with pytest.raises(DatasetError, match="one target row per input step"):
        write_dataset(tmp_path / "d", name="mine", kind="framewise_ce", train=(xs, bad),
                      valid=(xs, bad), test=(xs, bad))
    with pytest.raises(DatasetError, match="3 input sequences but 2 targets"):
        write_dataset(tmp_path / "d", name="mine", kind="framewise_ce", train=(xs, bad[:2]),
                      valid=(xs, bad), test=(xs, bad))


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from lstm_odyssey import cli

    old = sys.argv
    sys.argv = ["lstm-odyssey", *argv]
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_data_commands_and_errors(tmp_path, data_dir, capsys):
    folder = write(tmp_path / "d", TaskKind.FRAMEWISE_MSE, stands_for="JSB")
    code, out, _ = _cli(["data", "info", "--path", str(folder)], capsys)
    assert code == 0 and "mine (user files, stands in for JSB)" in out
    assert "framewise regression" in out and "metric rmse" in out
    code, out, _ = _cli(["data", "prepare", "--path", str(folder)], capsys)
    assert code == 0 and out.strip() == "mine: 12 train, 4 valid, 4 test"
    code, out, _ = _cli(["data", "show", "--path", str(folder), "-o", str(tmp_path / "a.png")],
                        capsys)
    assert code == 0 and (tmp_path / "a.png").stat().st_size > 1000
    _nan(folder)
    code, out, err = _cli(["data", "info", "--path", str(folder)], capsys)
    assert code == 2 and err.count("\n") == 1 and "sequence 3" in err and "Traceback" not in err
    code, _, err = _cli(["data", "info"], capsys)
    assert code == 2 and "give a dataset folder with --path" in err


def test_cli_train_task_path(tmp_path, data_dir, capsys):
    folder = write(tmp_path / "d", TaskKind.SEQUENCE_CE)
    code, out, _ = _cli(["train", "--task-path", str(folder), "--hidden", "4", "--lr", "1e-2",
                         "--momentum", "0.9", "--max-epochs", "2", "--json"], capsys)
    import json

    record = json.loads(out)
    assert code == 0 and record["task"] == "mine" and record["metric"] == "sequence_error_pct"
    assert record["source"] == "user files" and record["config"]["path"] == str(folder)
    code, _, err = _cli(["train", "--hidden", "4", "--lr", "1e-2", "--momentum", "0.9"], capsys)
    assert code == 2 and "--task-path" in err


def test_a_data_cache_that_is_a_file_is_one_line(tmp_path, data_dir, capsys, monkeypatch):
    folder = write(tmp_path / "d", TaskKind.FRAMEWISE_CE)
    (tmp_path / "cache").write_text("")
    monkeypatch.setenv("LSTM_ODYSSEY_DATA", str(tmp_path / "cache"))
    code, _, err = _cli(["data", "prepare", "--path", str(folder)], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"the data cache {tmp_path / 'cache'} is a file" in err and "LSTM_ODYSSEY_DATA" in err


def test_cli_calibrate_task_path(tmp_path, data_dir, capsys):
    """A calibration grid on a dataset folder: whole curves of the vanilla LSTM, resumable."""
    from lstm_odyssey.records.runs import read_calibration_runs

    folder = write(tmp_path / "d", TaskKind.FRAMEWISE_CE)
    args = ["calibrate", "run", "--task-path", str(folder), "--hidden", "4", "--lr", "1e-2",
            "--max-epochs", "2", "-j", "1", "--out", str(tmp_path / "cal")]
    code, out, _ = _cli(args, capsys)
    assert code == 0 and out.count("1 runs to do") == 1
    (run,) = read_calibration_runs(str(tmp_path / "cal"))
    assert run.job.task == "mine" and run.job.path == str(folder) and len(run.cpu_s) == 2
    assert run.record.epochs == 2 and run.record.baseline_metric > 0
    code, out, _ = _cli(args, capsys)
    assert code == 0 and "0 runs to do (1 already in" in out
    code, _, err = _cli(["calibrate", "run", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "--task-path" in err


@pytest.mark.slow
def test_a_bad_dataset_prints_one_line_in_its_own_process(tmp_path):
    folder = write(tmp_path / "d", FRAME, output_size=4)
    _label(folder)
    cmd = Path(sys.executable).with_name("lstm-odyssey")
    env = {"LSTM_ODYSSEY_DATA": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([str(cmd), "data", "info", "--path", str(folder)], check=False,
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "sequence 4" in p.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


# -- planted tasks of the new kinds --------------------------------------------------------------
def _learns(folder: Path, hidden: int, lr: float, epochs: int) -> dict:
    from lstm_odyssey.train import TrainConfig, run

    config = TrainConfig(task="mine", path=str(folder), variant="V", hidden_size=hidden,
                         learning_rate=lr, momentum=0.9, input_noise=0.0, max_epochs=epochs,
                         patience=epochs, seed=0, threads=1)
    return run(config)


def test_planted_regression_is_learned_past_its_baseline(tmp_path, data_dir):
    """y_t = mean of x over the last three steps (channel 0): a unidirectional LSTM needs
    memory of two steps; the trivial predictor (the training mean) has RMSE ≈ std(y)."""
    def make(n):
        xs = _sequences(n, 2, 10, 16)
        ys = [np.convolve(x[:, 0], np.ones(3) / 3)[: len(x), None].astype(np.float32)
              for x in xs]
        return xs, ys

    folder = write_dataset(tmp_path / "d", name="mine", kind="framewise_mse", train=make(30),
                           valid=make(15), test=make(15))
    r = _learns(folder, 8, 0.1, 8)
    assert r["status"] == "complete" and r["metric"] == "rmse"
    assert r["baseline_metric"] > 0.45
    assert r["test_metric"] < 0.5 * r["baseline_metric"], r


@pytest.mark.parametrize("bidirectional", [False, True])
def test_planted_sequence_classes_are_learned_past_the_baseline(bidirectional, tmp_path,
                                                                data_dir):
    """Class k of 3: channel k is shifted by +0.8 at every step, under noise of std 1 (one
    step alone tells the class only roughly: the final state must accumulate the evidence)."""
    def make(n):
        xs, ys = [], []
        for _ in range(n):
            k = int(RNG.integers(3))
            x = RNG.normal(0, 1.0, size=(int(RNG.integers(6, 12)), 3)).astype(np.float32)
            x[:, k] += 0.8
            xs.append(x)
            ys.append(k)
        return xs, ys

    folder = write_dataset(tmp_path / "d", name="mine", kind="sequence_ce", train=make(60),
                           valid=make(60), test=make(60), normalise=False,
                           bidirectional=bidirectional)
    r = _learns(folder, 8, 0.1, 10)
    assert r["metric"] == "sequence_error_pct" and r["baseline_metric"] > 45
    assert r["test_metric"] < 0.6 * r["baseline_metric"], r


def test_final_state_readout_does_not_depend_on_padding():
    """The sequence readout of a padded batch equals each sequence's alone (both directions'
    final states, not the padded last step)."""
    import torch

    from lstm_odyssey.tasks.kinds import Readout
    from lstm_odyssey.train.model import SequenceModel

    torch.manual_seed(0)
    model = SequenceModel(3, 5, 2, True, readout=Readout.FINAL)
    xs = [torch.randn(n, 3) for n in (4, 7, 2)]
    padded = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True)
    together = model(padded, torch.tensor([4, 7, 2]))
    assert together.shape == (3, 1, 2)
    for i, x in enumerate(xs):
        torch.testing.assert_close(together[i], model(x[None], None)[0], rtol=1e-5, atol=1e-6)


# -- a study file with a path task, and the analysis's labels ------------------------------------
def test_a_study_with_a_path_task_runs_and_is_reported_by_its_kind(tmp_path, data_dir):
    from lstm_odyssey.analysis.report import analyze
    from lstm_odyssey.records import STUDY_ATTR
    from lstm_odyssey.sweep.executors import sweep
    from lstm_odyssey.sweep.studyfile import StudyFileError, load_study

    data = splits(TaskKind.FRAMEWISE_CE)
    folder = write_dataset(tmp_path / "data", name="mine", kind=TaskKind.FRAMEWISE_CE,
                           output_size=4, **data)
    study = tmp_path / "mine.toml"
    study.write_text(f"""
name = "mine"
trials = 2
variants = ["V", "NFG"]
[protocol]
max_epochs = 2
[space]
hidden_size = [2, 4]
[tasks.sensors]
path = "{folder}"
options = {{ bidirectional = false }}
""")
    spec = load_study(study)
    assert spec.tasks[0].options == {"bidirectional": False}
    url = str(tmp_path / "journal.log")
    out = sweep(spec, url, jobs=1, progress=False, echo=lambda s: None)
    assert (out.done, out.planned) == (4, 4)
    import optuna

    storage = optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(url))
    meta = optuna.load_study(study_name="mine/sensors/V", storage=storage).user_attrs[STUDY_ATTR]
    assert (meta["task"], meta["kind"], meta["source"], meta["metric"]) == (
        "sensors", "framewise_ce", "user files", "frame_error_pct")
    assert "stands_for" not in meta and meta["plan"]["data"]["options"] == {
        "bidirectional": False}
    assert meta["plan"]["data"]["sha256"] == ud.digest(folder)
    # rewriting the same arrays gives the same files: the planned study resumes
    write_dataset(folder, name="mine", kind=TaskKind.FRAMEWISE_CE, output_size=4, **data)
    assert sweep(spec, url, jobs=1, progress=False, echo=lambda s: None).done == 4
    # other data under the planned study: refused, naming what changed
    data["train"][1][0][0] = (data["train"][1][0][0] + 1) % 4
    write_dataset(folder, name="mine", kind=TaskKind.FRAMEWISE_CE, output_size=4, **data)
    with pytest.raises(StudyFileError, match=r"planned with a different .*data "
                                             r"\(data\.sha256\.train\.npz: "):
        sweep(spec, url, jobs=1, progress=False, echo=lambda s: None)
    a = analyze(url, "mine", n_trees=5)
    (t,) = a.tasks
    assert t.label == "sensors (framewise classification)" and t.dataset == "?"
    # it stands for none of the paper's datasets: it enters no finding
    assert not a.findings["evidence"].str.contains("sensors").any()
    # options are checked by name when the file is read
    study.write_text(study.read_text().replace("bidirectional = false", "phones = 39"))
    with pytest.raises(StudyFileError, match=r"unknown key 'tasks\.sensors\.options\.phones'"):
        load_study(study)
    study.write_text(study.read_text().replace('path = "', 'pth = "'))
    with pytest.raises(StudyFileError, match="unknown task 'tasks.sensors'.*set 'tasks.sensors"
                                             r"\.path'"):
        load_study(study)


def _analysis(task, metric, source, kind=None, stands_for=None) -> TaskAnalysis:
    learn = Learnability(task, baseline=1.0, vanilla_top_mean=0.5, n=10)
    return TaskAnalysis(task, metric, source, learn, None, None, kind, stands_for)


def test_the_analysis_labels_a_task_by_what_it_declares():
    # the user's framewise task: by its kind, never as TIMIT
    user = _analysis("phonemes", "frame_error_pct", "user files", "framewise_ce")
    assert (user.label, user.dataset, user.paper_data) == (
        "phonemes (framewise classification)", "?", False)
    declared = _analysis("phonemes", "frame_error_pct", "user files", "framewise_ce",
                         {"dataset": "TIMIT", "same_data": False})
    assert (declared.label, declared.dataset) == ("phonemes (for TIMIT)", "TIMIT")
    reg = _analysis("sensors", "rmse", "user files", "framewise_mse")
    assert reg.label == "sensors (framewise regression)"
    # studies stored before kinds were: by their metric, as before
    assert _analysis("timit-synth", "frame_error_pct", "synthetic").label == \
        "timit-synth (for TIMIT)"
    old = _analysis("timit", "frame_error_pct", "real")
    assert old.label == "timit (TIMIT)" and old.paper_data
    assert Role.of(None, None, "rmse", "user files").stands_for is None
    # the built-in tasks declare what they stand for
    assert _analysis("jsb", "nll_per_step", "free corpus", "bernoulli",
                     StandsFor(PaperDataset.JSB).to_dict()).label == "jsb (for JSB)"


def test_the_built_in_tasks_declare_their_source_truthfully():
    t = load_task("handwriting-synth", size=2)
    assert (t.source, t.stands_for) == (Source.GENERATED, StandsFor(PaperDataset.IAM))
    t = load_task("jsb", size=2)  # the music21 chorales are real scores, not generated
    assert (t.source, t.stands_for) == (Source.FREE_CORPUS, StandsFor(PaperDataset.JSB))


def test_every_kind_has_its_loss():
    from lstm_odyssey.train.kinds import LOSS_KINDS

    assert set(LOSS_KINDS) == set(TaskKind)
    assert all(LOSS_KINDS[k].kind is k for k in TaskKind)


def test_pickle_module_is_not_what_reads_a_dataset(tmp_path, data_dir, monkeypatch):
    folder = write(tmp_path / "d", FRAME, output_size=4)

    def refuse(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert len(load_task(None, path=folder).train) == 12
