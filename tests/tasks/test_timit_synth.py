from collections import Counter

import numpy as np
import pytest

from lstm_odyssey.tasks import espeak, features, load_task, timit_synth
from lstm_odyssey.tasks.phones import IPA39, PHONES39, fold_ipa

VOWELS = [PHONES39.index(p) for p in ("aa", "ae", "ah", "eh", "ih", "iy", "ey", "ay", "ow")]
SIBILANTS = [PHONES39.index(p) for p in ("s", "sh", "z")]
SIL = PHONES39.index("sil")


def test_ipa_folding_covers_the_39_classes():
    assert set(IPA39.values()) == set(PHONES39) and len(PHONES39) == 39
    assert fold_ipa("ˈɔːɹ") == "aa" and fold_ipa("ɾ") == "dx" and fold_ipa("") == "sil"


def test_frame_labels_take_the_phone_at_the_frame_centre():
    # centres are 200, 360, 520, ...; a phone starting at 361 first labels frame 2
    y = features.frame_labels(np.array([100, 361]), np.array([5, 7]), 4, default=0)
    assert y.tolist() == [5, 5, 7, 7]
    y = features.frame_labels(np.array([300]), np.array([3]), 3, default=9)
    assert y.tolist() == [9, 3, 3]


def test_plan_splits_share_no_sentence_and_no_voice():
    specs = timit_synth.plan(timit_synth.FULL, seed=0)
    assert [sum(s.split == k for s in specs) for k in ("train", "valid", "test")] == [3696, 400,
                                                                                      192]
    for attr in ("text", "voice"):
        sets = {k: {getattr(s, attr) for s in specs if s.split == k}
                for k in ("train", "valid", "test")}
        assert not (sets["train"] & sets["valid"] or sets["train"] & sets["test"]
                    or sets["valid"] & sets["test"]), attr
    readers = {}
    for s in specs:
        readers.setdefault(s.text, set()).add((s.voice, s.speaker))
    assert np.median([len(r) for r in readers.values()]) >= 3   # several voices per sentence


def _frames_by_label(n=6):
    energy, high, labels = [], [], []
    for spec in timit_synth.plan((n, 1, 1), seed=3)[:n]:
        audio, seg = timit_synth.render(spec)
        ps = features.power_spectrum(audio)
        order = np.argsort(seg[0], kind="stable")
        y = features.frame_labels(seg[0][order], seg[1][order], len(ps), SIL)
        freqs = np.fft.rfftfreq(features.NFFT, 1 / features.RATE)
        energy.append(np.log(ps.sum(1) + 1e-12))
        high.append(ps[:, freqs >= 4000].sum(1) / (ps.sum(1) + 1e-12))
        labels.append(y)
    return np.concatenate(energy), np.concatenate(high), np.concatenate(labels)


def test_labels_are_aligned_with_the_audio():
    energy, high, y = _frames_by_label()
    vowel, sib, sil = np.isin(y, VOWELS), np.isin(y, SIBILANTS), y == SIL
    assert vowel.sum() > 50 and sib.sum() > 20 and sil.sum() > 20
    assert np.median(energy[sil]) < np.median(energy[vowel]) - 2.0
    assert np.median(high[sib]) > 6 * np.median(high[vowel])   # a 5-frame shift fails both


def test_same_seed_same_bytes_other_seed_differs():
    a = timit_synth.build((6, 2, 2), seed=1)
    b = timit_synth.build((6, 2, 2), seed=1)
    c = timit_synth.build((6, 2, 2), seed=2)
    assert all(np.array_equal(x, z) for x, z in zip(a.train.inputs, b.train.inputs))
    assert all(np.array_equal(x, z) for x, z in zip(a.test.targets, b.test.targets))
    assert not np.array_equal(a.train.inputs[0], c.train.inputs[0])


def test_parallel_generation_equals_serial():
    specs = timit_synth.plan((10, 1, 1), seed=5)
    from lstm_odyssey.tasks.common import parallel_map
    par = parallel_map(timit_synth.utterance, specs, processes=2)
    ser = parallel_map(timit_synth.utterance, specs, processes=1)
    assert all(np.array_equal(p[0], s[0]) and np.array_equal(p[1], s[1])
               for p, s in zip(par, ser))


def test_task_is_normalised_by_training_statistics():
    t = load_task("timit-synth", size=8)
    assert (t.loss, t.metric, t.input_size, t.num_classes, t.bidirectional) == (
        "framewise_ce", "frame_error_pct", 39, 39, True)
    x = np.concatenate(t.train.inputs)
    assert np.allclose(x.mean(0), 0, atol=1e-3) and np.allclose(x.std(0), 1, atol=1e-3)
    assert not np.allclose(np.concatenate(t.test.inputs).mean(0), 0, atol=1e-3)
    assert all(len(a) == len(b) for a, b in zip(t.train.inputs, t.train.targets))
    assert t.train.targets[0].dtype == np.int64


@pytest.mark.slow
def test_demo_uses_nearly_all_39_classes():
    t = load_task("timit-synth")
    assert (len(t.train), len(t.valid), len(t.test)) == timit_synth.DEMO
    assert len(np.unique(np.concatenate(t.train.targets))) >= 36


def test_every_split_holds_the_voice_families_in_the_same_proportions():
    family = {v: f for f, vs in espeak.voice_families().items() for v in vs}
    assert set(family.values()) == {"klatt", "female", "male"}
    specs = timit_synth.plan((240, 60, 60), seed=1)
    share = {}
    for k in ("train", "valid", "test"):
        speakers = {(s.speaker, s.voice) for s in specs if s.split == k}
        assert len(speakers) >= timit_synth.MIN_SPEAKERS
        counts = Counter(family[v.split("+")[1]] for _, v in speakers)
        share[k] = {f: counts[f] / len(speakers) for f in ("klatt", "female", "male")}
        assert all(counts[f] >= 1 for f in ("klatt", "female", "male"))
    for f in ("klatt", "female", "male"):
        values = [share[k][f] for k in share]
        assert max(values) - min(values) <= 0.1, (f, share)
