"""The three loss kinds of docs/paper.md §Tasks, one object each: what the targets look like,
the loss, the metric and the trivial predictor.

The loss of one sequence (logits a, summed over its time steps):

* ``bernoulli`` (music): L = −Σ_t Σ_c [y_tc log σ(a_tc) + (1 − y_tc) log(1 − σ(a_tc))]
* ``framewise_ce`` (speech): L = −Σ_t log softmax(a_t)[k_t]
* ``ctc`` (handwriting): L = −log Σ_{π ∈ B⁻¹(l)} Π_t softmax(a_t)[π_t]  (blank = 0)

and its metric, lower is better:

* ``nll_per_step``: Σ over sequences, steps and notes of the Bernoulli negative log-likelihood
  in nats, divided by the total number of steps.
* ``frame_error_pct``: 100 · misclassified frames / all frames, a frame's prediction being
  argmax_k a_tk.
* ``cer_pct``: 100 · Σ edit distance(decode(a), l) / Σ |l|, where ``decode`` is best-path
  decoding (argmax per frame, merge repeats, drop blanks) and the edit distance is the
  Levenshtein distance (unit insertions, deletions and substitutions).

A metric accumulates as ``(total, count)`` pairs per batch, so a split's metric does not depend
on how it was batched; its value is ``scale · total / count``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein
from torch import Tensor

from .. import kernels
from ..errors import UserError
from ..tasks import METRICS, Task

if TYPE_CHECKING:
    from .data import Batch

IGNORE_INDEX = -100  # framewise targets past a sequence's end


class TaskDataError(UserError, ValueError):
    """Data that the task's loss cannot be computed on."""


def step_mask(lengths: Tensor, T: int) -> Tensor:
    """(B, T) float mask, 1 for the valid steps of each sequence."""
    return (torch.arange(T)[None, :] < lengths[:, None]).float()


def best_path_decode(frame_labels: Sequence[int] | Tensor, blank: int = 0) -> list[int]:
    """CTC best-path decoding of per-frame argmax labels: merge repeats, then drop blanks."""
    runs = torch.unique_consecutive(torch.as_tensor(frame_labels, dtype=torch.int64))
    return runs[runs != blank].tolist()


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences of hashable items (rapidfuzz)."""
    return Levenshtein.distance(list(a), list(b))


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


class LossKind:
    """One loss kind. ``targets`` of a batch are ``target_dtype``, padded with ``padding``;
    ``logits`` are (B, T, C)."""

    name: str
    target_dtype: torch.dtype = torch.int64
    padding: int = 0
    scale: float = 100.0  # the metric is a percentage

    @property
    def metric(self) -> str:
        """Name of the metric (lower is better)."""
        return METRICS[self.name]

    def check(self, task: Task) -> None:
        """Raise :class:`TaskDataError` if the loss cannot be computed on ``task``'s data."""

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        """Sum over the batch of the per-sequence losses."""
        raise NotImplementedError

    def metric_counts(self, logits: Tensor, batch: Batch, loss: float | None = None,
                      frames: Tensor | None = None) -> tuple[float, int]:
        """``(total, count)`` of the metric on one batch (``loss``: the batch's summed loss,
        ``frames``: ``logits.argmax(-1)``, if already computed and the metric is made of it)."""
        raise NotImplementedError

    def metric_value(self, total: float, count: int) -> float:
        return self.scale * total / count

    def trivial_logits(self, task: Task) -> Tensor:
        """(C,) logits of the trivial predictor fitted on ``task``'s training split, the same
        at every step."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<loss kind {self.name}>"


class Bernoulli(LossKind):
    """Music: C independent notes per step; the metric is the loss itself, per step."""

    name = "bernoulli"
    target_dtype = torch.float32
    scale = 1.0

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        per_step = F.binary_cross_entropy_with_logits(logits, batch.targets,
                                                      reduction="none").sum(-1)
        if batch.padded:
            per_step = per_step * step_mask(batch.lengths, logits.shape[1]).to(logits.device)
        return per_step.sum()

    def metric_counts(self, logits: Tensor, batch: Batch, loss: float | None = None,
                      frames: Tensor | None = None) -> tuple[float, int]:
        if loss is None:
            loss = float(self.loss(logits.detach().float().cpu(), batch.to("cpu")))
        return loss, int(batch.lengths.sum())

    def trivial_logits(self, task: Task) -> Tensor:
        """Per-note base rates: logit(rate)."""
        rate = np.concatenate(task.train.targets).mean(0).clip(1e-6, 1 - 1e-6)
        return torch.as_tensor(np.log(rate / (1 - rate)), dtype=torch.float32)


class FramewiseCE(LossKind):
    """Speech: one class per frame."""

    name = "framewise_ce"
    padding = IGNORE_INDEX

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        return F.cross_entropy(logits.transpose(1, 2), batch.targets,
                               ignore_index=IGNORE_INDEX, reduction="sum")

    def metric_counts(self, logits: Tensor, batch: Batch, loss: float | None = None,
                      frames: Tensor | None = None) -> tuple[float, int]:
        targets = batch.targets.cpu()
        valid = targets != IGNORE_INDEX
        if frames is None:
            frames = logits.detach().float().cpu().argmax(-1)
        wrong = (frames != targets) & valid
        return float(wrong.sum()), int(valid.sum())

    def trivial_logits(self, task: Task) -> Tensor:
        """The majority class of the training frames."""
        best = np.bincount(np.concatenate(task.train.targets), minlength=task.num_classes)
        return F.one_hot(torch.tensor(int(best.argmax())), task.num_classes).float()


class CTC(LossKind):
    """Handwriting: a label sequence per input sequence, output 0 the blank."""

    name = "ctc"

    def check(self, task: Task) -> None:
        check_ctc_lengths(task)

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        log_probs = F.log_softmax(logits, dim=-1).transpose(0, 1)  # (T, B, C)
        return kernels.ctc_loss(log_probs, batch.targets, batch.lengths, batch.target_lengths,
                                blank=0, reduction="sum", zero_infinity=False)

    def metric_counts(self, logits: Tensor, batch: Batch, loss: float | None = None,
                      frames: Tensor | None = None) -> tuple[float, int]:
        if frames is None:
            frames = logits.detach().float().cpu().argmax(-1)
        targets = batch.targets.cpu()
        errors = 0
        for b in range(len(batch)):
            hyp = best_path_decode(frames[b, : batch.lengths[b]])
            ref = targets[b, : batch.target_lengths[b]].tolist()
            errors += edit_distance(hyp, ref)
        return float(errors), int(batch.target_lengths.sum())

    def trivial_logits(self, task: Task) -> Tensor:
        """All blank (a CER of 100 %)."""
        return F.one_hot(torch.tensor(0), task.num_classes).float()


LOSS_KINDS: dict[str, LossKind] = {k.name: k for k in (FramewiseCE(), CTC(), Bernoulli())}


def loss_kind(name: str) -> LossKind:
    """The kind called ``name`` (a task's ``loss``)."""
    try:
        return LOSS_KINDS[name]
    except KeyError:
        raise TaskDataError(f"unknown loss {name!r}; use one of {', '.join(LOSS_KINDS)}") from None
