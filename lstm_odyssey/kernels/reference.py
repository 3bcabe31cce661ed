"""The reference LSTM: the equations of docs/paper.md (§The LSTM block, §Variants) in plain
PyTorch autograd.

This is the oracle every fast backend is tested against. It favours clarity over speed: one
Python step per time step, gradients from autograd.

One step, for the switches of a :class:`~lstm_odyssey.variants.CellSpec` (bars are
pre-activations, ``g``/``h`` the input/output activations, ``a_{t-1}`` the previous step's
gate activations, used only with full gate recurrence and zero at t = 0):

    ā_t   = W x_t + R y_{t-1} + b  (+ Rg a_{t-1} on the gate blocks, FGR)
    z_t   = g(z̄_t)
    i_t   = σ(ī_t + p_i ⊙ c_{t-1})        or 1 without an input gate
    f_t   = σ(f̄_t + p_f ⊙ c_{t-1})        or 1 − i_t (CIFG) or 1 without a forget gate
    c_t   = z_t ⊙ i_t + c_{t-1} ⊙ f_t
    o_t   = σ(ō_t + p_o ⊙ c_t)            or 1 without an output gate
    y_t   = h(c_t) ⊙ o_t

Variable lengths: at t ≥ length_b sequence b keeps its state and outputs zeros.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..variants import CellSpec

_ACT = {"tanh": torch.tanh, "identity": lambda v: v}


def cell_step(
    spec: CellSpec,
    x: Tensor,
    y_prev: Tensor,
    c_prev: Tensor,
    a_prev: Tensor | None,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    p: Tensor | None,
    Rg: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One LSTM step. Returns ``(y_t, c_t, a_t)``; ``a_t`` (the gates with weights, concatenated
    in the order of ``spec.gates``) is only returned with full gate recurrence."""
    n = y_prev.shape[-1]
    pre = x @ W.t() + y_prev @ R.t() + b
    if spec.full_gate_recurrence:
        gate_part = len(spec.gates) * n
        pre = torch.cat([pre[:, :gate_part] + a_prev @ Rg.t(), pre[:, gate_part:]], dim=1)
    bar = dict(zip(spec.blocks, pre.split(n, dim=1)))
    peep = dict(zip(spec.peephole_gates, p.split(n))) if spec.peephole_gates else {}
    one = torch.ones_like(c_prev)

    def gate(name: str, cell: Tensor) -> Tensor:
        """σ(ā + p ⊙ cell), with the peephole term only where the variant has one."""
        return torch.sigmoid(bar[name] + peep[name] * cell if name in peep else bar[name])

    z = _ACT[spec.input_activation](bar["z"])
    i = gate("i", c_prev) if spec.input_gate else one
    if spec.coupled_input_forget:
        f = 1 - i
    elif spec.forget_gate:
        f = gate("f", c_prev)
    else:
        f = one
    c = z * i + c_prev * f
    o = gate("o", c) if spec.output_gate else one
    y = _ACT[spec.output_activation](c) * o

    a = None
    if spec.full_gate_recurrence:
        acts = {"i": i, "f": f, "o": o}
        a = torch.cat([acts[g] for g in spec.gates], dim=1)
    return y, c, a


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
    """Run one direction over a time-major batch ``x`` of shape ``(T, B, M)``.

    Returns ``(y, h_n, c_n)``: ``y`` is ``(T, B, N)`` with zeros past each sequence's length;
    ``h_n``/``c_n`` are the states after each sequence's last step.
    """
    T, B, _ = x.shape
    y_prev, c_prev = h0, c0
    a_prev = x.new_zeros(B, len(spec.gates) * h0.shape[-1]) if spec.full_gate_recurrence else None
    outputs = []
    for t in range(T):
        y, c, a = cell_step(spec, x[t], y_prev, c_prev, a_prev, W, R, b, p, Rg)
        if lengths is not None:
            alive = (t < lengths).to(x.dtype).unsqueeze(1)
            y = y * alive
            y_prev = y + y_prev * (1 - alive)
            c_prev = c * alive + c_prev * (1 - alive)
            a_prev = a * alive + a_prev * (1 - alive) if a is not None else None
        else:
            y_prev, c_prev, a_prev = y, c, a
        outputs.append(y)
    return torch.stack(outputs), y_prev, c_prev
