"""The tasks (each defined in its own module) and the entry points :func:`prepare` (raw, cached
corpus) and :func:`load_task`. A name that is not a built-in task, given with a ``path``, is the
user's dataset in that folder (:mod:`.userdata`); so is no name at all (the folder's own name).

Sizes: ``"demo"`` (small, quick to train on), ``"full"`` (the paper's corpus size) or an int N
(N training sequences, ``max(1, N // 4)`` valid and test). Real corpora and ``jsb`` are cached
whole and cut to size on loading; synthetic corpora are generated at their size.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from . import handwriting, iam_ondb, jsb, timit, timit_synth, userdata
from .base import Task
from .common import CorpusError, TaskNameError
from .definition import Prepared, TaskInfo

TASKS: dict[str, TaskInfo] = {t.name: t for t in (jsb.TASK, timit_synth.TASK, timit.TASK,
                                                  handwriting.TASK, iam_ondb.TASK)}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def free_tasks() -> list[str]:
    """Tasks that need no corpus of the user's: they install from PyPI alone."""
    return [n for n, info in TASKS.items() if not info.needs_path]


def task_info(name: str) -> TaskInfo:
    """The definition of ``name``; unknown names raise :class:`TaskNameError`."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASK_NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TaskNameError(f"unknown task {name!r}; {hint}valid tasks: {', '.join(TASK_NAMES)}"
                            " (or your own data: a dataset folder given with --path)")
    return TASKS[name]


def is_dataset(path: str | os.PathLike | None) -> bool:
    """Whether ``path`` is a dataset folder of the user's (it holds a ``dataset.toml``)."""
    return path is not None and (Path(path) / userdata.CONFIG_FILE).is_file()


def prepare(name: str | None, size: str | int = "demo", path: str | os.PathLike | None = None,
            seed: int = 0, progress: bool = False, **options: Any) -> Prepared:
    """The raw (unnormalised) corpus of a task, from the cache or built and cached, with the
    facts that turn it into a :class:`Task` (:meth:`Prepared.task`). ``name`` None or not a
    built-in task, with a ``path``: the user's dataset folder at ``path``, named ``name``
    (default: its own name; :func:`.userdata.prepare`)."""
    if name in TASKS and is_dataset(path):
        raise TaskNameError(f"{name!r} is a built-in task; give your dataset folder {path} "
                            "another name")
    if name not in TASKS and path is not None:
        if (name is not None and not is_dataset(path)
                and difflib.get_close_matches(name, TASK_NAMES, n=1)):
            task_info(name)  # a mistyped built-in name reads better than a missing file
        return userdata.prepare(path, name, size, progress, **options)
    if name is None:
        raise TaskNameError("name a task or give a dataset folder with --path")
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
    return info.prepare(size, None if path is None else str(path), seed, progress, **options)


def load_task(name: str | None, size: str | int = "demo", path: str | os.PathLike | None = None,
              seed: int = 0, progress: bool = False, **options: Any) -> Task:
    """Load (preparing and caching on first use) the task ``name`` at ``size``
    (``"demo"``, ``"full"`` or N training sequences), from the free default or, with
    ``path``, from the user's real corpus. Inputs are z-normalised with training-split
    statistics (JSB rolls and pen-up flags stay binary). Keyword ``options`` are
    task-specific: ``step="quarter"|"eighth"`` for ``jsb``, ``phones=61|39`` for ``timit``,
    ``bidirectional=True|False`` for a dataset folder."""
    return prepare(name, size, path, seed, progress, **options).task()
