"""The CTC loss in C++ (``csrc/ctc_cpu.cpp``), a drop-in for :func:`torch.nn.functional.ctc_loss`
on CPU tensors.

    nll = −log Σ_{π ∈ B⁻¹(l)} Π_t exp(lp[t, π_t])

computed by the log-space alpha-beta recursion, vectorised over the 2L + 1 states and parallel
over the sequences of a batch. The forward pass also computes the gradient (it is always needed
in training, and β is then computed once), the backward pass only scales it.

Why our own: at the paper's batch size 1 on ~1000-frame handwriting lines, ATen's CPU
``ctc_loss`` (scalar log-add-exp per state, gradient via per-class ``logsumexp``) took about
half of a training epoch; this one takes a few percent. Same semantics: blank index,
``reduction`` ``none``/``sum``/``mean`` (mean: each loss divided by its target length, then
averaged), ``zero_infinity``, targets padded (B, S) or concatenated (ΣL,). One difference: the
gradient returned is the exact one with respect to ``log_probs``, ``−γ``, where ``F.ctc_loss``
returns ``exp(log_probs) − γ`` (correct only behind a log-softmax); through a log-softmax both
are identical.

This lives in ``kernels`` because the C++ build machinery does (one extension, one cached
build); it knows nothing of training, and :mod:`lstm_odyssey.train.kinds` picks it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import UserError
from . import build

REDUCTIONS = ("none", "sum", "mean")


class CtcInputError(UserError, ValueError):
    """Inputs the CTC loss cannot take (shape, device, dtype or reduction)."""


class CtcFunction(torch.autograd.Function):
    """Per-sequence CTC losses (B,) of ``log_probs`` (T, B, C)."""

    @staticmethod
    def forward(ctx, log_probs, labels, offsets, input_lengths, target_lengths, blank,
                zero_infinity):
        need_grad = ctx.needs_input_grad[0]
        try:
            nll, grad = build.load().ctc_forward(log_probs, labels, offsets, input_lengths,
                                                 target_lengths, blank, zero_infinity, need_grad)
        except RuntimeError as e:  # the C++ side checks every label it reads
            raise CtcInputError(str(e).splitlines()[0]) from None
        ctx.save_for_backward(grad)
        return nll

    @staticmethod
    def backward(ctx, grad_nll):
        (grad,) = ctx.saved_tensors
        return grad * grad_nll.view(1, -1, 1), None, None, None, None, None, None


def _int64(values, name: str) -> Tensor:
    t = torch.as_tensor(values, device="cpu")
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise CtcInputError(f"{name} must be integers, got {t.dtype}")
    return t.to(torch.int64).reshape(-1).contiguous()


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """:func:`torch.nn.functional.ctc_loss` for CPU ``log_probs`` (T, B, C) in float32/64."""
    if reduction not in REDUCTIONS:
        raise CtcInputError(f"reduction {reduction!r} is unknown; use one of "
                            f"{', '.join(REDUCTIONS)}")
    if log_probs.dim() != 3 or log_probs.device.type != "cpu" or \
            log_probs.dtype not in (torch.float32, torch.float64):
        raise CtcInputError(
            "log_probs must be a (T, B, C) float32/float64 CPU tensor, got "
            f"{tuple(log_probs.shape)} {log_probs.dtype} on {log_probs.device}; use "
            "torch.nn.functional.ctc_loss otherwise"
        )
    T, B, C = log_probs.shape
    if not 0 <= blank < C:
        raise CtcInputError(f"blank={blank} is not a class index in [0, {C})")
    input_lengths = _int64(input_lengths, "input_lengths")
    target_lengths = _int64(target_lengths, "target_lengths")
    if input_lengths.numel() != B or target_lengths.numel() != B:
        raise CtcInputError(f"input_lengths and target_lengths need {B} entries (one per "
                            f"sequence), got {input_lengths.numel()} and {target_lengths.numel()}")
    if input_lengths.numel() and (int(input_lengths.max()) > T or int(input_lengths.min()) < 0):
        raise CtcInputError(f"input_lengths must lie in [0, {T}]")
    targets = _int64(targets, "targets") if targets.dim() == 1 else targets
    if targets.dim() == 2:
        width = targets.shape[1]
        if B and int(target_lengths.max()) > width:
            raise CtcInputError(f"target_lengths exceed the padded targets' width {width}")
        offsets = torch.arange(B, dtype=torch.int64) * width
        labels = targets.to(device="cpu", dtype=torch.int64).reshape(-1).contiguous()
    else:
        offsets = torch.cumsum(target_lengths, 0) - target_lengths
        labels = targets
        if int(target_lengths.sum()) > labels.numel():
            raise CtcInputError("target_lengths sum to more labels than targets holds")
    nll = CtcFunction.apply(log_probs.contiguous(), labels, offsets, input_lengths,
                            target_lengths, int(blank), bool(zero_infinity))
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        return (nll / target_lengths.clamp(min=1).to(nll.dtype)).mean()
    return nll
