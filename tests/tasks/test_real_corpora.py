"""Tiny corpora in the real formats, read back exactly."""

import numpy as np
import pytest
import soundfile

from lstm_odyssey.tasks import CorpusError, features, iam_ondb, load_task, prepare
from lstm_odyssey.tasks.phones import TIMIT61

PHN = [(0, 2000, "h#"), (2000, 3600, "sh"), (3600, 6000, "iy"), (6000, 7000, "pcl"),
       (7000, 9000, "ax"), (9000, 9600, "h#")]


def _utterance(folder, name, rng, n=9600):
    folder.mkdir(parents=True, exist_ok=True)
    soundfile.write(folder / f"{name}.WAV", rng.normal(0, 0.1, n), 16000, format="NIST",
                    subtype="PCM_16")
    (folder / f"{name}.PHN").write_text("".join(f"{a} {b} {p}\n" for a, b, p in PHN))


@pytest.fixture
def timit_root(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "timit"
    for sent in ("SA1", "SI943", "SX53"):
        _utterance(root / "TRAIN" / "DR1" / "FCJF0", sent, rng)
    _utterance(root / "TEST" / "DR1" / "FAKS0", "SI1573", rng)     # development speaker
    _utterance(root / "TEST" / "DR1" / "MDAB0", "SX139", rng)      # core test speaker
    _utterance(root / "TEST" / "DR1" / "MDAB0", "SA2", rng)
    _utterance(root / "TEST" / "DR2" / "MXXX0", "SI1", rng)        # in neither list
    return root


def test_timit_tree_is_read_exactly(timit_root):
    prepared = prepare("timit", "full", path=timit_root)
    corpus, kw = prepared.corpus, prepared.facts
    assert [len(corpus.split(s)) for s in ("train", "valid", "test")] == [2, 1, 1]
    assert corpus.train.ids == ["TRAIN/DR1/FCJF0/SI943", "TRAIN/DR1/FCJF0/SX53"]
    assert corpus.test.ids == ["TEST/DR1/MDAB0/SX139"]
    x, y = corpus.train.inputs[0], corpus.train.targets[0]
    assert x.shape == (features.num_frames(9600), 39) == (58, 39)
    centres = features.frame_centres(len(y))
    want = [next(TIMIT61.index(p) for a, b, p in PHN if a <= c < b) for c in centres]
    assert y.tolist() == want
    audio, _ = soundfile.read(timit_root / "TRAIN/DR1/FCJF0/SI943.WAV")
    assert np.allclose(x, features.mfcc(audio))
    assert kw.num_classes == 61 and kw.bidirectional


def test_timit_folds_to_39(timit_root):
    t = load_task("timit", "full", path=str(timit_root), phones=39)
    names = [t.class_names[i] for i in t.train.targets[0]]
    assert t.num_classes == 39 and set(names) == {"sil", "sh", "iy", "ah"}
    assert names.count("sil") == sum(1 for c in features.frame_centres(58)
                                     if c < 2000 or 6000 <= c < 7000 or c >= 9000)


def test_timit_errors_name_the_path(tmp_path, timit_root):
    with pytest.raises(CorpusError, match=str(tmp_path / "none")):
        load_task("timit", path=str(tmp_path / "none"))
    (tmp_path / "flat").mkdir()
    with pytest.raises(CorpusError, match="TRAIN/ and TEST/"):
        load_task("timit", path=str(tmp_path / "flat"))
    (timit_root / "TRAIN/DR1/FCJF0/SX53.PHN").unlink()
    with pytest.raises(CorpusError, match="SX53.WAV: no matching .PHN") as e:
        load_task("timit", path=str(timit_root))
    assert "\n" not in str(e.value)
    with pytest.raises(CorpusError, match="path"):
        load_task("timit")


def _stroke_xml(strokes):
    body = "".join(
        '<Stroke colour="black" start_time="0" end_time="1">'
        + "".join(f'<Point x="{x}" y="{y}" time="{t}"/>' for x, y, t in s) + "</Stroke>"
        for s in strokes)
    return ('<?xml version="1.0" encoding="ISO-8859-1"?><WhiteboardCaptureSession>'
            f"<StrokeSet>{body}</StrokeSet></WhiteboardCaptureSession>")


LINE = [[(100, 200, 1.00), (102, 198, 1.01), (104, 197, 1.02), (106, 196, 1.03),
         (108, 195, 1.04)],
        [(130, 200, 1.30), (131, 190, 1.31)],
        [(150, 150, 1.50)]]


@pytest.fixture
def iam_root(tmp_path):
    root = tmp_path / "iam"
    forms = {"a01-000u": ["A MOVE to stop", "Mr. Gaitskell"], "a08-551z": ["dropped"],
             "b01-001": ["first valid", "set"], "c02-002": ["second", "valid", "set"],
             "d03-003": ["final test set"]}
    for form, lines in forms.items():
        d = root / "ascii" / form[:3] / form[:7]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{form}.txt").write_text("OCR:\n\nsomething\n\nCSR:\n\n" + "\n".join(lines) + "\n")
        s = root / "lineStrokes" / form[:3] / form[:7]
        s.mkdir(parents=True, exist_ok=True)
        for i in range(1, len(lines) + 1):
            (s / f"{form}-{i:02d}.xml").write_text(_stroke_xml(LINE))
    task = root / "largeWriterIndependentTextLineRecognitionTask"
    task.mkdir()
    (task / "trainset.txt").write_text("a01-000u\na08-551z\n")
    (task / "testset_v.txt").write_text("b01-001\n")
    (task / "testset_f.txt").write_text("d03-003\n")
    (task / "testset_t.txt").write_text("c02-002\n")
    return root


def test_iam_ondb_is_read_exactly(iam_root):
    prepared = prepare("iam-ondb", "full", path=iam_root)
    corpus, kw = prepared.corpus, prepared.facts
    assert corpus.train.ids == ["a01-000u-01", "a01-000u-02"]            # a08-551z dropped
    # the t1 benchmark: valid = testset_v + testset_t, test = testset_f (the final test set)
    assert corpus.valid.ids == ["b01-001-01", "b01-001-02", "c02-002-01", "c02-002-02",
                                "c02-002-03"]
    assert corpus.test.ids == ["d03-003-01"]
    assert [len(corpus.train), len(corpus.valid), len(corpus.test)] == [2, 5, 1]
    x = corpus.train.inputs[0]
    # ×½: stroke 1 keeps points 0, 2, 4; stroke 2 keeps 0 and its last; stroke 3 its only one
    pts = np.array([[100, -200], [104, -197], [108, -195], [130, -200], [131, -190],
                    [150, -150]], dtype=float)
    assert np.allclose(np.cumsum(x[:, :2], 0) + pts[0], pts)
    assert np.allclose(x[:, 2], [0, 0.02, 0.04, 0, 0.01, 0])
    assert x[:, 3].tolist() == [0, 0, 1, 0, 1, 1]
    alphabet = corpus.meta["alphabet"]
    text = "".join(alphabet[i - 1] for i in corpus.train.targets[1])
    assert text == "Mr. Gaitskell"
    assert kw.num_classes == len(alphabet) + 1 and kw.loss == "ctc"
    assert iam_ondb.subsample(np.arange(5)[:, None])[:, 0].tolist() == [0, 2, 4]


def test_iam_ondb_errors_name_the_path(iam_root, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="empty: no lineStrokes/ or ascii/"):
        load_task("iam-ondb", path=str(tmp_path / "empty"))
    bad = iam_root / "lineStrokes/a01/a01-000/a01-000u-01.xml"
    bad.write_text("<WhiteboardCaptureSession><StrokeSet><Stroke>")
    with pytest.raises(CorpusError, match="a01-000u-01.xml: not an IAM-OnDB lineStrokes"):
        load_task("iam-ondb", path=str(iam_root))
    (iam_root / "largeWriterIndependentTextLineRecognitionTask/testset_t.txt").unlink()
    with pytest.raises(CorpusError, match="testset_t.txt not found"):
        load_task("iam-ondb", path=str(iam_root))
