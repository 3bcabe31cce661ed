"""The metrics of the task kinds (docs/paper.md §Tasks for the paper's three), computed over a
whole split; lower is better for all. Each metric is defined with its kind's loss in
:mod:`.kinds`; here they are looked up by the task's kind and accumulated over a split as
``(total, count)`` pairs per batch, so a split's metric does not depend on how it was batched.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ..tasks import Task
from ..tasks.kinds import Readout, TaskKind
from .data import Batch, SequenceSet, evaluation_order
from .kinds import best_path_decode, edit_distance, loss_kind

__all__ = ["best_path_decode", "cer_pct", "edit_distance", "metric_counts", "metric_value",
           "trivial_baseline"]


def cer_pct(hypotheses: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Character error rate in %: Σ edit distances / Σ reference lengths · 100."""
    errors = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True))
    return 100.0 * errors / sum(len(r) for r in references)


def metric_counts(kind: TaskKind | str, logits: Tensor, batch: Batch, loss: float | None = None,
                  frames: Tensor | None = None) -> tuple[float, int]:
    """``(total, count)`` of the task metric on one batch; ``logits`` are (B, T, C). For music
    the total is the batch's summed loss, for speech and handwriting it is made of the argmax
    class per step: pass ``loss`` / ``frames`` (B, T) if they are already computed."""
    return loss_kind(kind).metric_counts(logits, batch, loss, frames)


def metric_value(kind: TaskKind | str, total: float, count: int) -> float:
    """The metric from accumulated counts: NLL per step, or a percentage."""
    return loss_kind(kind).metric_value(total, count)


def trivial_baseline(task: Task, batch_size: int = 64) -> float:
    """Validation metric of the trivial predictor fitted on the training split: per-note base
    rates (music), the majority class (speech, sequence classes), all blank (CTC, i.e. a CER
    of 100 %), the mean of each output (regression)."""
    constant = loss_kind(task.loss).trivial_logits(task)
    data = SequenceSet(task.valid, task.loss)
    steps = (lambda batch: 1) if task.loss.spec.readout is Readout.FINAL else (
        lambda batch: batch.inputs.shape[1])
    total, count = 0.0, 0
    for idx in evaluation_order(data.lengths, batch_size):
        batch = data.batch(idx)
        logits = constant.expand(len(batch), steps(batch), len(constant))
        t, c = metric_counts(task.loss, logits, batch)
        total, count = total + t, count + c
    return metric_value(task.loss, total, count)
