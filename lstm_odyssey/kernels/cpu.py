"""The ``cpu`` backend: one op per sequence and direction, forward and BPTT in C++, registered as
the custom operators ``lstm_odyssey::lstm_sequence`` and ``lstm_odyssey::lstm_sequence_backward``
(:mod:`.ops`: ``torch.compile`` and ``torch.export`` trace them as single nodes).

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
from . import build, ops

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
    return _extend(R, Rg if spec.full_gate_recurrence else None)


def _extend(R: Tensor, Rg: Tensor | None) -> Tensor:
    if Rg is None:
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


def _forward(x: Tensor, W: Tensor, R: Tensor, b: Tensor, p: Tensor | None, Rg: Tensor | None,
             h0: Tensor, c0: Tensor, lengths: Tensor | None, *, switches: list[int],
             save: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(y, h_n, c_n, S, C)``: the outputs, then every step's record and cell (what the
    backward reads; empty unless ``save``)."""
    y, h_n, c_n, *saved = build.load().forward(
        x.contiguous(), W.contiguous(), _extend(R, Rg), b.contiguous(), empty_or(x, p),
        h0.contiguous(), c0.contiguous(), empty_or(x, lengths, torch.int64), switches, save,
    )
    S, C = saved if save else (x.new_empty(0), x.new_empty(0))
    return y, h_n, c_n, S, C


def _forward_fake(x, W, R, b, p, Rg, h0, c0, lengths, *, switches, save):
    """:func:`_forward`'s results as empty tensors (a step's record is ``[y | a | z]``)."""
    T, B, _ = x.shape
    n = R.shape[1]
    state = (x.new_empty(T, B, n), x.new_empty(B, n), x.new_empty(B, n))
    if not save:
        return *state, x.new_empty(0), x.new_empty(0)
    return *state, x.new_empty(T + 1, B, n + R.shape[0]), x.new_empty(T + 1, B, n)


def _backward(dy: Tensor, dh_n: Tensor, dc_n: Tensor, x: Tensor, W: Tensor, R: Tensor,
              p: Tensor | None, Rg: Tensor | None, lengths: Tensor | None, S: Tensor, C: Tensor,
              *, switches: list[int], need_dx: bool,
              ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(dx, dW, dR, db, dp, dRg, dh0, dc0)``; ``dx``, ``dp`` and ``dRg`` empty where there is
    none."""
    dx, dW, drext, db, dp, dh0, dc0 = build.load().backward(
        dy.contiguous(), dh_n.contiguous(), dc_n.contiguous(), x, W, _extend(R, Rg),
        empty_or(x, p), S, C, empty_or(x, lengths, torch.int64), switches, need_dx,
    )
    n = R.shape[1]
    dR = drext[:, :n].contiguous()  # Rext = [R | Rg padded with zero rows for z]
    dRg = x.new_empty(0) if Rg is None else drext[: Rg.shape[0], n:].contiguous()
    return dx if need_dx else x.new_empty(0), dW, dR, db, dp, dRg, dh0, dc0


def _backward_fake(dy, dh_n, dc_n, x, W, R, p, Rg, lengths, S, C, *, switches, need_dx):
    """:func:`_backward`'s results as empty tensors."""

    def like(t):
        return x.new_empty(0) if t is None else torch.empty_like(t)

    return (like(x if need_dx else None), like(W), like(R), x.new_empty(R.shape[0]), like(p),
            like(Rg), torch.empty_like(dh_n), torch.empty_like(dc_n))


LSTM_SEQUENCE = ops.register(ops.FusedOp(
    "lstm_sequence", _forward, _forward_fake, _backward, _backward_fake, outputs=3,
    saves=("x", "W", "R", "p", "Rg", "lengths"),
))


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
    """Same contract as :func:`lstm_odyssey.kernels.reference.lstm_sequence`, in C++, as the
    custom operator ``lstm_odyssey::lstm_sequence`` (:mod:`.ops`)."""
    p = p if spec.peephole_gates else None
    Rg = Rg if spec.full_gate_recurrence else None
    check_tensors([t for t in (x, W, R, b, p, Rg, h0, c0) if t is not None])
    return LSTM_SEQUENCE(x, W, R, b, p, Rg, h0, c0, lengths, switches=switches(spec))
