"""JSB chorales: Bach's four-part chorales as 88-note piano rolls (docs/paper.md §Tasks).

Free default: the chorales that ship with ``music21``, parsed into rolls. A roll has one row
per grid point t and one column per MIDI pitch 21–108; note n sounds at t iff
``onset(n) ≤ t·step < offset(n)`` (step = 1 quarter note by default, ½ for eighths). Voices
are chosen by part name (Soprano/Alto/Tenor/Bass), never by position. The task is next-step
prediction: inputs ``roll[:-1]``, targets ``roll[1:]``, loss = 88 independent Bernoulli terms.

Real data: the standard ``JSB Chorales.pickle`` (Boulanger-Lewandowski et al. 2012), a dict with
``'train'/'valid'/'test'`` lists of sequences, each a list of sets of MIDI numbers.
"""

from __future__ import annotations

import math
import pickle
import re
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import numpy as np

from . import cache
from .common import (
    SPLITS,
    Corpus,
    CorpusError,
    RawSplit,
    TaskNameError,
    parallel_map,
    split_counts,
    subset,
)
from .definition import Prepared, TaskFacts, TaskInfo
from .describe import draw_roll
from .kinds import PaperDataset, Source, StandsFor, TaskKind

LOW, HIGH = 21, 108
# The only classes a JSB pickle may name: its chords may be sets (a protocol-2 pickle rebuilds
# them through these). Everything else (os.system, a missing module, ...) is refused unread.
PICKLE_CLASSES = {(m, n): c for m in ("builtins", "__builtin__")
                  for n, c in (("set", set), ("frozenset", frozenset))}


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that builds plain data only: dicts, lists, tuples, numbers, strings and the
    sets of :data:`PICKLE_CLASSES`; naming any other class or function is an error, so reading
    a crafted file never runs its code."""

    def find_class(self, module: str, name: str) -> type:
        if (module, name) in PICKLE_CLASSES:
            return PICKLE_CLASSES[module, name]
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a data file never needs")
NOTES = HIGH - LOW + 1
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
STEPS = {"quarter": 1.0, "eighth": 0.5}
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
GENERATOR_VERSION = 1


def note_names() -> list[str]:
    """Names of the 88 roll columns, ``A0`` … ``C8``."""
    return [f"{PITCH_NAMES[m % 12]}{m // 12 - 1}" for m in range(LOW, HIGH + 1)]


def chorale_paths() -> list[Path]:
    """The chorale scores of the music21 corpus (``bwv846``, a prelude, is left out)."""
    from music21 import corpus

    paths = [Path(str(p)) for p in corpus.getComposer("bach")]
    return sorted((p for p in paths if p.suffix in (".mxl", ".xml") and p.stem != "bwv846"),
                  key=lambda p: p.name)


def bwv_number(name: str) -> str:
    """The BWV work number of a chorale file name: ``bwv10.7`` and ``bwv10.7-a`` → ``10``."""
    m = re.match(r"bwv(\d+)", name)
    return m.group(1) if m else name


def roll_from_notes(notes: list[tuple[float, float, int]], length: int) -> np.ndarray:
    """A uint8 roll ``[length, 88]`` from (onset, offset, MIDI pitch) in grid steps."""
    roll = np.zeros((length, NOTES), dtype=np.uint8)
    for on, off, pitch in notes:
        if LOW <= pitch <= HIGH:
            roll[math.ceil(on - 1e-9):math.ceil(off - 1e-9), pitch - LOW] = 1
    return roll


def parse_chorale(path: Path, step: float = 1.0) -> np.ndarray:
    """The piano roll of one chorale score, sampled every ``step`` quarter notes."""
    from music21 import corpus

    score = corpus.parse(str(path), forceSource=True)
    notes = []
    for part in score.parts:
        if (part.partName or "").split()[:1] and part.partName.split()[0] in VOICES:
            for n in part.flatten().notes:
                ql = float(n.duration.quarterLength)
                if ql <= 0:
                    continue
                on = float(n.offset) / step
                notes += [(on, on + ql / step, p.midi) for p in n.pitches]
    if not notes:
        raise CorpusError(f"{path}: no Soprano/Alto/Tenor/Bass part found")
    return roll_from_notes(notes, math.ceil(max(off for _, off, _ in notes) - 1e-9))


def _parse_quarter(path: Path) -> np.ndarray:
    return parse_chorale(path, 1.0)


def _parse_eighth(path: Path) -> np.ndarray:
    return parse_chorale(path, 0.5)


def assign_splits(names: list[str], rolls: list[np.ndarray], seed: int,
                  fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> list[str]:
    """A split name per chorale: groups (same BWV number, or identical rolls, joined
    transitively) are shuffled by ``seed`` and dealt to train/valid/test until each reaches
    its fraction of the chorales, so no group straddles two splits."""
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, bytes], int] = {}
    for i, (name, roll) in enumerate(zip(names, rolls)):
        for key in (("bwv", bwv_number(name).encode()), ("roll", roll.tobytes())):
            j = first.setdefault(key, i)
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(names)):
        groups[find(i)].append(i)
    ordered = sorted(groups.values(), key=lambda g: names[g[0]])
    order = np.random.default_rng(seed).permutation(len(ordered))
    targets = [f * len(names) for f in fractions]
    filled = [0, 0, 0]
    out = [""] * len(names)
    for gi in order:
        group = ordered[gi]
        k = int(np.argmax([t - f for t, f in zip(targets, filled)]))
        filled[k] += len(group)
        for i in group:
            out[i] = SPLITS[k]
    return out


def build_music21(seed: int, step: str = "quarter", progress: bool = False) -> Corpus:
    """Parse all chorales (2 processes) and split them 60/20/20 by BWV group."""
    if step not in STEPS:
        raise TaskNameError(f"step {step!r} is not valid; use one of {', '.join(STEPS)}")
    paths = chorale_paths()
    fn = _parse_quarter if step == "quarter" else _parse_eighth
    rolls = parallel_map(fn, paths, progress=progress, desc="jsb: parsing chorales")
    names = [p.stem for p in paths]
    where = assign_splits(names, rolls, seed)
    splits = {s: RawSplit() for s in SPLITS}
    for name, roll, s in zip(names, rolls, where):
        splits[s].inputs.append(roll[:-1])
        splits[s].targets.append(roll[1:])
        splits[s].ids.append(name)
    return Corpus(**splits, meta={"step": step, "source": "music21 Bach chorales"})


def load_pickle(path: Path) -> Corpus:
    """The standard JSB Chorales pickle (dict of 'train'/'valid'/'test' lists of sequences of
    sets of MIDI numbers) as rolls; sequence ids are ``<split>-<index>``."""
    if not path.is_file():
        raise CorpusError(f"{path}: no such file; expected the JSB Chorales .pickle "
                          "(dict with 'train'/'valid'/'test')")
    try:
        with open(path, "rb") as f:
            data = _DataUnpickler(f, encoding="latin1").load()
        splits = {}
        for s in SPLITS:
            raw = RawSplit()
            for i, seq in enumerate(data[s]):
                roll = np.zeros((len(seq), NOTES), dtype=np.uint8)
                for t, chord in enumerate(seq):
                    for p in chord:
                        if not LOW <= int(p) <= HIGH:
                            raise ValueError(f"MIDI pitch {p} outside 21–108")
                        roll[t, int(p) - LOW] = 1
                if len(roll) < 2:
                    continue
                raw.inputs.append(roll[:-1])
                raw.targets.append(roll[1:])
                raw.ids.append(f"{s}-{i}")
            splits[s] = raw
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise CorpusError(f"{path}: not a JSB Chorales pickle (dict with 'train'/'valid'/'test' "
                          f"lists of sequences of MIDI-number sets): {e}") from None
    return Corpus(**splits, meta={"step": "as in the pickle", "source": str(path)})


def _prepare(size: str | int, path: str | None, seed: int, progress: bool,
             step: str = "quarter") -> Prepared:
    """The music21 chorales (cached per seed and step) or the JSB pickle at ``path`` (cached
    by its identity), whole, cut to ``size`` on loading."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise CorpusError(f"{p}: no such file; expected the JSB Chorales .pickle "
                              "(dict with 'train'/'valid'/'test')")
        config = {"task": "jsb", "source": cache.stamp(p), "version": GENERATOR_VERSION}
        corpus = cache.cached(config, lambda: load_pickle(p))
        desc = f"JSB Chorales pickle {p}"
        source, stands_for = Source.FREE_CORPUS, StandsFor(PaperDataset.JSB, same_data=True)
    else:
        if step not in STEPS:
            raise TaskNameError(f"step {step!r} is not valid; use one of {', '.join(STEPS)}")
        config = {"task": "jsb", "source": f"music21-{version('music21')}", "seed": seed,
                  "step": step, "version": GENERATOR_VERSION}
        corpus = cache.cached(config, lambda: build_music21(seed, step, progress))
        # real scores (music21 ships them), not the paper's JSB split or quantisation
        source, stands_for = Source.FREE_CORPUS, StandsFor(PaperDataset.JSB)
        desc = (f"Bach chorales from the music21 corpus, {step}-note piano rolls, "
                f"60/20/20 split by BWV number (seed {seed})")
    facts = TaskFacts(name="jsb", source=source, description=desc, input_size=NOTES,
                      num_classes=NOTES, loss=TaskKind.BERNOULLI, bidirectional=False,
                      class_names=note_names(), norm_columns=None, target_dtype="float32",
                      stands_for=stands_for)
    return Prepared(subset(corpus, split_counts(size, None, None)), facts, draw_roll)


TASK = TaskInfo("jsb", "Bach chorales (music21) as 88-note piano rolls; --path FILE.pickle for "
                "the standard JSB Chorales data", needs_path=False, path_optional=True,
                options=("step",), prepare=_prepare)
