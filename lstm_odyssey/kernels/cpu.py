"""The ``cpu`` backend: one autograd op per sequence and direction, forward and BPTT in C++.

Forward (``csrc/lstm_cpu.cpp``): ``pre = X·Wᵀ + b`` for all steps in one GEMM, then per step
``pre_t += [y_{t-1} | a_{t-1}]·Rextᵀ`` (the recurrent product into a preallocated buffer) and
one fused, vectorised pointwise pass. ``Rext = [R | Rg']`` where ``Rg'`` is ``Rg`` padded with
zero rows for the z block, so full gate recurrence is the same product with a wider operand
(the C++ side skips the zero block).

Backward (hand-written, docs/paper.md §Backpropagation through time, docs/kernels.md): a reverse
loop of one pointwise pass and one GEMM ``dS_{t-1} = dPre_t·Rext`` per step, then, after the loop,
``dW = dPreᵀ·X``, ``dRext = dPreᵀ·S_prev``, ``dX = dPre·W``, ``db = Σ dPre`` and the peephole
gradients ``dp_i = Σ dī ⊙ c_{t-1}``, ``dp_f = Σ df̄ ⊙ c_{t-1}``, ``dp_o = Σ dō ⊙ c_t``.

Without autograd (inference) only two steps of state are kept.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import UserError
from ..variants import CellSpec
from . import build

_FORGET_MODE = {"own": 0, "none": 1, "coupled": 2}


def switches(spec: CellSpec) -> list[int]:
    """The C++ kernel's switches ``(ig, forget mode, og, peepholes, g=tanh, h=tanh, fgr)``."""
    if spec.coupled_input_forget:
        fm = _FORGET_MODE["coupled"]
    elif spec.forget_gate:
        fm = _FORGET_MODE["own"]
    else:
        fm = _FORGET_MODE["none"]
    return [
        int(spec.input_gate), fm, int(spec.output_gate), int(spec.peepholes),
        int(spec.input_activation == "tanh"), int(spec.output_activation == "tanh"),
        int(spec.full_gate_recurrence),
    ]


def extended_recurrent(spec: CellSpec, R: Tensor, Rg: Tensor | None) -> Tensor:
    """``Rext = [R | Rg']`` (K·N, N + G·N with FGR, else R): FGR's gate recurrence as extra
    columns on the gate rows, zero rows for z (shared with the triton backend)."""
    if not spec.full_gate_recurrence:
        return R.contiguous()
    n = R.shape[1]
    rg = torch.cat([Rg, Rg.new_zeros(n, Rg.shape[1])], dim=0)
    return torch.cat([R, rg], dim=1).contiguous()


def empty_or(like: Tensor, t: Tensor | None, dtype: torch.dtype | None = None) -> Tensor:
    """``t`` as the C++ side takes it (contiguous, ``dtype``), or an empty tensor for None."""
    if t is None:
        return like.new_empty(0, dtype=dtype)
    return t.contiguous() if dtype is None else t.to(device="cpu", dtype=dtype).contiguous()


class CpuInputError(UserError, TypeError):
    """Tensors the cpu backend cannot take (wrong device, dtype or mixed dtypes)."""


def check_tensors(tensors: list[Tensor]) -> None:
    """Raise :class:`CpuInputError` unless all ``tensors`` are CPU tensors of one float dtype."""
    x = tensors[0]
    if x.dtype not in (torch.float32, torch.float64):
        raise CpuInputError(
            f"the cpu backend computes in float32 or float64, not {x.dtype}; convert the module "
            "and input (e.g. .float()) or use backend='reference'"
        )
    for t in tensors:
        if t.device.type != "cpu" or t.dtype != x.dtype:
            raise CpuInputError(
                f"the cpu backend needs every tensor on the CPU in {x.dtype}, got {t.dtype} on "
                f"{t.device}; move the module and inputs to one device and dtype"
            )


class LSTMSequenceFunction(torch.autograd.Function):
    """``(y, h_n, c_n) = LSTM(x, W, R, b, p, Rg, h0, c0; lengths)`` for one direction."""

    @staticmethod
    def forward(ctx, spec: CellSpec, x, W, R, b, p, Rg, h0, c0, lengths):
        sw = switches(spec)
        ext = build.load()
        rext = extended_recurrent(spec, R, Rg)
        pc = empty_or(x, p)
        lens = empty_or(x, lengths, torch.int64)
        y, h_n, c_n, S, C = ext.forward(
            x.contiguous(), W.contiguous(), rext, b.contiguous(), pc, h0.contiguous(),
            c0.contiguous(), lens, sw, True,
        )
        ctx.spec, ctx.sw = spec, sw
        ctx.save_for_backward(x, W, R, Rg, pc, S, C, lens)  # Rext is rebuilt, not kept
        return y, h_n, c_n

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n):
        x, W, R, Rg, pc, S, C, lens = ctx.saved_tensors
        spec: CellSpec = ctx.spec
        rext = extended_recurrent(spec, R, Rg)
        dx, dW, drext, db, dp, dh0, dc0 = build.load().backward(
            dy.contiguous(), dh_n.contiguous(), dc_n.contiguous(), x, W, rext, pc, S, C, lens,
            ctx.sw, ctx.needs_input_grad[1],
        )
        n = dh0.shape[1]
        dR = drext[:, :n]
        dRg = drext[: len(spec.gates) * n, n:] if spec.full_gate_recurrence else None
        return (None, dx, dW, dR, db, dp if spec.peephole_gates else None, dRg, dh0, dc0, None)


def lstm_sequence(
    spec: CellSpec,
    x: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    p: Tensor | None,
    Rg: Tensor | None,
    h0: Tensor,
    c0: Tensor,
    lengths: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Same contract as :func:`lstm_odyssey.kernels.reference.lstm_sequence`, in C++."""
    params = [t for t in (x, W, R, b, p, Rg, h0, c0) if t is not None]
    check_tensors(params)
    if torch.is_grad_enabled() and any(t.requires_grad for t in params):
        return LSTMSequenceFunction.apply(spec, x, W, R, b, p, Rg, h0, c0, lengths)
    y, h_n, c_n = build.load().forward(
        x.contiguous(), W.contiguous(), extended_recurrent(spec, R, Rg), b.contiguous(),
        empty_or(x, p), h0.contiguous(), c0.contiguous(), empty_or(x, lengths, torch.int64),
        switches(spec), False,
    )
    return y, h_n, c_n
