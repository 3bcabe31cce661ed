"""Task names and the one entry point, :func:`load_task`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cache, jsb, timit_synth
from .base import Task
from .common import Corpus, CorpusError, TaskNameError, build_task, split_counts, subset
from .phones import PHONES39


@dataclass(frozen=True)
class TaskInfo:
    """What the registry knows about a task name."""

    name: str
    summary: str
    needs_path: bool           # a real corpus the user must point at
    path_optional: bool        # the free default can be replaced by a real corpus via path
    options: tuple[str, ...]   # keyword options load_task accepts for it


def _file_stamp(path: Path) -> dict[str, Any]:
    """Identity of a real corpus for the cache key: resolved path, size and mtime."""
    st = path.stat()
    return {"path": str(path.resolve()), "bytes": st.st_size, "mtime": int(st.st_mtime)}


def _load_jsb(size: str | int, path: str | None, seed: int, progress: bool,
              step: str = "quarter") -> Task:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise CorpusError(f"{p}: no such file; expected the JSB Chorales .pickle "
                              "(dict with 'train'/'valid'/'test')")
        config = {"task": "jsb", "source": _file_stamp(p), "version": jsb.GENERATOR_VERSION}
        corpus: Corpus = cache.cached(config, lambda: jsb.load_pickle(p))
        source, desc = "real", f"JSB Chorales pickle {p}"
    else:
        import music21

        config = {"task": "jsb", "source": f"music21-{music21.__version__}", "seed": seed,
                  "step": step, "version": jsb.GENERATOR_VERSION}
        corpus = cache.cached(config, lambda: jsb.build_music21(seed, step, progress))
        source = "synthetic"
        desc = (f"Bach chorales from the music21 corpus, {step}-note piano rolls, "
                f"60/20/20 split by BWV number (seed {seed})")
    corpus = subset(corpus, split_counts(size, None, None))
    return build_task(corpus, name="jsb", source=source, description=desc,
                      input_size=jsb.NOTES, num_classes=jsb.NOTES, loss="bernoulli",
                      bidirectional=False, class_names=jsb.note_names(), norm_columns=None,
                      target_dtype="float32")


def _load_timit_synth(size: str | int, path: str | None, seed: int, progress: bool) -> Task:
    counts = split_counts(size, timit_synth.DEMO, timit_synth.FULL)
    config = {"task": "timit-synth", "source": "espeak-ng", "size": counts, "seed": seed,
              "version": timit_synth.GENERATOR_VERSION}
    corpus = cache.cached(config, lambda: timit_synth.build(counts, seed, progress))
    desc = (f"TIMIT-like speech synthesised with espeak-ng ({'/'.join(map(str, counts))} "
            f"utterances, seed {seed}), 39-dim MFCC+Δ+ΔΔ, 39 folded phone classes")
    return build_task(corpus, name="timit-synth", source="synthetic", description=desc,
                      input_size=39, num_classes=len(PHONES39), loss="framewise_ce",
                      bidirectional=True, class_names=list(PHONES39),
                      norm_columns=slice(None), target_dtype="int64")


TASKS: dict[str, tuple[TaskInfo, Callable[..., Task]]] = {
    "jsb": (TaskInfo("jsb", "Bach chorales (music21) as 88-note piano rolls; "
                     "--path FILE.pickle for the standard JSB Chorales data",
                     needs_path=False, path_optional=True, options=("step",)), _load_jsb),
    "timit-synth": (TaskInfo("timit-synth", "TIMIT-like speech synthesised with espeak-ng, "
                             "exact frame labels, 39 phone classes",
                             needs_path=False, path_optional=False, options=()),
                    _load_timit_synth),
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


def load_task(name: str, size: str | int = "demo", path: str | None = None, seed: int = 0,
              progress: bool = False, **options: Any) -> Task:
    """Load (preparing and caching on first use) the task ``name`` at ``size``
    (``"demo"``, ``"full"`` or N training sequences), from the free default or, with
    ``path``, from the user's real corpus. Extra keyword ``options`` are task-specific
    (e.g. ``step="eighth"`` for ``jsb``)."""
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
    return TASKS[name][1](size, path, seed, progress, **options)
