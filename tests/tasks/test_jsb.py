import pickle

import numpy as np
import pytest

from lstm_odyssey.tasks import CorpusError, jsb, load_task, prepare
from lstm_odyssey.tasks.common import SPLITS
from lstm_odyssey.tasks.kinds import PaperDataset, Source, StandsFor


def test_roll_grid_rule():
    # a note from 1.0 to 2.5 quarters sounds at grid points 1 and 2 (1 <= t < 2.5)
    roll = jsb.roll_from_notes([(1.0, 2.5, 60), (0.0, 1.0, 21), (3.0, 4.0, 108)], 4)
    assert roll[:, 60 - 21].tolist() == [0, 1, 1, 0]
    assert roll[:, 0].tolist() == [1, 0, 0, 0]
    assert roll[:, 87].tolist() == [0, 0, 0, 1]
    assert roll.sum() == 4


def test_chorales_have_four_voices_sounding():
    paths = jsb.chorale_paths()
    assert len(paths) == 409 and not any(p.stem == "bwv846" for p in paths)
    counts = np.concatenate([jsb.parse_chorale(p).sum(1) for p in paths[::40]])
    assert np.mean((counts >= 3) & (counts <= 5)) > 0.9
    roll = jsb.parse_chorale(paths[0])
    eighth = jsb.parse_chorale(paths[0], 0.5)
    assert len(eighth) == 2 * len(roll)
    assert np.array_equal(eighth[::2], roll)   # quarter grid points are every other eighth


def test_split_keeps_bwv_groups_and_identical_rolls_together():
    names = ["bwv1.6", "bwv10.7", "bwv10.7-a", "bwv11.6", "bwv12.7", "bwv13.6", "bwv14.5",
             "bwv15.1", "bwv16.6", "bwv17.7"]
    rolls = [np.full((5 + i, 88), i, np.uint8) for i in range(len(names))]
    rolls[9] = rolls[0].copy()                     # an identical roll under another number
    for seed in range(5):
        where = jsb.assign_splits(names, rolls, seed)
        assert where[1] == where[2] and where[0] == where[9]
        assert set(where) == {"train", "valid", "test"}
    assert jsb.assign_splits(names, rolls, 0) == jsb.assign_splits(names, rolls, 0)


@pytest.mark.slow
def test_music21_task_end_to_end():
    t = load_task("jsb")
    assert (t.loss, t.input_size, t.bidirectional) == ("bernoulli", 88, False)
    assert len(t.train) + len(t.valid) + len(t.test) == 409
    assert abs(len(t.train) / 409 - 0.6) < 0.05
    corpus = prepare("jsb").corpus
    bwv = {s: {jsb.bwv_number(n) for n in corpus.split(s).ids} for s in SPLITS}
    assert not (bwv["train"] & bwv["valid"] or bwv["train"] & bwv["test"]
                or bwv["valid"] & bwv["test"])
    x, y = t.train.inputs[0], t.train.targets[0]
    assert np.array_equal(x[1:], y[:-1])            # targets are the next step


def test_pickle_loader_reads_exactly(tmp_path):
    data = {"train": [[(60, 64, 67), (62,), ()], [(21, 108), (50,)]],
            "valid": [[(70.0,), (71.0,), (72.0,), (73.0,)]],
            "test": [[(40, 41), (42,)]]}
    p = tmp_path / "JSB Chorales.pickle"
    p.write_bytes(pickle.dumps(data))
    t = load_task("jsb", path=str(p), size="full")
    assert t.source == Source.FREE_CORPUS and t.stands_for == StandsFor(PaperDataset.JSB, True)
    assert [len(t.train), len(t.valid), len(t.test)] == [2, 1, 1]
    assert t.train.inputs[0].shape == (2, 88) and t.valid.inputs[0].shape == (3, 88)
    assert np.flatnonzero(t.train.inputs[0][0]).tolist() == [39, 43, 46]
    assert np.flatnonzero(t.train.targets[0][1]).tolist() == []
    assert np.flatnonzero(t.train.inputs[1][0]).tolist() == [0, 87]
    assert np.flatnonzero(t.valid.targets[0][2]).tolist() == [73 - 21]
    assert t.train.targets[0].dtype == np.float32


def test_pickle_errors_name_the_path(tmp_path):
    with pytest.raises(CorpusError, match="nothere.pickle"):
        load_task("jsb", path=str(tmp_path / "nothere.pickle"))
    bad = tmp_path / "bad.pickle"
    bad.write_bytes(pickle.dumps({"train": []}))
    with pytest.raises(CorpusError, match="bad.pickle.*'train'/'valid'/'test'") as e:
        load_task("jsb", path=str(bad))
    assert "\n" not in str(e.value)


def test_split_of_the_real_chorale_names_is_disjoint_in_bwv():
    names = [p.stem for p in jsb.chorale_paths()]
    rolls = [np.full((i % 7 + 2, 88), 0, np.uint8) + np.uint8(i % 200) for i in range(len(names))]
    where = jsb.assign_splits(names, rolls, seed=0)
    bwv = {s: {jsb.bwv_number(n) for n, w in zip(names, where) if w == s} for s in SPLITS}
    assert not (bwv["train"] & bwv["valid"] or bwv["train"] & bwv["test"]
                or bwv["valid"] & bwv["test"])
    share = [where.count(s) / len(names) for s in SPLITS]
    assert np.allclose(share, [0.6, 0.2, 0.2], atol=0.03)
    assert where != jsb.assign_splits(names, rolls, seed=1)


class _Payload:
    """A crafted pickle: unpickling it calls ``pathlib.Path.touch`` on a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def test_pickle_is_read_as_data_and_never_runs_code(tmp_path):
    sets = tmp_path / "sets.pickle"                 # chords as sets, protocol 2 (as in the wild)
    sets.write_bytes(pickle.dumps({"train": [[{60, 64}, {62}]], "valid": [[{70}, set()]],
                                   "test": [[frozenset({40}), {42}]]}, protocol=2))
    t = load_task("jsb", path=str(sets), size="full")
    assert np.flatnonzero(t.train.inputs[0][0]).tolist() == [39, 43]
    pwned = tmp_path / "pwned"
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(pickle.dumps({"train": [_Payload(str(pwned))], "valid": [], "test": []}))
    with pytest.raises(CorpusError, match="evil.pickle.*pathlib") as e:
        load_task("jsb", path=str(evil))
    assert not pwned.exists() and "\n" not in str(e.value)
    missing = tmp_path / "missing.pickle"            # names a module that does not exist
    missing.write_bytes(b"\x80\x02cno_such_module\nthing\nq\x00.")
    with pytest.raises(CorpusError, match="missing.pickle.*no_such_module"):
        load_task("jsb", path=str(missing))
