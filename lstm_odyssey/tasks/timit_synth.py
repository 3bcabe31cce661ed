"""``timit-synth``: TIMIT-like read speech synthesised with espeak-ng, with exact frame labels.

Each utterance is one sentence read by one synthetic speaker (an espeak-ng en-us voice variant
with its own rate, pitch and pitch range), resampled to 16 kHz, scaled by a random gain and
mixed with white noise at a random SNR, then turned into 39-dim MFCC+Δ+ΔΔ frames
(:mod:`.features`). A frame's label is the 39-class fold (:mod:`.phones`) of the espeak phone
active at its centre; espeak pauses and the surrounding silence are ``sil``. Like TIMIT,
train/valid/test share neither sentences nor voices, and every split holds the voice families
(:func:`.espeak.voice_families`: Klatt, female, male) in the same proportions, with at least 12
speakers per split where it has that many utterances. Every utterance is a function of
(seed, split, index) alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from . import cache, espeak, features, text
from .common import (
    SPLITS,
    Corpus,
    gather_splits,
    group_size,
    item_rng,
    parallel_map,
    split_counts,
    stratified_order,
)
from .definition import Prepared, TaskInfo
from .describe import draw_frames
from .kinds import PaperDataset, Source, StandsFor
from .phones import PHONES39, fold_ipa

GENERATOR_VERSION = 4
DEMO = (120, 30, 30)
FULL = (3696, 400, 192)
SENTENCES_PER_SPEAKER = 8   # at most (TIMIT's 8 without SA); see common.group_size
MIN_SPEAKERS = 12           # per split, when the split has that many utterances
READERS_PER_SENTENCE = 4
SNR_DB = (15.0, 40.0)
GAIN_DB = (-12.0, 6.0)
SIL = PHONES39.index("sil")


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything that determines one utterance."""

    split: str
    index: int
    seed: int
    text: str
    voice: str
    speaker: int
    rate: int
    pitch: int
    pitch_range: int


def plan(counts: tuple[int, int, int], seed: int) -> list[UtteranceSpec]:
    """The utterances of all splits. The variants of each voice family are shuffled by
    ``seed`` and dealt 70/15/15 to train/valid/test; sentences come from disjoint slices of
    one pool. In a split of n utterances, speaker s reads ``g = group_size(n, 12, 8)`` of
    them (utterance i is read by speaker ``i // g`` and is sentence ``i mod S`` of the split's
    S = max(min(n, g), ⌈n / 4⌉) sentences, so each sentence is read by about 4 speakers and
    no speaker reads one twice). Speaker s has the family at position s of one seeded cycle
    in which every prefix holds the families in proportion to their sizes (the same cycle in
    every split), and the next voice of that family in its split."""
    families = espeak.voice_families(reproducible=True)
    rng = np.random.default_rng([seed, 104729])
    dealt: list[dict[str, list[str]]] = [{}, {}, {}]
    for fam, names in families.items():
        names = [names[i] for i in rng.permutation(len(names))]
        cuts = [0, round(0.7 * len(names)), round(0.85 * len(names)), len(names)]
        for k in range(3):
            dealt[k][fam] = names[cuts[k]:cuts[k + 1]]
    cycle = stratified_order([[fam] * len(names) for fam, names in families.items()], rng)
    per = [group_size(n, MIN_SPEAKERS, SENTENCES_PER_SPEAKER) for n in counts]
    n_sent = [max(min(n, g), math.ceil(n / READERS_PER_SENTENCE)) for n, g in zip(counts, per)]
    pool = text.pool(sum(n_sent), seed, text.corpus_sentences)
    first = np.cumsum([0, *n_sent])
    specs = []
    for k, (split, n) in enumerate(zip(SPLITS, counts)):
        sentences = pool[first[k]:first[k + 1]]
        voices = []                     # the voice of each speaker of the split
        taken = dict.fromkeys(families, 0)  # speakers given a voice of each family so far
        for s in range(math.ceil(n / per[k])):
            fam = cycle[s % len(cycle)]
            voices.append(dealt[k][fam][taken[fam] % len(dealt[k][fam])])
            taken[fam] += 1
        for i in range(n):
            speaker = i // per[k]
            srng = np.random.default_rng([seed, k, speaker, 31337])
            specs.append(UtteranceSpec(
                split=split, index=i, seed=seed,
                text=sentences[i % len(sentences)],
                voice=f"en-us+{voices[speaker]}", speaker=speaker,
                rate=int(srng.integers(130, 211)), pitch=int(srng.integers(20, 81)),
                pitch_range=int(srng.integers(20, 81))))
    return specs


def render(spec: UtteranceSpec) -> tuple[np.ndarray, np.ndarray]:
    """16 kHz float audio (gain and noise applied) and the 16 kHz start sample and 39-class
    label of each phone of one utterance."""
    rng = item_rng(spec.seed, spec.split, spec.index)
    u = espeak.synthesize(spec.text, spec.voice, spec.rate, spec.pitch, spec.pitch_range)
    g = math.gcd(features.RATE, u.rate)
    audio = resample_poly(u.audio.astype(np.float64) / 32768.0, features.RATE // g, u.rate // g)
    level = np.sqrt(np.mean(audio ** 2)) + 1e-12
    audio *= 0.1 / level * 10 ** (rng.uniform(*GAIN_DB) / 20)
    snr = rng.uniform(*SNR_DB)
    audio += rng.normal(0.0, np.sqrt(np.mean(audio ** 2) / 10 ** (snr / 10)), len(audio))
    starts = np.round(u.starts * features.RATE / u.rate).astype(np.int64)
    labels = np.array([PHONES39.index(fold_ipa(p)) for p in u.phones], dtype=np.int64)
    return audio, np.stack([starts, labels]) if len(starts) else np.zeros((2, 0), np.int64)


def utterance(spec: UtteranceSpec) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[T, 39]`` (float32, unnormalised) and frame labels ``[T]`` of one
    utterance."""
    audio, seg = render(spec)
    x = features.mfcc(audio)
    order = np.argsort(seg[0], kind="stable")
    y = features.frame_labels(seg[0][order], seg[1][order], len(x), SIL)
    return x, y


def build(counts: tuple[int, int, int], seed: int, progress: bool = False) -> Corpus:
    """Synthesise all utterances (2 processes) into a corpus."""
    specs = plan(counts, seed)
    results = parallel_map(utterance, specs, progress=progress, desc="timit-synth: synthesising")
    ids = [f"{spec.voice}/s{spec.speaker}/{spec.index}: {spec.text}" for spec in specs]
    splits = gather_splits(specs, results, ids)
    return Corpus(**splits, meta={"voices": {s: sorted({sp.voice for sp in specs
                                                         if sp.split == s}) for s in SPLITS}})


def _prepare(size: str | int, path: str | None, seed: int, progress: bool) -> Prepared:
    """Utterances generated at ``size`` (cached per size, seed and generator version)."""
    counts = split_counts(size, DEMO, FULL)
    config = {"task": "timit-synth", "source": "espeak-ng", "size": counts, "seed": seed,
              "version": GENERATOR_VERSION}
    corpus = cache.cached(config, lambda: build(counts, seed, progress))
    desc = (f"TIMIT-like speech synthesised with espeak-ng ({'/'.join(map(str, counts))} "
            f"utterances, seed {seed}), 39-dim MFCC+Δ+ΔΔ, 39 folded phone classes")
    return Prepared(corpus, features.speech_facts("timit-synth", Source.GENERATED, desc,
                                                  list(PHONES39), StandsFor(PaperDataset.TIMIT)),
                    draw_frames)


TASK = TaskInfo("timit-synth", "TIMIT-like speech synthesised with espeak-ng, exact frame "
                "labels, 39 phone classes", needs_path=False, path_optional=False, options=(),
                prepare=_prepare)
