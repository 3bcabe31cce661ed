"""Pieces shared by every task: errors, the raw corpus format, size selection, normalisation,
per-item seeds and a deterministic process pool."""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ..errors import UserError

SPLITS = ("train", "valid", "test")
T = TypeVar("T")
R = TypeVar("R")


class CorpusError(UserError, FileNotFoundError):
    """A corpus path is missing or does not hold what the loader expects."""


class TaskNameError(UserError, ValueError):
    """An unknown task name, size or option."""


@dataclass
class RawSplit:
    """One split before normalisation: unnormalised inputs, targets and an id per sequence."""

    inputs: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, n: int | None) -> RawSplit:
        """The first ``n`` sequences (all when ``n`` is None)."""
        return RawSplit(self.inputs[:n], self.targets[:n], self.ids[:n])


@dataclass
class Corpus:
    """Three raw splits plus JSON-serialisable facts (class names, sample rate, ...)."""

    train: RawSplit
    valid: RawSplit
    test: RawSplit
    meta: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> RawSplit:
        """The split called ``name`` (one of :data:`SPLITS`)."""
        return getattr(self, name)


def split_counts(size: str | int, demo: tuple[int, int, int] | None,
                 full: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    """Sequences per split for a size: ``"demo"`` or ``"full"`` (None = the whole corpus) or an
    int N (N training sequences, ``max(1, N // 4)`` valid and test)."""
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    if size == "demo":
        return demo
    if size == "full":
        return full
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return (size, max(1, size // 4), max(1, size // 4))
    raise TaskNameError(f"size {size!r} is not valid; use 'demo', 'full' or a positive integer")


def subset(corpus: Corpus, counts: tuple[int, int, int] | None) -> Corpus:
    """The first ``counts`` sequences of each split (the corpus itself when None)."""
    if counts is None:
        return corpus
    return Corpus(*(corpus.split(s).take(n) for s, n in zip(SPLITS, counts)), meta=corpus.meta)


def group_size(n: int, min_groups: int, cap: int) -> int:
    """Items per group (sentences per speaker, lines per writer) for a split of ``n`` items:
    at most ``cap``, and small enough that the split has at least ``min_groups`` groups, so
    that small validation and test splits still hold many speakers or writers."""
    return max(1, min(cap, n // min_groups))


def stratified_order(groups: list[list[str]], rng: np.random.Generator) -> list[str]:
    """The members of several groups (e.g. voice families) in one order in which every
    prefix holds each group in proportion to its size: members are shuffled within their
    group and merged by their fractional position ``(j + ½) / len(group)``."""
    keyed = []
    for k, members in enumerate(groups):
        for j, i in enumerate(rng.permutation(len(members))):
            keyed.append(((j + 0.5) / len(members), k, members[i]))
    return [m for _, _, m in sorted(keyed)]


def item_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of one generated item: a function of (seed, split, index) only,
    so results do not depend on how items are spread over processes."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _pool_worker_init() -> None:
    """A pool process: BLAS single-threaded, and the signal handlers of the parent (a sweep
    installs ones that raise) reset: the pool's own terminate() sends SIGTERM, which must end
    the process quietly; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(1)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], *, processes: int = 2,
                 progress: bool = False, desc: str = "", total: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` in item order, on ``processes`` worker processes (forked, so
    ``fn`` may be any module-level function). Libraries with global state stay per process;
    BLAS runs single-threaded in each (many small products, a shared machine)."""
    items = list(items)
    bar = tqdm(total=total or len(items), desc=desc, disable=not progress, unit="seq")
    try:
        if processes <= 1 or len(items) < 8:
            out = []
            with threadpool_limits(1):
                for x in items:
                    out.append(fn(x))
                    bar.update()
            return out
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes, initializer=_pool_worker_init) as pool:
            out = []
            it: Iterator[R] = pool.imap(fn, items, chunksize=max(1, len(items) // (processes * 16)))
            for r in it:
                out.append(r)
                bar.update()
            return out
    finally:
        bar.close()


def gather_splits(specs: list, results: list[tuple[np.ndarray, np.ndarray]],
                  ids: list[str]) -> dict[str, RawSplit]:
    """Put generated ``(inputs, targets)`` pairs into the splits named by each spec's
    ``split``, in generation order, with their ``ids``."""
    splits = {s: RawSplit() for s in SPLITS}
    for spec, (x, y), item_id in zip(specs, results, ids):
        raw = splits[spec.split]
        raw.inputs.append(x)
        raw.targets.append(y)
        raw.ids.append(item_id)
    return splits


def normalise(corpus: Corpus, columns: slice | list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Z-normalisation statistics of the given input columns over all training frames:
    ``mean = Σ_t x_t / T``, ``std = sqrt(Σ_t (x_t − mean)² / T)`` (floored at 1e-6)."""
    x = np.concatenate([a[:, columns] if columns is not None else a
                        for a in corpus.train.inputs]).astype(np.float64)
    return x.mean(0), np.maximum(x.std(0), 1e-6)
