"""Training losses, one per task kind (PAPER.md §3).

The loss of one sequence is summed over its time steps (and, for music, over the 88 notes):

* ``bernoulli``: L = −Σ_t Σ_c [y_tc log σ(a_tc) + (1 − y_tc) log(1 − σ(a_tc))]
* ``framewise_ce``: L = −Σ_t log softmax(a_t)[k_t]
* ``ctc``: L = −log Σ_{π ∈ B⁻¹(l)} Π_t softmax(a_t)[π_t]  (blank = 0)

:func:`sequence_loss` returns the sum over the sequences of a batch; the training loop divides
by the batch size, so one sequence per update uses exactly the per-sequence loss.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import kernels
from ..errors import UserError
from ..tasks import Task
from .data import IGNORE_INDEX, Batch


class TaskDataError(UserError, ValueError):
    """Data that the task's loss cannot be computed on."""


def step_mask(lengths: Tensor, T: int) -> Tensor:
    """(B, T) float mask, 1 for the valid steps of each sequence."""
    return (torch.arange(T)[None, :] < lengths[:, None]).float()


def sequence_loss(kind: str, logits: Tensor, batch: Batch) -> Tensor:
    """Sum over the batch of the per-sequence losses; ``logits`` are (B, T, C)."""
    if kind == "bernoulli":
        per_step = F.binary_cross_entropy_with_logits(logits, batch.targets,
                                                      reduction="none").sum(-1)
        if batch.padded:
            per_step = per_step * step_mask(batch.lengths, logits.shape[1]).to(logits.device)
        return per_step.sum()
    if kind == "framewise_ce":
        return F.cross_entropy(logits.transpose(1, 2), batch.targets,
                               ignore_index=IGNORE_INDEX, reduction="sum")
    if kind == "ctc":
        log_probs = F.log_softmax(logits, dim=-1).transpose(0, 1)  # (T, B, C)
        return kernels.ctc_loss(log_probs, batch.targets, batch.lengths, batch.target_lengths,
                                blank=0, reduction="sum", zero_infinity=False)
    raise TaskDataError(f"unknown loss {kind!r}; use framewise_ce, ctc or bernoulli")


def ctc_min_length(labels: list[int]) -> int:
    """Fewest frames a CTC path for ``labels`` needs: one per label plus a blank between
    each pair of equal neighbours."""
    return len(labels) + sum(a == b for a, b in itertools.pairwise(labels))


def check_ctc_lengths(task: Task) -> None:
    """Raise :class:`TaskDataError` if a sequence is too short for its CTC target (its loss
    would be infinite and the run would look diverged)."""
    for name in ("train", "valid", "test"):
        split = getattr(task, name)
        bad = [i for i, (x, y) in enumerate(zip(split.inputs, split.targets))
               if len(x) < ctc_min_length(list(y))]
        if bad:
            raise TaskDataError(
                f"{len(bad)} {name} sequence(s) of task {task.name!r} (first: #{bad[0]}) have "
                "fewer frames than CTC needs for their labels; subsample the inputs less or "
                "drop those sequences"
            )
