"""``timit``: the real TIMIT corpus (LDC93S1) from a user's copy.

Expected tree (upper or lower case): ``TRAIN|TEST/DR*/SPEAKER/UTT.WAV`` (NIST SPHERE, read by
soundfile) with ``UTT.PHN`` (lines ``start_sample end_sample phone``). SA sentences are
dropped. Train: all TRAIN speakers (3696 utterances); valid: the 50-speaker development set
(400); test: the 24-speaker core test set (192). Frames are the same 39-dim MFCC+Δ+ΔΔ as
``timit-synth``; a frame's label is the phone whose interval contains the frame centre
(``h#`` outside all intervals), over 61 classes or folded to 39.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import cache, features, timit_synth
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
from .definition import Prepared, TaskInfo
from .describe import draw_frames
from .kinds import PaperDataset, Source, StandsFor
from .phones import FOLD39, PHONES39, TIMIT61


def _speakers(ids: str) -> frozenset[str]:
    return frozenset(ids.split())


CORE_TEST = _speakers(
    "mdab0 mwbt0 felc0 mtas1 mwew0 fpas0 mjmp0 mlnt0 fpkt0 mlll0 mtls0 fjlm0 mbpm0 mklt0 fnlp0 "
    "mcmj0 mjdh0 fmgd0 mgrt0 mnjm0 fdhc0 mjln0 mpam0 fmld0")
DEV = _speakers(
    "faks0 fdac1 fjem0 mgwt0 mjar0 mmdb1 mmdm2 mpdf0 fcmh0 fkms0 mbdg0 mbwm0 mcsh0 fadg0 fdms0 "
    "fedw0 mgjf0 mglb0 mrtk0 mtaa0 mtdt0 mthc0 mwjg0 fnmr0 frew0 fsem0 mbns0 mmjr0 mdls0 mdlf0 "
    "mdvc0 mers0 fmah0 fdrw0 mrcs0 mrjm4 fcal1 mmwh0 fjsj0 majc0 mjsw0 mreb0 fgjd0 fjmg0 mroa0 "
    "mteb0 mjfc0 mrjr0 fmml0 mrws1")
EXPECTED = "TRAIN/ and TEST/ folders holding DR*/SPEAKER/*.WAV with matching .PHN files"


def class_names(phones: int) -> list[str]:
    """The label set: TIMIT's 61 phones or the folded 39."""
    return list(TIMIT61) if phones == 61 else list(PHONES39)


def find_utterances(root: Path) -> dict[str, list[Path]]:
    """WAV paths per split (sorted), SA sentences excluded."""
    if not root.is_dir():
        raise CorpusError(f"{root}: no such directory; expected the TIMIT root with {EXPECTED}")
    top = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    if "train" not in top or "test" not in top:
        raise CorpusError(f"{root}: not a TIMIT tree; expected {EXPECTED}")
    out: dict[str, list[Path]] = {s: [] for s in SPLITS}
    for part in ("train", "test"):
        for wav in sorted(top[part].glob("*/*/*")):
            if wav.suffix.lower() != ".wav" or wav.name.lower().startswith("sa"):
                continue
            speaker = wav.parent.name.lower()
            if part == "train":
                out["train"].append(wav)
            elif speaker in DEV:
                out["valid"].append(wav)
            elif speaker in CORE_TEST:
                out["test"].append(wav)
    if not out["train"]:
        raise CorpusError(f"{root}: no training .WAV files found; expected {EXPECTED}")
    return out


def read_phn(path: Path, phones: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts, ends and class indices of a .PHN file."""
    names = class_names(phones)
    starts, ends, labels = [], [], []
    try:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            a, b, ph = line.split()
            if ph not in TIMIT61:
                raise ValueError(f"line {n}: unknown phone {ph!r}")
            starts.append(int(a))
            ends.append(int(b))
            labels.append(names.index(ph if phones == 61 else FOLD39.get(ph, ph)))
    except (OSError, ValueError) as e:
        raise CorpusError(f"{path}: not a TIMIT .PHN file (lines 'start end phone'): "
                          f"{e}") from None
    return np.array(starts), np.array(ends), np.array(labels)


def _phn_path(wav: Path) -> Path:
    for suffix in (".PHN", ".phn"):
        if wav.with_suffix(suffix).is_file():
            return wav.with_suffix(suffix)
    raise CorpusError(f"{wav}: no matching .PHN file; expected {EXPECTED}")


def utterance(args: tuple[Path, int]) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[T, 39]`` and frame labels ``[T]`` of one TIMIT utterance."""
    wav, phones = args
    import soundfile

    try:
        audio, rate = soundfile.read(str(wav), dtype="float64")
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise CorpusError(f"{wav}: unreadable audio (expected NIST SPHERE/WAV): {e}") from None
    if rate != features.RATE:
        raise CorpusError(f"{wav}: sample rate {rate} Hz; TIMIT audio is 16000 Hz")
    starts, ends, labels = read_phn(_phn_path(wav), phones)
    x = features.mfcc(audio)
    centres = features.frame_centres(len(x))
    pos = np.searchsorted(starts, centres, side="right") - 1
    sil = class_names(phones).index("h#" if phones == 61 else "sil")
    inside = (pos >= 0) & (centres < ends[np.clip(pos, 0, None)])
    y = np.where(inside, labels[np.clip(pos, 0, None)], sil).astype(np.int64)
    return x, y


def load(root: Path, phones: int = 61, progress: bool = False) -> Corpus:
    """The TIMIT corpus at ``root`` as raw MFCC frames and labels."""
    found = find_utterances(root)
    splits = {}
    for s in SPLITS:
        res = parallel_map(utterance, [(w, phones) for w in found[s]], progress=progress,
                           desc=f"timit: {s}")
        splits[s] = RawSplit([x for x, _ in res], [y for _, y in res],
                             [str(w.relative_to(root).with_suffix("")) for w in found[s]])
    return Corpus(**splits, meta={"phones": phones, "root": str(root)})


def _prepare(size: str | int, path: str | None, seed: int, progress: bool,
             phones: int = 61) -> Prepared:
    """The corpus at ``path`` (cached whole by its identity and phone set), cut to ``size``
    (the sizes of timit-synth) on loading."""
    if phones not in (61, 39):
        raise TaskNameError(f"phones={phones!r} is not valid; use 61 or 39")
    root = Path(path or "")
    find_utterances(root)
    config = {"task": "timit", "source": cache.stamp(root), "phones": phones, "version": 1}
    corpus = cache.cached(config, lambda: load(root, phones, progress))
    desc = f"TIMIT corpus at {root}, {phones} phone classes, core test set"
    corpus = subset(corpus, split_counts(size, timit_synth.DEMO, None))
    return Prepared(corpus, features.speech_facts("timit", Source.LICENSED_CORPUS, desc,
                                           class_names(phones),
                                           StandsFor(PaperDataset.TIMIT, same_data=True)),
                    draw_frames)


TASK = TaskInfo("timit", "the real TIMIT corpus (--path DIR), 61 or 39 phone classes",
                needs_path=True, path_optional=False, options=("phones",), prepare=_prepare)
