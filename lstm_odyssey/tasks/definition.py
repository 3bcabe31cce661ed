"""What a task is, as each task module defines it: its name and options (:class:`TaskInfo`),
and what preparing it returns (:class:`Prepared`: the raw corpus and the :class:`TaskFacts` that
turn it into a :class:`~.base.Task`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import Split, Task
from .common import Corpus, RawSplit, normalise
from .kinds import Source, StandsFor, TaskKind


@dataclass(frozen=True)
class TaskFacts:
    """The facts of a prepared corpus that fix the network and the loss, and how its raw
    inputs and targets become arrays (see :class:`~.base.Task`)."""

    name: str
    source: Source                 # where the data come from
    description: str               # one line: what the data is and where it came from
    input_size: int
    num_classes: int               # output units C (CTC: including the blank at 0)
    loss: TaskKind                 # the task kind
    bidirectional: bool
    class_names: list[str] = field(default_factory=list)
    norm_columns: slice | list[int] | None = None  # input columns to z-normalise
    target_dtype: str = "int64"
    stands_for: StandsFor | None = None  # the paper dataset the task stands for, if any


# Draws one raw example (inputs, targets, title, class names) into a new matplotlib figure.
Drawer = Callable[[np.ndarray, np.ndarray, str, list[str]], Any]


@dataclass(frozen=True)
class Prepared:
    """A task's raw (unnormalised) corpus, its facts and how to draw an example."""

    corpus: Corpus
    facts: TaskFacts
    draw: Drawer

    def task(self) -> Task:
        """The :class:`~.base.Task`: inputs become float32 with the columns of
        ``facts.norm_columns`` z-normalised by training-split statistics (None: none)."""
        f = self.facts
        mean = std = None
        if f.norm_columns is not None and len(self.corpus.train):
            mean, std = normalise(self.corpus, f.norm_columns)

        def convert(raw: RawSplit) -> Split:
            xs = []
            for a in raw.inputs:
                x = a.astype(np.float32)
                if mean is not None:
                    x[:, f.norm_columns] = ((x[:, f.norm_columns] - mean) / std).astype(
                        np.float32)
                xs.append(x)
            return Split(xs, [np.asarray(t, dtype=f.target_dtype) for t in raw.targets])

        return Task(name=f.name, source=f.source, description=f.description,
                    train=convert(self.corpus.train), valid=convert(self.corpus.valid),
                    test=convert(self.corpus.test), input_size=f.input_size,
                    num_classes=f.num_classes, loss=f.loss, bidirectional=f.bidirectional,
                    class_names=f.class_names, stands_for=f.stands_for)


@dataclass(frozen=True)
class TaskInfo:
    """A task as its module defines it.

    ``prepare(size, path, seed, progress, **options)`` returns the :class:`Prepared` corpus,
    from the cache or built and cached (the module owns its cache key)."""

    name: str
    summary: str
    needs_path: bool           # reads a real corpus the user must point at
    path_optional: bool        # the free default can be replaced by a real corpus via path
    options: tuple[str, ...]   # task-specific keyword options
    prepare: Callable[..., Prepared]
