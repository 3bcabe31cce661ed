import itertools
from collections import Counter

import numpy as np

from lstm_odyssey.tasks import handwriting as hw
from lstm_odyssey.tasks import load_task
from lstm_odyssey.tasks.common import parallel_map


def test_pen_up_flags_match_stroke_ends():
    for spec in hw.plan((4, 1, 1), seed=0):
        strokes = hw.strokes_of(spec)
        x = hw.point_features(strokes)
        ends = np.cumsum([len(s) for s in strokes]) - 1
        assert np.flatnonzero(x[:, 3]).tolist() == ends.tolist()
        starts = np.r_[0, ends[:-1] + 1]
        assert np.all(x[starts, 2] == 0)                       # time restarts per stroke
        assert np.all(np.diff(x[:, 2])[np.setdiff1d(np.arange(len(x) - 1), ends)] > 0)
        back = hw.strokes_from_features(x)
        assert len(back) == len(strokes)
        for a, b in zip(back, strokes):
            assert np.allclose(a - back[0][0], b - strokes[0][0], atol=1e-3)


def test_script_fonts_join_letters_into_words():
    glyphs = hw._font("cursive").all_glyphs
    raw = sum(len(glyphs[c].strokes) for c in "minimum")
    joined = hw.layout("minimum", "cursive", np.random.default_rng(0), 1.0)
    assert len(joined) <= raw - 6                  # the 6 letter joins are pen-down
    for a, b in itertools.pairwise(joined):
        assert np.hypot(*(b[0] - a[-1])) >= hw.JOIN_GAP


def test_same_seed_same_bytes_other_seed_differs_and_parallel_equals_serial():
    specs = hw.plan((10, 2, 2), seed=4)
    par = parallel_map(hw.line, specs, processes=2)
    ser = parallel_map(hw.line, specs, processes=1)
    assert all(np.array_equal(p[0], s[0]) and np.array_equal(p[1], s[1])
               for p, s in zip(par, ser))
    other = hw.line(hw.plan((10, 2, 2), seed=5)[0])
    assert not (len(other[0]) == len(par[0][0]) and np.array_equal(other[0], par[0][0]))


def test_lines_are_disjoint_and_lengths_fit_ctc():
    specs = hw.plan(hw.FULL, seed=0)
    texts = {k: {s.text for s in specs if s.split == k} for k in ("train", "valid", "test")}
    assert sum(len(v) for v in texts.values()) == sum(hw.FULL)   # all lines distinct
    t = load_task("handwriting-synth", size=12)
    assert (t.loss, t.metric, t.input_size, t.bidirectional) == ("ctc", "cer_pct", 4, True)
    assert t.class_names[0] == "<blank>" and t.num_classes == len(hw.ALPHABET) + 1
    for x, y in zip(t.train.inputs, t.train.targets):
        assert len(x) >= 2 * len(y) and y.min() >= 1 and y.max() < t.num_classes
        assert set(np.unique(x[:, 3])) <= {0.0, 1.0}           # pen-up stays binary
    xs = np.concatenate(t.train.inputs)
    assert np.allclose(xs[:, :3].mean(0), 0, atol=1e-3)
    assert 10 <= np.median([len(x) / len(y) for x, y in zip(t.train.inputs, t.train.targets)]) <= 40


def test_every_split_covers_every_font_in_the_same_proportions():
    specs = hw.plan((240, 60, 60), seed=3)
    lines = {k: Counter(hw.writer_font(3, s.writer) for s in specs if s.split == k)
             for k in ("train", "valid", "test")}
    writers = {k: len({s.writer for s in specs if s.split == k}) for k in lines}
    assert all(set(c) == set(hw.FONTS) for c in lines.values())
    assert lines["valid"] == lines["test"]
    assert all(n >= hw.MIN_WRITERS for n in writers.values())
    for k, c in lines.items():                     # each font within one writer's lines
        per_writer = max(Counter(s.writer for s in specs if s.split == k).values())
        assert max(c.values()) - min(c.values()) <= per_writer
    styles = {hw.writer_style(3, s.split, s.writer)["font"] for s in specs}
    assert styles == set(hw.FONTS)


def test_line_shape_options_change_lengths():
    base = hw.build((8, 1, 1), seed=0, points_per_char=(18.0, 26.0))
    short = hw.build((8, 1, 1), seed=0, points_per_char=(9.0, 13.0), line_chars=(10, 35))
    assert max(len(y) for y in short.train.targets) <= 35
    ratio = (sum(len(x) for x in short.train.inputs) / sum(len(y) for y in short.train.targets)) / (
        sum(len(x) for x in base.train.inputs) / sum(len(y) for y in base.train.targets))
    assert 0.4 < ratio < 0.75
