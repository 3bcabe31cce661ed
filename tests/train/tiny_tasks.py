"""Tiny tasks built in memory, each with a pattern an LSTM can learn in a few epochs."""

from __future__ import annotations

import numpy as np

from lstm_odyssey.tasks import Split, Task


def _split(make, n: int, rng: np.random.Generator) -> Split:
    pairs = [make(rng) for _ in range(n)]
    return Split([p[0] for p in pairs], [p[1] for p in pairs])


def _task(name: str, make, sizes, seed: int, **facts) -> Task:
    rng = np.random.default_rng(seed)
    train, valid, test = (_split(make, n, rng) for n in sizes)
    return Task(name=name, source="synthetic", description="test task", train=train,
                valid=valid, test=test, **facts)


def music_task(sizes=(24, 8, 8), notes: int = 6, seed: int = 0) -> Task:
    """A rising arpeggio: note (t + shift) mod C is on at step t; predict the next step."""

    def make(rng):
        T = int(rng.integers(10, 20))
        shift = int(rng.integers(notes))
        roll = np.zeros((T + 1, notes), np.float32)
        roll[np.arange(T + 1), (np.arange(T + 1) + shift) % notes] = 1
        return roll[:-1], roll[1:]

    return _task("music-test", make, sizes, seed, input_size=notes, num_classes=notes,
                 loss="bernoulli", bidirectional=False)


def speech_task(sizes=(24, 8, 8), classes: int = 4, seed: int = 0) -> Task:
    """Frames whose class is the noisy one-hot feature they carry, in runs of 2–5 frames."""

    def make(rng):
        labels = np.concatenate([np.full(rng.integers(2, 6), rng.integers(classes))
                                 for _ in range(int(rng.integers(3, 6)))]).astype(np.int64)
        x = np.eye(classes, dtype=np.float32)[labels]
        return x + 0.3 * rng.standard_normal(x.shape).astype(np.float32), labels

    return _task("speech-test", make, sizes, seed, input_size=classes, num_classes=classes,
                 loss="framewise_ce", bidirectional=True)


def ctc_task(sizes=(24, 8, 8), labels: int = 3, seed: int = 0) -> Task:
    """Each label is drawn as 2–3 frames of its one-hot feature, separated by empty frames."""

    def make(rng):
        seq = rng.integers(1, labels + 1, size=int(rng.integers(2, 5)))
        frames = []
        for k in seq:
            frames += [np.eye(labels + 1, dtype=np.float32)[k]] * int(rng.integers(2, 4))
            frames += [np.eye(labels + 1, dtype=np.float32)[0]]
        return np.stack(frames), seq.astype(np.int64)

    return _task("ctc-test", make, sizes, seed, input_size=labels + 1,
                 num_classes=labels + 1, loss="ctc", bidirectional=True)
