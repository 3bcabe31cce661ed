"""The user's own data: the dataset format (version 1), its writer and its checked reader.

A dataset is a folder::

    DIR/dataset.toml     what the data is (below)
    DIR/train.npz        one file per split, written with numpy alone (numpy.savez)
    DIR/valid.npz
    DIR/test.npz

Each split file holds the sequences of the split concatenated, plus where each one starts:

====================  =========================  =============================================
array                 shape, dtype               meaning
====================  =========================  =============================================
``inputs``            ``[ΣT, M]`` float          the steps of every sequence, one after another
``offsets``           ``[N + 1]`` int            sequence i is ``inputs[offsets[i]:offsets[i+1]]``
                                                 (``offsets[0] = 0``, ``offsets[N] = ΣT``)
``targets``           by kind (below)            what the network predicts
``target_offsets``    ``[N + 1]`` int            ``ctc`` only: the labels of sequence i are
                                                 ``targets[target_offsets[i]:target_offsets[i+1]]``
``ids``               ``[N]`` str (optional)     a name per sequence
====================  =========================  =============================================

``targets`` by kind (C = ``output_size``): ``framewise_ce`` ``[ΣT]`` int in 0…C−1;
``bernoulli`` ``[ΣT, C]`` 0/1 (bool, int or float); ``framewise_mse`` ``[ΣT, C]`` float;
``ctc`` ``[ΣL]`` int in 1…C−1 (0 is the blank); ``sequence_ce`` ``[N]`` int in 0…C−1.

``dataset.toml``::

    format = 1                       # the format version (required)
    name = "my-sensors"              # the task's name (default: the folder's name)
    kind = "framewise_mse"           # framewise_ce | ctc | bernoulli | framewise_mse | sequence_ce
    input_size = 6                   # M (required)
    output_size = 3                  # C (required): classes, CTC labels + blank, outputs
    description = "..."              # one line: what the data is
    source = "user files"            # generated | free corpus | user files | licensed corpus
    class_names = ["x", "y", "z"]    # optional: C names (CTC: C − 1, the labels 1…C−1)
    stands_for = "TIMIT"             # optional: the paper dataset it stands in for
    paper_corpus = false             # optional: true if the data ARE that dataset
    bidirectional = false            # optional: the kind's default network otherwise
    normalise = true                 # true (every input column) | false | [column, ...]
    origin = "https://..."           # optional: where the data come from
    licence = "CC BY 4.0"            # optional

Reading never runs code from the files: ``dataset.toml`` is parsed by :mod:`tomllib`, the
arrays by ``numpy.load(..., allow_pickle=False)``. Every check fails with one line that names
the file, the sequence and the fix (:class:`DatasetError`); a dataset that fails is never
cached. A valid dataset is cached like a built-in corpus (:mod:`.cache`), keyed by the SHA-256
of its four files.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from . import cache
from .common import SPLITS, Corpus, CorpusError, RawSplit, TaskNameError, split_counts, subset
from .definition import Prepared, TaskFacts
from .kinds import KindError, Source, StandsFor, Targets, TaskKind, ctc_min_length

FORMAT_VERSION = 1
CONFIG_FILE = "dataset.toml"
SPLIT_FILES = {s: f"{s}.npz" for s in SPLITS}
READER_VERSION = 1  # of this module's reading: part of the cache key
OPTIONS = ("bidirectional",)  # what a study file or load_task may override

# dataset.toml: key -> (required, what it must be, for people)
KEYS: dict[str, tuple[bool, str]] = {
    "format": (True, f"the format version, {FORMAT_VERSION}"),
    "name": (False, "a name of letters, digits, '-', '_' or '.'"),
    "kind": (True, f"one of {', '.join(TaskKind)}"),
    "input_size": (True, "an integer ≥ 1"),
    "output_size": (True, "an integer ≥ 1"),
    "description": (False, "a string"),
    "source": (False, f"one of {', '.join(repr(s.value) for s in Source)}"),
    "class_names": (False, "a list of strings"),
    "stands_for": (False, "one of TIMIT, IAM, JSB"),
    "paper_corpus": (False, "true or false"),
    "bidirectional": (False, "true or false"),
    "normalise": (False, "true, false or a list of input columns"),
    "origin": (False, "a string"),
    "licence": (False, "a string"),
}
ARRAYS = ("inputs", "offsets", "targets", "target_offsets", "ids")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class DatasetError(UserError, ValueError):
    """A dataset folder whose files do not follow the format; the message names the file,
    the sequence and the fix."""


@dataclass(frozen=True)
class DatasetConfig:
    """A checked ``dataset.toml``."""

    name: str
    kind: TaskKind
    input_size: int
    output_size: int
    description: str = ""
    source: Source = Source.USER_FILES
    class_names: tuple[str, ...] = ()
    stands_for: StandsFor | None = None
    bidirectional: bool | None = None  # None: the kind's default
    normalise: bool | tuple[int, ...] = True
    origin: str = ""
    licence: str = ""
    format: int = FORMAT_VERSION

    @property
    def network_bidirectional(self) -> bool:
        return self.kind.spec.bidirectional if self.bidirectional is None else self.bidirectional

    @property
    def output_names(self) -> list[str]:
        """A name per output unit (CTC: the blank first)."""
        names = list(self.class_names) or [str(i) for i in range(self.kind.spec.min_label,
                                                                 self.output_size)]
        return ["<blank>", *names] if self.kind is TaskKind.CTC else names

    def to_toml(self) -> str:
        """The ``dataset.toml`` text. Hand-written because the values are flat (strings,
        integers, booleans and lists of them) and the standard library only reads TOML:
        strings are written as JSON strings, whose escapes are valid TOML basic strings."""
        values: dict[str, Any] = {
            "format": self.format, "name": self.name, "kind": self.kind.value,
            "input_size": self.input_size, "output_size": self.output_size,
            "description": self.description, "source": self.source.value,
        }
        if self.class_names:
            values["class_names"] = list(self.class_names)
        if self.stands_for is not None:
            values["stands_for"] = self.stands_for.dataset.value
            values["paper_corpus"] = self.stands_for.same_data
        if self.bidirectional is not None:
            values["bidirectional"] = self.bidirectional
        values["normalise"] = (self.normalise if isinstance(self.normalise, bool)
                               else list(self.normalise))
        for key in ("origin", "licence"):
            if getattr(self, key):
                values[key] = getattr(self, key)
        return "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def _fail(where: Path | str, message: str) -> DatasetError:
    return DatasetError(f"{where}: {message}")


# -- dataset.toml --------------------------------------------------------------------------------
def read_config(folder: str | Path) -> DatasetConfig:
    """The checked ``dataset.toml`` of ``folder``."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise CorpusError(f"{folder}: no such folder; give the folder that holds {CONFIG_FILE} "
                          "and the split files (see lstm_odyssey.tasks.write_dataset)")
    if not path.is_file():
        raise CorpusError(f"{folder}: no {CONFIG_FILE}; a dataset folder needs one (write the "
                          "folder with lstm_odyssey.tasks.write_dataset, or see docs/own-data.md)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise _fail(path, f"not valid TOML ({e}); fix the file") from None
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _fail(path, f"unknown key '{key}'; {hint}valid keys: {', '.join(KEYS)}")
    for key, (required, _) in KEYS.items():
        if required and key not in data:
            raise _fail(path, f"'{key}' is missing; set it to {KEYS[key][1]}")

    def bad(key: str) -> DatasetError:
        return _fail(path, f"'{key}' = {data[key]!r} is invalid; use {KEYS[key][1]}")

    def integer(key: str) -> int:
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(key)
        return v

    def text(key: str) -> str:
        v = data.get(key, "")
        if not isinstance(v, str):
            raise bad(key)
        return v

    def flag(key: str) -> bool | None:
        v = data.get(key)
        if v is not None and not isinstance(v, bool):
            raise bad(key)
        return v

    if data["format"] != FORMAT_VERSION:
        newer = isinstance(data["format"], int) and data["format"] > FORMAT_VERSION
        raise _fail(path, f"'format' = {data['format']!r} is not a format this version reads"
                          + ("; update lstm-odyssey" if newer else f"; use {FORMAT_VERSION}"))
    try:
        kind = TaskKind.parse(data["kind"]) if isinstance(data["kind"], str) else None
        source = Source.parse(data["source"]) if "source" in data else Source.USER_FILES
        stands_for = (StandsFor.parse(data["stands_for"], bool(flag("paper_corpus")))
                      if "stands_for" in data else None)
    except KindError as e:
        raise _fail(path, str(e)) from None
    if kind is None:
        raise bad("kind")
    if "paper_corpus" in data and stands_for is None:
        raise _fail(path, "'paper_corpus' needs 'stands_for' (the paper dataset the data are)")
    name = text("name") or folder.resolve().name
    if not NAME.fullmatch(name):
        raise _fail(path, f"'name' = {name!r} is invalid; use {KEYS['name'][1]}")
    output_size = integer("output_size")
    if kind is TaskKind.CTC and output_size < 2:
        raise _fail(path, "'output_size' of a ctc task counts the labels plus the blank; "
                          "it must be at least 2")
    names = data.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad("class_names")
    want = output_size - kind.spec.min_label
    if names and len(names) != want:
        what = "the labels 1…C−1 (the blank 0 is named for you)" if kind is TaskKind.CTC \
            else "one per output"
        raise _fail(path, f"'class_names' has {len(names)} names, but output_size = "
                          f"{output_size} needs {want} ({what}); fix one of them")
    input_size = integer("input_size")
    normalise = data.get("normalise", True)
    if isinstance(normalise, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < input_size
                   for c in normalise):
            raise _fail(path, f"'normalise' = {normalise!r} must list input columns in "
                              f"0…{input_size - 1}")
        normalise = tuple(sorted(set(normalise)))
    elif not isinstance(normalise, bool):
        raise bad("normalise")
    return DatasetConfig(
        name=name, kind=kind, input_size=input_size, output_size=output_size,
        description=text("description"), source=source, class_names=tuple(names),
        stands_for=stands_for, bidirectional=flag("bidirectional"), normalise=normalise,
        origin=text("origin"), licence=text("licence"))


# -- split files ---------------------------------------------------------------------------------
def _seq_of(offsets: np.ndarray, row: int) -> int:
    """The sequence that holds concatenated row ``row``."""
    return int(np.searchsorted(offsets, row, side="right") - 1)


def _check_offsets(path: Path, offsets: np.ndarray, total: int, name: str, rows: str,
                   allow_empty: bool) -> None:
    """``offsets`` is a valid cut of ``total`` rows into sequences."""
    if offsets.ndim != 1 or not np.issubdtype(offsets.dtype, np.integer):
        raise _fail(path, f"'{name}' is {offsets.dtype} of shape {offsets.shape}; it must be "
                          "1-D integers (np.cumsum of the lengths, with a 0 in front)")
    if len(offsets) < 2:
        raise _fail(path, "the split is empty (no sequences); put at least one sequence in "
                          "every split")
    if offsets[0] != 0:
        raise _fail(path, f"'{name}'[0] = {offsets[0]}; it must be 0 (the first sequence "
                          f"starts at the first row of '{rows}')")
    steps = np.diff(offsets)
    bad = np.flatnonzero(steps < 0 if allow_empty else steps <= 0)
    if len(bad):
        i = int(bad[0])
        raise _fail(path, f"sequence {i}: '{name}' goes from {offsets[i]} to {offsets[i + 1]}; "
                          f"offsets must {'not decrease' if allow_empty else 'increase'} "
                          f"({'' if allow_empty else 'no empty sequences; '}drop it or fix "
                          f"'{name}')")
    if offsets[-1] != total:
        raise _fail(path, f"'{name}' ends at {offsets[-1]}, but '{rows}' has {total} rows; "
                          f"the last offset must be the row count")


def _finite(path: Path, values: np.ndarray, offsets: np.ndarray, name: str) -> None:
    rows = ~np.isfinite(values.reshape(len(values), -1)).all(1)
    if rows.any():
        row = int(np.flatnonzero(rows)[0])
        raise _fail(path, f"sequence {_seq_of(offsets, row)}: '{name}' has a NaN or infinite "
                          f"value (row {row}); fill or drop it")


def _labels(path: Path, labels: np.ndarray, offsets: np.ndarray, low: int, high: int,
            what: str) -> None:
    bad = np.flatnonzero((labels < low) | (labels > high))
    if len(bad):
        row = int(bad[0])
        raise _fail(path, f"sequence {_seq_of(offsets, row)}: target {labels[row]} is outside "
                          f"{low}…{high} ({what}); fix the label or raise output_size")


def read_split(folder: Path, split: str, config: DatasetConfig) -> RawSplit:
    """One split file, checked against ``config``, as raw sequences."""
    path = folder / SPLIT_FILES[split]
    if not path.is_file():
        raise _fail(folder, f"the {split} split is missing: no {SPLIT_FILES[split]}; write it "
                            "(every dataset has train, valid and test)")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise _fail(path, "is a single array, not an .npz archive; write it with "
                                  "numpy.savez(path, inputs=..., offsets=..., targets=...)")
            for name in f.files:
                if name not in ARRAYS:
                    close = difflib.get_close_matches(name, ARRAYS, n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise _fail(path, f"unknown array '{name}'; {hint}valid arrays: "
                                      f"{', '.join(ARRAYS)}")
            arrays = {name: f[name] for name in f.files}
    except ValueError as e:  # object arrays need pickle, which is never allowed
        if "pickle" in str(e):
            raise _fail(path, "holds an object array (it would need pickle, which is never "
                              "loaded); save plain numeric arrays, ids as a str array") from None
        raise _fail(path, f"cannot be read as .npz ({e}); write it with numpy.savez") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise _fail(path, f"cannot be read as .npz ({e}); write it with numpy.savez") from None
    kind = config.kind
    needed = ["inputs", "offsets", "targets"] + (["target_offsets"] if kind is TaskKind.CTC
                                                 else [])
    for name in needed:
        if name not in arrays:
            raise _fail(path, f"array '{name}' is missing; add it (see docs/own-data.md)")
    if "target_offsets" in arrays and kind is not TaskKind.CTC:
        raise _fail(path, f"'target_offsets' belongs to ctc tasks; this one is {kind.value}: "
                          "drop it")
    x, offsets, y = arrays["inputs"], arrays["offsets"], arrays["targets"]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise _fail(path, f"'inputs' is {x.dtype} of shape {x.shape}; it must be a 2-D float "
                          "array [steps, input_size] (use .astype(np.float32))")
    if x.shape[1] != config.input_size:
        raise _fail(path, f"'inputs' has {x.shape[1]} columns, but input_size = "
                          f"{config.input_size}; fix one of them")
    _check_offsets(path, offsets, len(x), "offsets", "inputs", allow_empty=False)
    _finite(path, x, offsets, "inputs")
    n = len(offsets) - 1
    C = config.output_size
    layout = kind.spec.targets
    y_offsets = offsets
    if kind.per_step and len(y) != len(x):
        raise _fail(path, f"'targets' has {len(y)} rows but 'inputs' {len(x)}; a {kind.value} "
                          "task has one target row per input step")
    if layout in (Targets.STEP_MULTIHOT, Targets.STEP_VALUES):
        if y.ndim != 2 or y.shape[1] != C:
            raise _fail(path, f"'targets' has shape {y.shape}; a {kind.value} task needs "
                              f"[steps, output_size = {C}]")
        if layout is Targets.STEP_VALUES:
            if not np.issubdtype(y.dtype, np.floating):
                raise _fail(path, f"'targets' is {y.dtype}; {kind.value} targets are floats "
                                  "(use .astype(np.float32))")
            _finite(path, y, offsets, "targets")
        else:
            if not (y.dtype == bool or np.issubdtype(y.dtype, np.number)):
                raise _fail(path, f"'targets' is {y.dtype}; bernoulli targets are 0/1 (bool, "
                                  "int or float)")
            bad = np.flatnonzero(~np.isin(y, (0, 1)).all(1))
            if len(bad):
                raise _fail(path, f"sequence {_seq_of(offsets, int(bad[0]))}: a bernoulli "
                                  f"target is not 0 or 1 (row {int(bad[0])}); threshold it")
    else:
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise _fail(path, f"'targets' is {y.dtype} of shape {y.shape}; {kind.value} "
                              "targets are 1-D integers (use .astype(np.int64))")
        if kind is TaskKind.CTC:
            y_offsets = arrays["target_offsets"]
            _check_offsets(path, y_offsets, len(y), "target_offsets", "targets",
                           allow_empty=True)
            if len(y_offsets) != n + 1:
                raise _fail(path, f"'target_offsets' cuts {len(y_offsets) - 1} label sequences "
                                  f"but 'offsets' {n} input sequences; give one per sequence")
        elif layout is Targets.SEQUENCE_CLASS:
            if len(y) != n:
                raise _fail(path, f"'targets' has {len(y)} labels for {n} sequences; a "
                                  "sequence_ce task has one label per sequence")
            y_offsets = np.arange(n + 1)
        low = kind.spec.min_label
        _labels(path, y, y_offsets, low, C - 1,
                "0 is the CTC blank" if kind is TaskKind.CTC else f"output_size = {C}")
    inputs = np.split(x, offsets[1:-1])
    targets = np.split(y, y_offsets[1:-1])
    if kind is TaskKind.CTC:
        for i, (a, labels) in enumerate(zip(inputs, targets)):
            need = ctc_min_length(labels.tolist())
            if len(a) < need:
                raise _fail(path, f"sequence {i}: {len(a)} steps are fewer than CTC needs for "
                                  f"its {len(labels)} labels ({need}); drop it or give it more "
                                  "steps")
    ids = arrays.get("ids")
    if ids is not None:
        if ids.ndim != 1 or ids.dtype.kind != "U" or len(ids) != n:
            raise _fail(path, f"'ids' is {ids.dtype} of shape {ids.shape}; it must be {n} "
                              "strings (np.array(names, dtype=str)) or left out")
        names = [str(i) for i in ids]
    else:
        names = [f"{split}/{i}" for i in range(n)]
    return RawSplit(list(inputs), list(targets), names)


def digest(folder: str | Path) -> dict[str, str]:
    """SHA-256 of ``dataset.toml`` and each split file: the dataset's identity (the key of its
    cache entry and part of a planned study's fingerprint)."""
    folder = Path(folder)
    read_config(folder)  # a folder without a readable dataset.toml fails here, in one line
    for split, file in SPLIT_FILES.items():
        if not (folder / file).is_file():
            raise _fail(folder, f"the {split} split is missing: no {file}; write it (every "
                                "dataset has train, valid and test)")
    out = {}
    for name in (CONFIG_FILE, *SPLIT_FILES.values()):
        h = hashlib.sha256()
        with open(folder / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[name] = h.hexdigest()
    return out


def read_dataset(folder: str | Path) -> tuple[DatasetConfig, Corpus]:
    """The checked dataset in ``folder`` (not cached): its config and raw corpus."""
    folder = Path(folder)
    config = read_config(folder)
    splits = {s: read_split(folder, s, config) for s in SPLITS}
    meta = {"format": FORMAT_VERSION, "folder": str(folder.resolve()),
            "origin": config.origin, "licence": config.licence}
    return config, Corpus(**splits, meta=meta)


def facts(config: DatasetConfig, name: str | None = None,
          bidirectional: bool | None = None) -> TaskFacts:
    """The task facts of a dataset (``name`` and ``bidirectional`` override the file's)."""
    norm = config.normalise
    return TaskFacts(
        name=name or config.name, source=config.source,
        description=config.description or f"the user's dataset {config.name}",
        input_size=config.input_size, num_classes=config.output_size, loss=config.kind,
        bidirectional=(config.network_bidirectional if bidirectional is None
                       else bidirectional),
        class_names=config.output_names,
        norm_columns=(slice(None) if norm is True else None if norm is False else list(norm)),
        target_dtype="int64" if config.kind.classes else "float32",
        stands_for=config.stands_for)


def prepare(path: str | Path, name: str | None = None, size: str | int = "full",
            progress: bool = False, **options: Any) -> Prepared:
    """The dataset at ``path``, checked on first use and cached by the content hash of its
    files, cut to ``size`` ("demo" and "full": every sequence; N: N training sequences and
    ``max(1, N // 4)`` valid and test). ``name`` (default: the file's) names the task;
    ``options``: ``bidirectional=True|False`` overrides the file's network."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise TaskNameError(f"a dataset folder has no option {', '.join(sorted(unknown))}; "
                            f"valid: {', '.join(OPTIONS)}")
    bidirectional = options.get("bidirectional")
    if bidirectional is not None and not isinstance(bidirectional, bool):
        raise TaskNameError(f"option bidirectional={bidirectional!r} is invalid; use true or "
                            "false")
    if name is not None and not NAME.fullmatch(name):
        raise TaskNameError(f"task name {name!r} is invalid; use letters, digits, '-', '_' "
                            "or '.'")
    folder = Path(path)
    config = read_config(folder)
    key = {"task": config.name, "source": {"format": FORMAT_VERSION, "sha256": digest(folder)},
           "version": READER_VERSION}
    corpus = cache.cached(key, lambda: read_dataset(folder)[1])
    counts = None if size in ("demo", "full") else split_counts(size, None, None)
    from .describe import draw_sequence

    return Prepared(subset(corpus, counts), facts(config, name, bidirectional), draw_sequence)


def dataset_name(path: str | Path) -> str:
    """The name a dataset folder gives its task."""
    return read_config(path).name


# -- writing -------------------------------------------------------------------------------------
SplitData = tuple[Sequence[np.ndarray], Sequence[Any]]


def _pack_split(kind: TaskKind, inputs: Sequence[np.ndarray], targets: Sequence[Any],
                ids: Sequence[str] | None) -> dict[str, np.ndarray]:
    if len(inputs) != len(targets):
        raise DatasetError(f"{len(inputs)} input sequences but {len(targets)} targets; give "
                           "one target per sequence")
    xs = [np.asarray(a) for a in inputs]
    lengths = [len(a) for a in xs]
    out = {"inputs": (np.concatenate(xs) if xs else np.zeros((0, 0), np.float32)),
           "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)}
    if kind.spec.targets is Targets.SEQUENCE_CLASS:
        out["targets"] = np.array([int(np.asarray(t).reshape(-1)[0]) for t in targets],
                                  dtype=np.int64)
    else:
        ys = [np.asarray(t) for t in targets]
        out["targets"] = np.concatenate(ys) if ys else np.zeros(0, np.int64)
        if kind is TaskKind.CTC:
            out["target_offsets"] = np.concatenate(
                [[0], np.cumsum([len(t) for t in ys])]).astype(np.int64)
    if ids is not None:
        out["ids"] = np.array(list(ids), dtype=str)
    return out


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``numpy.savez_compressed(path, **arrays)`` with every member dated 1980-01-01, so the same
    arrays give the same bytes (numpy stamps each member with the current time, and a file's
    SHA-256 is the dataset's identity: rewriting equal data must not change it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)


def write_dataset(path: str | Path, *, name: str, kind: TaskKind | str, train: SplitData,
                  valid: SplitData, test: SplitData, output_size: int | None = None,
                  class_names: Sequence[str] = (), description: str = "",
                  source: Source | str = Source.USER_FILES, stands_for: str | None = None,
                  paper_corpus: bool = False, bidirectional: bool | None = None,
                  normalise: bool | Sequence[int] = True, origin: str = "", licence: str = "",
                  ids: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Write a dataset folder from lists of arrays and check it by reading it back.

    Each split is ``(inputs, targets)``: ``inputs`` a list of ``[T, M]`` float arrays,
    ``targets`` one per sequence as the kind wants it (``[T]`` classes, ``[T, C]`` 0/1 or
    values, ``[L]`` CTC labels in 1…C−1, or one int class per sequence). ``output_size``
    defaults to the number of target columns, or the largest class + 1. ``ids`` may name the
    sequences of each split (``{"train": [...], ...}``). Returns the folder."""
    kind = TaskKind.parse(kind)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    splits = {"train": train, "valid": valid, "test": test}
    packed = {s: _pack_split(kind, xs, ys, (ids or {}).get(s)) for s, (xs, ys) in splits.items()}
    first = packed["train"]["inputs"]
    input_size = int(first.shape[1]) if first.ndim == 2 else 0
    if output_size is None:
        ys = [p["targets"] for p in packed.values() if len(p["targets"])]
        if kind.classes:
            output_size = max(int(y.max()) for y in ys) + 1 if ys else 1
        else:
            output_size = int(ys[0].shape[1]) if ys and ys[0].ndim == 2 else 1
    config = DatasetConfig(
        name=name, kind=kind, input_size=input_size, output_size=output_size,
        description=description, source=Source.parse(source), class_names=tuple(class_names),
        stands_for=None if stands_for is None else StandsFor.parse(stands_for, paper_corpus),
        bidirectional=bidirectional,
        normalise=normalise if isinstance(normalise, bool) else tuple(normalise),
        origin=origin, licence=licence)
    (folder / CONFIG_FILE).write_text(config.to_toml(), encoding="utf-8")
    for s, arrays in packed.items():
        _write_npz(folder / SPLIT_FILES[s], arrays)
    read_dataset(folder)  # the same checks as every reader: an invalid dataset fails here
    return folder
