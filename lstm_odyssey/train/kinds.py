"""The loss of each task kind (:class:`~lstm_odyssey.tasks.kinds.TaskKind`), one object
each: the loss, the metric and the trivial predictor. The kind's other facts (target layout,
readout, default network, labels) are its :class:`~lstm_odyssey.tasks.kinds.KindSpec`.

The loss of one sequence (logits a, summed over its time steps):

* ``bernoulli`` (music): L = −Σ_t Σ_c [y_tc log σ(a_tc) + (1 − y_tc) log(1 − σ(a_tc))]
* ``framewise_ce`` (speech): L = −Σ_t log softmax(a_t)[k_t]
* ``ctc`` (handwriting): L = −log Σ_{π ∈ B⁻¹(l)} Π_t softmax(a_t)[π_t]  (blank = 0)
* ``framewise_mse`` (sensors, time series): L = Σ_t Σ_k (a_tk − y_tk)²
* ``sequence_ce`` (a label per sequence): L = −log softmax(a)[k], with a the logits of the
  final state (the last step; bidirectional: both directions' final states)

and its metric, lower is better:

* ``nll_per_step``: Σ over sequences, steps and notes of the Bernoulli negative log-likelihood
  in nats, divided by the total number of steps.
* ``frame_error_pct``: 100 · misclassified frames / all frames, a frame's prediction being
  argmax_k a_tk.
* ``cer_pct``: 100 · Σ edit distance(decode(a), l) / Σ |l|, where ``decode`` is best-path
  decoding (argmax per frame, merge repeats, drop blanks) and the edit distance is the
  Levenshtein distance (unit insertions, deletions and substitutions).
* ``rmse``: sqrt(Σ over sequences, steps and outputs of (a_tk − y_tk)² / (steps · K)).
* ``sequence_error_pct``: 100 · misclassified sequences / all sequences.

A metric accumulates as ``(total, count)`` pairs per batch, so a split's metric does not depend
on how it was batched; its value is ``scale · total / count`` (RMSE: ``sqrt(total / count)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein
from torch import Tensor

from .. import kernels
from ..errors import UserError
from ..tasks import Task
from ..tasks.kinds import Readout, TaskKind, ctc_min_length

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
    """The loss of one task kind. ``targets`` of a batch are ``target_dtype``, padded with
    ``padding``; ``logits`` are (B, T, C) (a final-state readout: (B, 1, C)). ``fused``: the
    C++ network step (:mod:`lstm_odyssey.kernels.network`) computes this loss."""

    kind: TaskKind
    target_dtype: torch.dtype = torch.int64
    padding: int = 0
    scale: float = 100.0  # the metric is a percentage
    fused: bool = True

    @property
    def name(self) -> str:
        return self.kind.value

    @property
    def metric(self) -> str:
        """Name of the metric (lower is better)."""
        return self.kind.metric

    def units(self, lengths: np.ndarray) -> int:
        """What a split's summed loss is divided by to report it: its steps (a sequence kind:
        its sequences)."""
        return len(lengths) if self.kind.spec.readout is Readout.FINAL else int(lengths.sum())

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

    kind = TaskKind.BERNOULLI
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

    kind = TaskKind.FRAMEWISE_CE
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

    kind = TaskKind.CTC

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


class FramewiseMSE(LossKind):
    """Real-valued targets per step (sensors, time series): the summed squared error; its
    metric is the root of the mean over steps and outputs."""

    kind = TaskKind.FRAMEWISE_MSE
    target_dtype = torch.float32
    fused = False

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        per_step = (logits - batch.targets).square().sum(-1)
        if batch.padded:
            per_step = per_step * step_mask(batch.lengths, logits.shape[1]).to(logits.device)
        return per_step.sum()

    def metric_counts(self, logits: Tensor, batch: Batch, loss: float | None = None,
                      frames: Tensor | None = None) -> tuple[float, int]:
        if loss is None:
            loss = float(self.loss(logits.detach().float().cpu(), batch.to("cpu")))
        return loss, int(batch.lengths.sum()) * logits.shape[-1]

    def metric_value(self, total: float, count: int) -> float:
        return float(np.sqrt(total / count))

    def trivial_logits(self, task: Task) -> Tensor:
        """The mean of each output over the training steps."""
        return torch.as_tensor(np.concatenate(task.train.targets).mean(0), dtype=torch.float32)


class SequenceCE(LossKind):
    """One class per sequence, read from the network's final state (logits (B, 1, C))."""

    kind = TaskKind.SEQUENCE_CE
    fused = False

    def loss(self, logits: Tensor, batch: Batch) -> Tensor:
        return F.cross_entropy(logits[:, -1], batch.targets[:, 0], reduction="sum")

    def metric_counts(self, logits: Tensor, batch: Batch, loss: float | None = None,
                      frames: Tensor | None = None) -> tuple[float, int]:
        predicted = logits[:, -1].detach().float().cpu().argmax(-1)
        return float((predicted != batch.targets[:, 0].cpu()).sum()), len(batch)

    def trivial_logits(self, task: Task) -> Tensor:
        """The majority class of the training sequences."""
        best = np.bincount(np.concatenate(task.train.targets), minlength=task.num_classes)
        return F.one_hot(torch.tensor(int(best.argmax())), task.num_classes).float()


LOSS_KINDS: dict[TaskKind, LossKind] = {k.kind: k for k in (
    FramewiseCE(), CTC(), Bernoulli(), FramewiseMSE(), SequenceCE())}


def loss_kind(kind: TaskKind | LossKind | str) -> LossKind:
    """The loss of ``kind`` (a task's ``loss``; its name is accepted)."""
    if isinstance(kind, LossKind):
        return kind
    try:
        return LOSS_KINDS[TaskKind(kind)]
    except ValueError:
        raise TaskDataError(f"unknown loss {kind!r}; use one of {', '.join(TaskKind)}") from None
