"""Ryan's Mammoth Collection (1883) as a next-note prediction task for lstm-odyssey.

The 1,059 fiddle tunes of the collection ship, as ABC transcriptions, inside the ``music21``
wheel (``music21/corpus/ryansMammoth``), so nothing is downloaded. Each tune becomes one
sequence of note events (repeats are not expanded, grace notes are dropped, a chord keeps its
top note):

* the tune is transposed so that its key's tonic is C (by at most a tritone, down on a tie);
  pitches outside MIDI ``LOW…HIGH`` are folded into that range by octaves;
* the input at event t is the one-hot of its pitch (``HIGH − LOW + 1`` pitches and a rest)
  followed by the one-hot of its duration (the nearest of ``DURATIONS`` quarter notes, on a
  log scale);
* the target at event t is the pitch class (or rest) of event t + 1; the last event has none
  and is dropped from the inputs.

So the task is ``framewise_ce`` on a unidirectional network (the next note must not be seen):
the metric is the next-note error (%), the trivial baseline always predicts the most frequent
pitch. Tunes go to the splits by their position in file-name order: every tenth (index 8 mod
10) to validation, the next (9 mod 10) to test, the rest to training.

    python examples/folk_tunes.py data/folk-tunes            # all 1,059 tunes
    python examples/folk_tunes.py data/folk-tunes-300 --tunes 300
    lstm-odyssey data info --path data/folk-tunes

``--tunes N`` keeps N tunes spread evenly over the collection (every k-th file), for a smaller
task. The conversion is deterministic: the same music21 release gives the same arrays.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import music21
import numpy as np
from music21 import converter, key

from lstm_odyssey.tasks import write_dataset

CORPUS = Path(music21.__file__).parent / "corpus" / "ryansMammoth"
LOW, HIGH = 55, 89  # G3…F6: 99.9 % of the transposed notes; the rest are folded in
PITCHES = HIGH - LOW + 1
REST = PITCHES  # the class after the pitches
DURATIONS = (1 / 12, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 3 / 8, 1 / 2, 3 / 4, 1, 3 / 2, 2, 3)
ORIGIN = ("Ryan's Mammoth Collection (William Bradbury Ryan, Boston: Elias Howe, 1883), ABC "
          "transcriptions shipped in the music21 " + music21.__version__ + " corpus "
          "(music21/corpus/ryansMammoth)")
LICENCE = ("the 1883 music is in the public domain; the ABC transcriptions were contributed by "
           "volunteers (each file's Z: line) and are distributed with music21 under its corpus "
           "terms (music21/corpus/license.txt: with the encoders' permission, possibly "
           "restricted to non-commercial use)")


def tonic_shift(score: music21.stream.Score) -> int:
    """Semitones that move the tune's tonic to C (−5…+6; C major if no key is written)."""
    signatures = list(score.flatten().getElementsByClass(key.KeySignature))
    if not signatures:
        return 0
    k = signatures[0]
    tonic = (k if isinstance(k, key.Key) else k.asKey("major")).tonic.pitchClass
    return -tonic if tonic <= 6 else 12 - tonic


def fold(midi: int) -> int:
    """``midi`` moved by octaves into LOW…HIGH."""
    while midi < LOW:
        midi += 12
    while midi > HIGH:
        midi -= 12
    return midi


def nearest_duration(quarters: float) -> int:
    """The index of the nearest of DURATIONS on a log scale."""
    return min(range(len(DURATIONS)),
               key=lambda i: abs(math.log(quarters) - math.log(DURATIONS[i])))


def events(path: Path) -> list[tuple[int, int]]:
    """(pitch class, duration class) of every sounding event of one tune, in order."""
    score = converter.parse(path, format="abc")
    shift = tonic_shift(score)
    out = []
    for n in score.flatten().notesAndRests:
        if n.quarterLength <= 0:  # grace notes
            continue
        p = REST if n.isRest else fold(max(q.midi for q in n.pitches) + shift) - LOW
        out.append((p, nearest_duration(float(n.quarterLength))))
    return out


def sequence(ev: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [T−1, PITCHES + 1 + len(DURATIONS)] (one-hot pitch ⊕ one-hot duration of events
    0…T−2) and targets [T−1] (the pitch class of events 1…T−1)."""
    x = np.zeros((len(ev) - 1, PITCHES + 1 + len(DURATIONS)), dtype=np.float32)
    for t, (p, d) in enumerate(ev[:-1]):
        x[t, p] = 1.0
        x[t, PITCHES + 1 + d] = 1.0
    y = np.array([p for p, _ in ev[1:]], dtype=np.int64)
    return x, y


def convert(out: Path, tunes: int | None = None) -> Path:
    """Write the dataset folder ``out`` from the collection (``tunes``: that many, spread)."""
    files = sorted(CORPUS.glob("*.abc"))
    if not files:
        raise SystemExit(f"error: no ABC files in {CORPUS}; install music21 with its corpus")
    if tunes is not None:
        step = len(files) / tunes
        files = [files[int(i * step)] for i in range(tunes)]
    splits: dict[str, tuple[list, list]] = {s: ([], []) for s in ("train", "valid", "test")}
    ids: dict[str, list[str]] = {s: [] for s in splits}
    for i, f in enumerate(files):
        ev = events(f)
        if len(ev) < 2:
            continue
        split = {8: "valid", 9: "test"}.get(i % 10, "train")
        x, y = sequence(ev)
        splits[split][0].append(x)
        splits[split][1].append(y)
        ids[split].append(f.stem)
    names = [music21.pitch.Pitch(midi=LOW + p).nameWithOctave for p in range(PITCHES)]
    return write_dataset(
        out, name=out.name, kind="framewise_ce", train=splits["train"], valid=splits["valid"],
        test=splits["test"], output_size=PITCHES + 1, class_names=[*names, "rest"],
        description=f"next-note prediction on {len(files)} fiddle tunes of Ryan's Mammoth "
                    "Collection (1883), transposed to C",
        source="free corpus", bidirectional=False, normalise=False, origin=ORIGIN,
        licence=LICENCE, ids=ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the dataset folder to write")
    ap.add_argument("--tunes", type=int, default=None,
                    help="keep this many tunes, spread evenly over the collection")
    a = ap.parse_args()
    if a.tunes is not None and not 10 <= a.tunes <= len(list(CORPUS.glob("*.abc"))):
        raise SystemExit("error: --tunes must be at least 10 (one validation and one test "
                         "tune) and at most the collection's size")
    folder = convert(a.out, a.tunes)
    print(f"wrote {folder}; check it with: lstm-odyssey data info --path {folder}")


if __name__ == "__main__":
    main()
