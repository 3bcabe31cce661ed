"""``iam-ondb``: the real IAM On-Line Handwriting Database from a user's copy.

Expected under the root: ``lineStrokes/**/<form>-<NN>.xml`` (``Stroke`` elements of ``Point``
with ``x``, ``y``, ``time``), ``ascii/**/<form>.txt`` (transcriptions after the ``CSR:``
line, line NN = the NN-th text line) and the task-1 split files ``trainset.txt``,
``testset_v.txt``, ``testset_t.txt``, ``testset_f.txt`` (one form or line id per line)
anywhere below it. Train = trainset (board a08-551z dropped), valid = testset_v + testset_t
(the first and second validation sets), test = testset_f (the final test set): the paper's
5355 / 2956 / 3859 lines. Every stroke is subsampled ×½ (points 0, 2, 4, … plus its last point);
features per point are those of ``handwriting-synth``: Δx, Δy (y pointing up), time since
stroke start, pen-up on each stroke's last point.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from . import cache
from .common import SPLITS, Corpus, CorpusError, RawSplit, parallel_map, split_counts, subset
from .definition import Prepared, TaskInfo
from .describe import draw_strokes
from .handwriting import DEMO, encode, handwriting_facts
from .kinds import PaperDataset, Source, StandsFor

DROPPED = ("a08-551z",)
SPLIT_FILES = {"train": ("trainset.txt",), "valid": ("testset_v.txt", "testset_t.txt"),
               "test": ("testset_f.txt",)}
EXPECTED = ("lineStrokes/**/*.xml, ascii/**/*.txt and the split files trainset.txt, "
            "testset_v.txt, testset_f.txt, testset_t.txt")


def read_transcriptions(path: Path) -> dict[str, str]:
    """Line id → text of one ascii file (the lines after ``CSR:``)."""
    form = path.stem
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    try:
        start = next(i for i, s in enumerate(lines) if s.strip() == "CSR:") + 1
    except StopIteration:
        raise CorpusError(f"{path}: no 'CSR:' line; expected an IAM-OnDB ascii "
                          "transcription") from None
    body = [s.strip() for s in lines[start:]]
    while body and not body[0]:
        body.pop(0)
    while body and not body[-1]:
        body.pop()
    return {f"{form}-{i:02d}": s for i, s in enumerate(body, 1)}


def read_strokes(path: Path) -> list[np.ndarray]:
    """The strokes of one lineStrokes XML file: arrays ``[n, 3]`` of (x, y, time)."""
    try:
        root = ET.parse(path).getroot()
        strokes = [np.array([[float(p.get("x")), float(p.get("y")), float(p.get("time"))]
                             for p in s.iter("Point")]) for s in root.iter("Stroke")]
    except (ET.ParseError, TypeError, ValueError) as e:
        raise CorpusError(f"{path}: not an IAM-OnDB lineStrokes XML (Stroke/Point with x, y, "
                          f"time): {e}") from None
    strokes = [s for s in strokes if len(s)]
    if not strokes:
        raise CorpusError(f"{path}: no Stroke/Point elements; expected IAM-OnDB lineStrokes")
    return strokes


def subsample(stroke: np.ndarray) -> np.ndarray:
    """Every second point of a stroke, always keeping its last."""
    idx = np.arange(0, len(stroke), 2)
    if idx[-1] != len(stroke) - 1:
        idx = np.append(idx, len(stroke) - 1)
    return stroke[idx]


def line_features(path: Path) -> np.ndarray:
    """``[T, 4]`` float32 features of one line file (after ×½ subsampling)."""
    strokes = [subsample(s) for s in read_strokes(path)]
    pts = np.vstack(strokes)
    xy = pts[:, :2] * np.array([1.0, -1.0])
    d = np.diff(xy, axis=0, prepend=xy[:1])
    t = np.concatenate([s[:, 2] - s[0, 2] for s in strokes])
    up = np.concatenate([np.eye(1, len(s), len(s) - 1)[0] for s in strokes])
    return np.column_stack([d, t, up]).astype(np.float32)


def _find(root: Path, name: str) -> Path:
    hits = sorted(root.rglob(name))
    if not hits:
        raise CorpusError(f"{root}: split file {name} not found; expected {EXPECTED}")
    return hits[0]


def _in_split(line_id: str, entries: set[str]) -> bool:
    form = line_id.rsplit("-", 1)[0]
    return line_id in entries or form in entries or form[:-1] in entries


def load(root: Path, progress: bool = False) -> Corpus:
    """The IAM-OnDB task-1 corpus at ``root``; the alphabet is every character of the
    transcriptions, sorted (CTC targets are 1-based indices into it)."""
    if not root.is_dir():
        raise CorpusError(f"{root}: no such directory; expected an IAM-OnDB root with {EXPECTED}")
    if not (root / "lineStrokes").is_dir() or not (root / "ascii").is_dir():
        raise CorpusError(f"{root}: no lineStrokes/ or ascii/ folder; expected {EXPECTED}")
    texts: dict[str, str] = {}
    for txt in sorted((root / "ascii").rglob("*.txt")):
        texts.update(read_transcriptions(txt))
    xmls = {p.stem: p for p in (root / "lineStrokes").rglob("*.xml")}
    entries = {s: {e.strip() for f in names for e in _find(root, f).read_text().split()}
               for s, names in SPLIT_FILES.items()}
    ids = {s: [i for i in sorted(texts) if i in xmls and _in_split(i, entries[s])
               and not any(i.startswith(d) for d in DROPPED)] for s in SPLITS}
    if not ids["train"]:
        raise CorpusError(f"{root}: no training line has both a transcription and a "
                          f"lineStrokes file; expected {EXPECTED}")
    alphabet = "".join(sorted({c for s in SPLITS for i in ids[s] for c in texts[i]}))
    splits = {}
    for s in SPLITS:
        xs = parallel_map(line_features, [xmls[i] for i in ids[s]], progress=progress,
                          desc=f"iam-ondb: {s}")
        ys = [encode(texts[i], alphabet) for i in ids[s]]
        splits[s] = RawSplit(xs, ys, ids[s])
    return Corpus(**splits, meta={"alphabet": alphabet, "root": str(root)})


def _prepare(size: str | int, path: str | None, seed: int, progress: bool) -> Prepared:
    """The corpus at ``path`` (cached whole by its identity), cut to ``size`` on loading."""
    root = Path(path or "")
    if not root.is_dir():
        raise CorpusError(f"{root}: no such directory; expected an IAM-OnDB root with "
                          f"{EXPECTED}")
    config = {"task": "iam-ondb", "source": cache.stamp(root), "version": 1}
    corpus = cache.cached(config, lambda: load(root, progress))
    desc = f"IAM-OnDB at {root}, task-1 split, strokes subsampled ×½"
    corpus = subset(corpus, split_counts(size, DEMO, None))
    return Prepared(corpus, handwriting_facts("iam-ondb", Source.LICENSED_CORPUS, desc,
                                      corpus.meta["alphabet"],
                                      StandsFor(PaperDataset.IAM, same_data=True)),
                    draw_strokes)


TASK = TaskInfo("iam-ondb", "the real IAM-OnDB (--path DIR), task-1 split", needs_path=True,
                path_optional=False, options=(), prepare=_prepare)
