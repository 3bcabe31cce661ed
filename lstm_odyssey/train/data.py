"""Batches of variable-length sequences: ordering, padding and input noise.

One sequence per update is the paper's protocol (``batch_size=1``). Minibatches are an option:
sequences are bucketed by length (shuffle, sort pools of ``POOL_BATCHES·batch_size`` sequences
by length, cut them into batches, shuffle the batches) so that little compute is spent on
padding, and the LSTM gets the true lengths, so padding never changes a result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from ..tasks import Split, TaskKind
from .kinds import IGNORE_INDEX, loss_kind

__all__ = ["IGNORE_INDEX", "POOL_BATCHES", "Batch", "SequenceSet", "add_input_noise",
           "evaluation_order", "training_order"]

POOL_BATCHES = 20


@dataclass
class Batch:
    """A padded batch, batch first.

    ``targets`` depend on the task kind (:mod:`.kinds`): ``framewise_ce`` (B, T) int64 padded
    with :data:`IGNORE_INDEX`; ``bernoulli`` and ``framewise_mse`` (B, T, C) float32 padded
    with 0; ``ctc`` (B, L) int64 labels padded with 0 and their lengths in
    ``target_lengths``; ``sequence_ce`` (B, 1) int64.
    """

    inputs: Tensor          # (B, T, M) float32, zero padded
    lengths: Tensor         # (B,) int64, on the CPU
    targets: Tensor
    target_lengths: Tensor  # (B,) int64, on the CPU
    padded: bool = True     # False: every sequence has the full length T (no step is padding)

    def __len__(self) -> int:
        return int(self.lengths.numel())

    @property
    def step_lengths(self) -> Tensor | None:
        """``lengths`` for the LSTM, or None when no step is padding (saves its checks)."""
        return self.lengths if self.padded else None

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.inputs.to(device), self.lengths, self.targets.to(device),
                     self.target_lengths, self.padded)


class SequenceSet:
    """A :class:`~lstm_odyssey.tasks.Split` as tensors, ready to be batched; ``loss`` is the
    task's kind (its name is accepted)."""

    def __init__(self, split: Split, loss: TaskKind | str) -> None:
        self.inputs = [torch.as_tensor(np.asarray(x, dtype=np.float32)) for x in split.inputs]
        self.kind = loss_kind(loss)
        self.targets = [torch.as_tensor(np.asarray(y)).to(self.kind.target_dtype)
                        for y in split.targets]
        self.lengths = np.array([len(x) for x in self.inputs], dtype=np.int64)
        self.loss = self.kind.kind
        self._single: dict[int, Batch] = {}  # batches of one sequence, built once

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, indices: np.ndarray) -> Batch:
        """Pad the sequences ``indices`` into one :class:`Batch` (one sequence: views, no
        padding, built once per sequence)."""
        if len(indices) == 1:
            i = int(indices[0])
            if i not in self._single:
                x, y = self.inputs[i], self.targets[i]
                self._single[i] = Batch(x.unsqueeze(0), torch.tensor([len(x)]), y.unsqueeze(0),
                                        torch.tensor([len(y)]), padded=False)
            return self._single[i]
        xs = [self.inputs[i] for i in indices]
        ys = [self.targets[i] for i in indices]
        lengths = [len(x) for x in xs]
        return Batch(
            inputs=pad_sequence(xs, batch_first=True),
            lengths=torch.tensor(lengths, dtype=torch.int64),
            targets=pad_sequence(ys, batch_first=True, padding_value=self.kind.padding),
            target_lengths=torch.tensor([len(y) for y in ys], dtype=torch.int64),
            padded=min(lengths) < max(lengths),
        )


def training_order(lengths: np.ndarray, batch_size: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """The batches of one training epoch: a random order for ``batch_size=1``, else
    length-bucketed batches in random order (see the module docstring)."""
    order = rng.permutation(len(lengths))
    if batch_size == 1:
        return [order[i:i + 1] for i in range(len(order))]
    pool = POOL_BATCHES * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def evaluation_order(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Fixed batches for evaluation: sequences sorted by length, cut into ``batch_size``."""
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def add_input_noise(inputs: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """Training-time input noise: ``x + ε``, ε ~ N(0, std²) i.i.d. per feature and step."""
    if std == 0.0:
        return inputs
    noise = torch.randn(inputs.shape, generator=generator, dtype=inputs.dtype)
    return noise.mul_(std).to(inputs.device).add_(inputs)  # = inputs + std·noise, in place
