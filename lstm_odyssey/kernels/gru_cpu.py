"""The ``cpu`` backend of the GRU family: one op per sequence and direction, forward and BPTT in
C++ (``csrc/gru_cpu.cpp``), for ``gru`` and ``gru+lbr`` (:mod:`lstm_odyssey.families.gru`),
registered as the custom operators ``lstm_odyssey::gru_sequence`` and
``lstm_odyssey::gru_sequence_backward`` (:mod:`.ops`).

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
from . import build, ops
from .cpu import check_tensors, empty_or


def _forward(x: Tensor, W: Tensor, R: Tensor, b: Tensor, bias_hn: Tensor | None, h0: Tensor,
             lengths: Tensor | None, *, lbr: bool, save: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(y, h_n, S)``: the outputs, then every step's record (what the backward reads; empty
    unless ``save``)."""
    y, h_n, *saved = build.load().gru_forward(
        x.contiguous(), W.contiguous(), R.contiguous(), b.contiguous(), empty_or(x, bias_hn),
        h0.contiguous(), empty_or(x, lengths, torch.int64), lbr, save)
    return y, h_n, saved[0] if save else x.new_empty(0)


def _forward_fake(x, W, R, b, bias_hn, h0, lengths, *, lbr, save):
    """:func:`_forward`'s results as empty tensors (a step's record is ``[h | r | z | n | e]``)."""
    T, B, _ = x.shape
    n = R.shape[1]
    S = x.new_empty(T + 1, B, 5 * n) if save else x.new_empty(0)
    return x.new_empty(T, B, n), x.new_empty(B, n), S


def _backward(dy: Tensor, dh_n: Tensor, x: Tensor, W: Tensor, R: Tensor, lengths: Tensor | None,
              S: Tensor, *, lbr: bool, need_dx: bool,
              ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(dx, dW, dR, db, dbias_hn, dh0)``; ``dx`` and ``dbias_hn`` empty where there is none."""
    dx, dW, dR, db, dbias_hn, dh0 = build.load().gru_backward(
        dy.contiguous(), dh_n.contiguous(), x.contiguous(), W.contiguous(), R.contiguous(), S,
        empty_or(x, lengths, torch.int64), lbr, need_dx)
    return dx if need_dx else x.new_empty(0), dW, dR, db, dbias_hn, dh0


def _backward_fake(dy, dh_n, x, W, R, lengths, S, *, lbr, need_dx):
    """:func:`_backward`'s results as empty tensors."""
    n = R.shape[1]
    dx = torch.empty_like(x) if need_dx else x.new_empty(0)
    return (dx, torch.empty_like(W), torch.empty_like(R), x.new_empty(3 * n),
            x.new_empty(n if lbr else 0), torch.empty_like(dh_n))


GRU_SEQUENCE = ops.register(ops.FusedOp(
    "gru_sequence", _forward, _forward_fake, _backward, _backward_fake, outputs=2,
    saves=("x", "W", "R", "lengths"),
))


def gru_sequence(variant: Variant, x: Tensor, params: dict[str, Tensor],
                 state0: tuple[Tensor, ...],
                 lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor]]:
    """Same contract as :func:`lstm_odyssey.kernels.reference.family_sequence` for the GRU
    family, in C++, as the custom operator ``lstm_odyssey::gru_sequence``: ``(y, (h_n,))``."""
    lbr = variant.spec.linear_before_reset
    W, R, b = params["weight_ih"], params["weight_hh"], params["bias"]
    bias_hn = params["bias_hn"] if lbr else None
    (h0,) = state0
    check_tensors([t for t in (x, W, R, b, bias_hn, h0) if t is not None])
    y, h_n = GRU_SEQUENCE(x, W, R, b, bias_hn, h0, lengths, lbr=lbr)
    return y, (h_n,)
