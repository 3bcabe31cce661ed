"""Training losses by the task's kind; each kind's loss is defined in :mod:`.kinds`.

The loss of one sequence is summed over its time steps (and, for music, over the 88 notes).
:func:`sequence_loss` returns the sum over the sequences of a batch; the training loop divides
by the batch size, so one sequence per update uses exactly the per-sequence loss.
"""

from __future__ import annotations

from torch import Tensor

from ..tasks import TaskKind
from .data import Batch
from .kinds import TaskDataError, check_ctc_lengths, ctc_min_length, loss_kind

__all__ = ["TaskDataError", "check_ctc_lengths", "ctc_min_length", "sequence_loss"]


def sequence_loss(kind: TaskKind | str, logits: Tensor, batch: Batch) -> Tensor:
    """Sum over the batch of the per-sequence losses; ``logits`` are (B, T, C)."""
    return loss_kind(kind).loss(logits, batch)
