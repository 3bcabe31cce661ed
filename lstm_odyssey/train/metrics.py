"""The paper's metrics (PAPER.md §3), computed over a whole split; lower is better for all.

* ``nll_per_step`` (music): Σ over sequences, steps and notes of the Bernoulli negative
  log-likelihood in nats, divided by the total number of steps.
* ``frame_error_pct`` (speech): 100 · misclassified frames / all frames, where a frame's
  prediction is argmax_k a_tk.
* ``cer_pct`` (handwriting): 100 · Σ edit distance(decode(a), l) / Σ |l|, where ``decode`` is
  best-path decoding (argmax per frame, merge repeats, drop blanks) and the edit distance is
  the Levenshtein distance (unit insertions, deletions and substitutions).

Metrics accumulate as ``(total, count)`` pairs per batch, so a split's metric does not depend
on how it was batched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein
from torch import Tensor

from ..tasks import Task
from .data import IGNORE_INDEX, Batch, SequenceSet, evaluation_order
from .losses import TaskDataError, sequence_loss


def best_path_decode(frame_labels: Sequence[int], blank: int = 0) -> list[int]:
    """CTC best-path decoding of per-frame argmax labels: merge repeats, then drop blanks."""
    out, prev = [], None
    for k in frame_labels:
        if k != prev and k != blank:
            out.append(int(k))
        prev = k
    return out


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences of hashable items (rapidfuzz)."""
    return Levenshtein.distance(list(a), list(b))


def cer_pct(hypotheses: Sequence[Sequence], references: Sequence[Sequence]) -> float:
    """Character error rate in %: Σ edit distances / Σ reference lengths · 100."""
    errors = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True))
    return 100.0 * errors / sum(len(r) for r in references)


def metric_counts(kind: str, logits: Tensor, batch: Batch,
                  loss: float | None = None) -> tuple[float, int]:
    """``(total, count)`` of the task metric on one batch; ``logits`` are (B, T, C). For music
    the total is the batch's summed loss: pass it as ``loss`` if it is already computed."""
    if kind == "bernoulli":
        if loss is None:
            loss = float(sequence_loss(kind, logits.detach().float().cpu(), batch.to("cpu")))
        return loss, int(batch.lengths.sum())
    logits = logits.detach().float().cpu()
    targets = batch.targets.cpu()
    if kind == "framewise_ce":
        valid = targets != IGNORE_INDEX
        wrong = (logits.argmax(-1) != targets) & valid
        return float(wrong.sum()), int(valid.sum())
    if kind == "ctc":
        frames = logits.argmax(-1)
        errors = 0
        for b in range(len(batch)):
            hyp = best_path_decode(frames[b, : batch.lengths[b]].tolist())
            ref = targets[b, : batch.target_lengths[b]].tolist()
            errors += edit_distance(hyp, ref)
        return float(errors), int(batch.target_lengths.sum())
    raise TaskDataError(f"unknown loss {kind!r}; use framewise_ce, ctc or bernoulli")


def metric_value(kind: str, total: float, count: int) -> float:
    """The metric from accumulated counts: NLL per step, or a percentage."""
    return total / count if kind == "bernoulli" else 100.0 * total / count


def trivial_baseline(task: Task, batch_size: int = 64) -> float:
    """Validation metric of the trivial predictor fitted on the training split: per-note base
    rates (music), the majority class (speech), all blank (CTC, i.e. a CER of 100 %)."""
    if task.loss == "bernoulli":
        rate = np.concatenate(task.train.targets).mean(0).clip(1e-6, 1 - 1e-6)
        constant = torch.as_tensor(np.log(rate / (1 - rate)), dtype=torch.float32)
    else:
        labels = np.concatenate(task.train.targets) if task.loss == "framewise_ce" else [0]
        best = np.bincount(labels, minlength=task.num_classes).argmax()
        constant = F.one_hot(torch.tensor(int(best)), task.num_classes).float()
    data = SequenceSet(task.valid, task.loss)
    total, count = 0.0, 0
    for idx in evaluation_order(data.lengths, batch_size):
        batch = data.batch(idx)
        logits = constant.expand(*batch.inputs.shape[:2], task.num_classes)
        t, c = metric_counts(task.loss, logits, batch)
        total, count = total + t, count + c
    return metric_value(task.loss, total, count)
