"""The ``cpu`` backend of the GRU family: one autograd op per sequence and direction, forward and
BPTT in C++ (``csrc/gru_cpu.cpp``), for ``gru`` and ``gru+lbr`` (:mod:`lstm_odyssey.families.gru`).

Forward, with ``h' = h_{t-1}`` and blocks ``r z n``: ``X̄ = X·Wᵀ + b`` for all steps in one
GEMM, then per step the recurrent products into preallocated buffers and fused, vectorised
pointwise passes::

    r = σ(x̄_r + R_r h'),  z = σ(x̄_z + R_z h')
    gru:      e = r ⊙ h',        n = tanh(x̄_n + R_n e)
    gru+lbr:  e = R_n h' + bR_n, n = tanh(x̄_n + r ⊙ e)
    h = (1 − z) ⊙ n + z ⊙ h'

Backward (hand-written BPTT), per step from ``dh = Δ_t + dh_rec``::

    dn̄ = dh ⊙ (1 − z) ⊙ (1 − n²),  dz̄ = dh ⊙ (h' − n) ⊙ z(1 − z)
    gru:      de = R_nᵀ dn̄,  dr̄ = de ⊙ h' ⊙ r(1 − r),  dh' = dh ⊙ z + de ⊙ r + R_rzᵀ [dr̄; dz̄]
    gru+lbr:  de = dn̄ ⊙ r,   dr̄ = dn̄ ⊙ e ⊙ r(1 − r),   dh' = dh ⊙ z + R_rzᵀ [dr̄; dz̄] + R_nᵀ de

then, after the loop, ``dW = dX̄ᵀ·X``, ``db = Σ dX̄``, ``dX = dX̄·W`` with ``dX̄ = [dr̄ dz̄ dn̄]``,
``dR_rz = [dr̄ dz̄]ᵀ·H'`` and ``dR_n = dn̄ᵀ·E`` (gru) or ``deᵀ·H'`` with ``dbR_n = Σ de``
(gru+lbr). Variable lengths as the reference: past its length a sequence keeps its state and
outputs zeros. Without autograd (inference) only two steps of state are kept.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..families import Variant
from . import build
from .cpu import check_tensors, empty_or


class GRUSequenceFunction(torch.autograd.Function):
    """``(y, h_n) = GRU(x, W, R, b, bR_n, h0; lengths)`` for one direction (``bR_n`` None
    unless ``lbr``)."""

    @staticmethod
    def forward(ctx, lbr: bool, x, W, R, b, bias_hn, h0, lengths):
        x, W, R = x.contiguous(), W.contiguous(), R.contiguous()
        lens = empty_or(x, lengths, torch.int64)
        y, h_n, S = build.load().gru_forward(x, W, R, b.contiguous(), empty_or(x, bias_hn),
                                             h0.contiguous(), lens, lbr, True)
        ctx.lbr = lbr
        ctx.save_for_backward(x, W, R, S, lens)
        return y, h_n

    @staticmethod
    def backward(ctx, dy, dh_n):
        x, W, R, S, lens = ctx.saved_tensors
        dx, dW, dR, db, dbias_hn, dh0 = build.load().gru_backward(
            dy.contiguous(), dh_n.contiguous(), x, W, R, S, lens, ctx.lbr, ctx.needs_input_grad[1])
        return None, dx, dW, dR, db, dbias_hn if ctx.lbr else None, dh0, None


def gru_sequence(variant: Variant, x: Tensor, params: dict[str, Tensor],
                 state0: tuple[Tensor, ...],
                 lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor]]:
    """Same contract as :func:`lstm_odyssey.kernels.reference.family_sequence` for the GRU
    family, in C++: ``(y, (h_n,))``."""
    lbr = variant.spec.linear_before_reset
    W, R, b = params["weight_ih"], params["weight_hh"], params["bias"]
    bias_hn = params["bias_hn"] if lbr else None
    (h0,) = state0
    tensors = [t for t in (x, W, R, b, bias_hn, h0) if t is not None]
    check_tensors(tensors)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        y, h_n = GRUSequenceFunction.apply(lbr, x, W, R, b, bias_hn, h0, lengths)
        return y, (h_n,)
    y, h_n = build.load().gru_forward(
        x.contiguous(), W.contiguous(), R.contiguous(), b.contiguous(), empty_or(x, bias_hn),
        h0.contiguous(), empty_or(x, lengths, torch.int64), lbr, False)
    return y, (h_n,)
