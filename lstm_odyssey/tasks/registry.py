"""Task names and the entry points :func:`prepare` (raw, cached corpus) and :func:`load_task`.

Sizes: ``"demo"`` (small, quick to train on), ``"full"`` (the paper's corpus size) or an int N
(N training sequences, ``max(1, N // 4)`` valid and test). Real corpora and ``jsb`` are cached
whole and cut to size on loading; synthetic corpora are generated at their size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from . import cache, handwriting, iam_ondb, jsb, timit, timit_synth
from .base import Task
from .common import Corpus, CorpusError, TaskNameError, build_task, split_counts, subset
from .phones import PHONES39

Prepared = tuple[Corpus, dict[str, Any]]


@dataclass(frozen=True)
class TaskInfo:
    """What the registry knows about a task name."""

    name: str
    summary: str
    needs_path: bool           # reads a real corpus the user must point at
    path_optional: bool        # the free default can be replaced by a real corpus via path
    options: tuple[str, ...]   # task-specific keyword options


def _stamp(path: Path) -> dict[str, Any]:
    """Identity of a real corpus for the cache key: resolved path, file count, bytes, newest
    modification time (a changed corpus gets a new cache entry)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.stat() for p in files]
    return {"path": str(path.resolve()), "files": len(stats),
            "bytes": sum(s.st_size for s in stats),
            "mtime": int(max((s.st_mtime for s in stats), default=0))}


def _speech_kwargs(name: str, source: str, desc: str, names: list[str]) -> dict[str, Any]:
    return {"name": name, "source": source, "description": desc, "input_size": 39,
            "num_classes": len(names), "loss": "framewise_ce", "bidirectional": True,
            "class_names": names, "norm_columns": slice(None), "target_dtype": "int64"}


def _hand_kwargs(name: str, source: str, desc: str, alphabet: str) -> dict[str, Any]:
    return {"name": name, "source": source, "description": desc, "input_size": 4,
            "num_classes": len(alphabet) + 1, "loss": "ctc", "bidirectional": True,
            "class_names": ["<blank>", *alphabet], "norm_columns": [0, 1, 2],
            "target_dtype": "int64"}


def _prepare_jsb(size: str | int, path: str | None, seed: int, progress: bool,
                 step: str = "quarter") -> Prepared:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise CorpusError(f"{p}: no such file; expected the JSB Chorales .pickle "
                              "(dict with 'train'/'valid'/'test')")
        config = {"task": "jsb", "source": _stamp(p), "version": jsb.GENERATOR_VERSION}
        corpus = cache.cached(config, lambda: jsb.load_pickle(p))
        source, desc = "real", f"JSB Chorales pickle {p}"
    else:
        if step not in jsb.STEPS:
            raise TaskNameError(f"step {step!r} is not valid; use one of {', '.join(jsb.STEPS)}")
        config = {"task": "jsb", "source": f"music21-{version('music21')}", "seed": seed,
                  "step": step, "version": jsb.GENERATOR_VERSION}
        corpus = cache.cached(config, lambda: jsb.build_music21(seed, step, progress))
        source = "synthetic"
        desc = (f"Bach chorales from the music21 corpus, {step}-note piano rolls, "
                f"60/20/20 split by BWV number (seed {seed})")
    kwargs = {"name": "jsb", "source": source, "description": desc, "input_size": jsb.NOTES,
              "num_classes": jsb.NOTES, "loss": "bernoulli", "bidirectional": False,
              "class_names": jsb.note_names(), "norm_columns": None,
              "target_dtype": "float32"}
    return subset(corpus, split_counts(size, None, None)), kwargs


def _prepare_timit_synth(size: str | int, path: str | None, seed: int,
                         progress: bool) -> Prepared:
    counts = split_counts(size, timit_synth.DEMO, timit_synth.FULL)
    config = {"task": "timit-synth", "source": "espeak-ng", "size": counts, "seed": seed,
              "version": timit_synth.GENERATOR_VERSION}
    corpus = cache.cached(config, lambda: timit_synth.build(counts, seed, progress))
    desc = (f"TIMIT-like speech synthesised with espeak-ng ({'/'.join(map(str, counts))} "
            f"utterances, seed {seed}), 39-dim MFCC+Δ+ΔΔ, 39 folded phone classes")
    return corpus, _speech_kwargs("timit-synth", "synthetic", desc, list(PHONES39))


def _prepare_timit(size: str | int, path: str | None, seed: int, progress: bool,
                   phones: int = 61) -> Prepared:
    if phones not in (61, 39):
        raise TaskNameError(f"phones={phones!r} is not valid; use 61 or 39")
    root = Path(path or "")
    timit.find_utterances(root)
    config = {"task": "timit", "source": _stamp(root), "phones": phones, "version": 1}
    corpus = cache.cached(config, lambda: timit.load(root, phones, progress))
    desc = f"TIMIT corpus at {root}, {phones} phone classes, core test set"
    corpus = subset(corpus, split_counts(size, timit_synth.DEMO, None))
    return corpus, _speech_kwargs("timit", "real", desc, timit.class_names(phones))


def _prepare_handwriting_synth(size: str | int, path: str | None, seed: int,
                               progress: bool) -> Prepared:
    counts = split_counts(size, handwriting.DEMO, handwriting.FULL)
    config = {"task": "handwriting-synth", "source": "hershey-fonts", "size": counts,
              "seed": seed, "version": handwriting.GENERATOR_VERSION,
              "points_per_char": list(handwriting.POINTS_PER_CHAR),
              "line_chars": list(handwriting.LINE_CHARS)}
    corpus = cache.cached(config, lambda: handwriting.build(counts, seed, progress))
    desc = (f"online handwriting rendered from Hershey fonts ({'/'.join(map(str, counts))} "
            f"lines, seed {seed}), (Δx, Δy, t, pen-up) per point, CTC over characters")
    return corpus, _hand_kwargs("handwriting-synth", "synthetic", desc, handwriting.ALPHABET)


def _prepare_iam_ondb(size: str | int, path: str | None, seed: int,
                      progress: bool) -> Prepared:
    root = Path(path or "")
    if not root.is_dir():
        raise CorpusError(f"{root}: no such directory; expected an IAM-OnDB root with "
                          f"{iam_ondb.EXPECTED}")
    config = {"task": "iam-ondb", "source": _stamp(root), "version": 1}
    corpus = cache.cached(config, lambda: iam_ondb.load(root, progress))
    desc = f"IAM-OnDB at {root}, task-1 split, strokes subsampled ×½"
    corpus = subset(corpus, split_counts(size, handwriting.DEMO, None))
    return corpus, _hand_kwargs("iam-ondb", "real", desc, corpus.meta["alphabet"])


TASKS: dict[str, tuple[TaskInfo, Callable[..., Prepared]]] = {
    "jsb": (TaskInfo("jsb", "Bach chorales (music21) as 88-note piano rolls; --path "
                     "FILE.pickle for the standard JSB Chorales data",
                     needs_path=False, path_optional=True, options=("step",)), _prepare_jsb),
    "timit-synth": (TaskInfo("timit-synth", "TIMIT-like speech synthesised with espeak-ng, "
                             "exact frame labels, 39 phone classes",
                             needs_path=False, path_optional=False, options=()),
                    _prepare_timit_synth),
    "timit": (TaskInfo("timit", "the real TIMIT corpus (--path DIR), 61 or 39 phone classes",
                       needs_path=True, path_optional=False, options=("phones",)),
              _prepare_timit),
    "handwriting-synth": (TaskInfo("handwriting-synth", "online handwriting rendered from "
                                   "Hershey stroke fonts, CTC over characters",
                                   needs_path=False, path_optional=False, options=()),
                          _prepare_handwriting_synth),
    "iam-ondb": (TaskInfo("iam-ondb", "the real IAM-OnDB (--path DIR), task-1 split",
                          needs_path=True, path_optional=False, options=()), _prepare_iam_ondb),
}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def free_tasks() -> list[str]:
    """Tasks that need no corpus of the user's: they install from PyPI alone."""
    return [n for n, (info, _) in TASKS.items() if not info.needs_path]


def task_info(name: str) -> TaskInfo:
    """The registry entry of ``name``; unknown names raise :class:`TaskNameError`."""
    if name not in TASKS:
        raise TaskNameError(f"unknown task {name!r}; valid tasks: {', '.join(TASK_NAMES)}")
    return TASKS[name][0]


def prepare(name: str, size: str | int = "demo", path: str | os.PathLike | None = None,
            seed: int = 0, progress: bool = False, **options: Any) -> Prepared:
    """The raw (unnormalised) corpus of a task, from the cache or built and cached, plus the
    keyword arguments that turn it into a :class:`Task` (see :func:`build_task`)."""
    info = task_info(name)
    unknown = set(options) - set(info.options)
    if unknown:
        raise TaskNameError(f"task {name!r} has no option {', '.join(sorted(unknown))}; "
                            f"valid: {', '.join(info.options) or 'none'}")
    if info.needs_path and path is None:
        raise CorpusError(f"task {name!r} reads a real corpus; give its location with "
                          "path=/--path")
    if path is not None and not (info.needs_path or info.path_optional):
        raise TaskNameError(f"task {name!r} is generated and takes no path")
    return TASKS[name][1](size, None if path is None else str(path), seed, progress, **options)


def load_task(name: str, size: str | int = "demo", path: str | os.PathLike | None = None,
              seed: int = 0, progress: bool = False, **options: Any) -> Task:
    """Load (preparing and caching on first use) the task ``name`` at ``size``
    (``"demo"``, ``"full"`` or N training sequences), from the free default or, with
    ``path``, from the user's real corpus. Inputs are z-normalised with training-split
    statistics (JSB rolls and pen-up flags stay binary). Keyword ``options`` are
    task-specific: ``step="quarter"|"eighth"`` for ``jsb``, ``phones=61|39`` for ``timit``."""
    corpus, kwargs = prepare(name, size, path, seed, progress, **options)
    return build_task(corpus, **kwargs)
