"""The reference LSTM: the equations of docs/paper.md (§The LSTM block, §Variants) in plain
PyTorch autograd.

This is the oracle every fast backend is tested against. It favours clarity over speed: one
Python step per time step, gradients from autograd. :func:`lstm_sequence` runs the LSTM
(its step :func:`cell_step` lives with the family, :mod:`lstm_odyssey.families.lstm`);
:func:`family_sequence` runs any family's cell the same way.

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

from ..families import Variant
from ..families.lstm import cell_step
from ..variants import CellSpec

__all__ = ["cell_step", "family_sequence", "lstm_sequence"]


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


def family_sequence(variant: Variant, x: Tensor, params: dict[str, Tensor],
                    state0: tuple[Tensor, ...],
                    lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one direction of any family's cell over ``x`` (T, B, M) from ``state0``.

    Returns ``(y, state_n)``: ``y`` (T, B, N) is the first state (h) of every step, zero past
    each sequence's length; ``state_n`` the state after each sequence's last step. At
    t ≥ length_b sequence b keeps its state.
    """
    cell = variant.cell
    state = tuple(state0)
    outputs = []
    for t in range(x.shape[0]):
        new = tuple(cell.step(x[t], state, params))
        if lengths is not None:
            alive = (t < lengths).to(x.dtype).unsqueeze(1)
            new = tuple(s * alive + old * (1 - alive) for s, old in zip(new, state))
            outputs.append(new[0] * alive)
        else:
            outputs.append(new[0])
        state = new
    return torch.stack(outputs), state
