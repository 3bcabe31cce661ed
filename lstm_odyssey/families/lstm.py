"""The LSTM of "LSTM: A Search Space Odyssey": nine variants and their combinations.

The switches are those of :class:`~lstm_odyssey.variants.CellSpec` and the names its names
(``V``, ``NIG`` … ``FGR``, ``cifg+np``; ``lstm`` and ``lstm+np`` are accepted for ``V`` and
``NP``). One step, for the switches of a spec (bars are pre-activations, ``g``/``h`` the
input/output activations, ``a_{t-1}`` the previous step's gate activations, used only with
full gate recurrence and zero at t = 0; docs/paper.md §The LSTM block, §Variants):

    ā_t   = W x_t + R y_{t-1} + b  (+ Rg a_{t-1} on the gate blocks, FGR)
    z_t   = g(z̄_t)
    i_t   = σ(ī_t + p_i ⊙ c_{t-1})        or 1 without an input gate
    f_t   = σ(f̄_t + p_f ⊙ c_{t-1})        or 1 − i_t (CIFG) or 1 without a forget gate
    c_t   = z_t ⊙ i_t + c_{t-1} ⊙ f_t
    o_t   = σ(ō_t + p_o ⊙ c_t)            or 1 without an output gate
    y_t   = h(c_t) ⊙ o_t

State ``(h, c)`` (``h`` = y), plus ``a`` (G·N wide) with full gate recurrence. Parameters (the
layout of :mod:`lstm_odyssey.variants`): ``weight_ih`` W, ``weight_hh`` R, ``bias`` b over
``spec.blocks``; ``peephole`` p over ``spec.peephole_gates``; ``weight_gh`` Rg over
``spec.gates`` with full gate recurrence. The fused backends compute this family
(:mod:`lstm_odyssey.kernels`); :func:`cell_step` is its oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ..variants import PRESET_NAMES, CellSpec
from .family import CellFamily, Cols, Param, State

if TYPE_CHECKING:
    from torch import Tensor

_ACT = {"tanh": lambda v: v.tanh(), "identity": lambda v: v}


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
    import torch

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


@dataclass(frozen=True)
class LSTMCell:
    """The cell of one LSTM variant (the protocol of :mod:`.family`)."""

    spec: CellSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def state(self) -> tuple[State, ...]:
        a = (State("a", len(self.spec.gates)),) if self.spec.full_gate_recurrence else ()
        return (State("h"), State("c"), *a)

    @property
    def parameters(self) -> tuple[Param, ...]:
        s = self.spec
        params = [Param("weight_ih", "W", s.blocks, Cols.INPUT),
                  Param("weight_hh", "R", s.blocks, Cols.STATE),
                  Param("bias", "b", s.blocks, Cols.VECTOR)]
        if s.peephole_gates:
            params.append(Param("peephole", "p", s.peephole_gates, Cols.VECTOR))
        if s.full_gate_recurrence:
            params.append(Param("weight_gh", "Rg", s.gates, Cols.BLOCKS))
        return tuple(params)

    def step(self, x: Tensor, state: tuple[Tensor, ...],
             params: dict[str, Tensor]) -> tuple[Tensor, ...]:
        h, c = state[0], state[1]
        a = state[2] if self.spec.full_gate_recurrence else None
        y, c, a = cell_step(self.spec, x, h, c, a, params["weight_ih"], params["weight_hh"],
                            params["bias"], params.get("peephole"), params.get("weight_gh"))
        return (y, c) if a is None else (y, c, a)


@cache
def _cell(spec: CellSpec) -> LSTMCell:
    return LSTMCell(spec)


@dataclass(frozen=True)
class LSTMFamily(CellFamily):
    """The LSTM family: its specs are :class:`CellSpec`, its names ``CellSpec.name``."""

    def parse(self, tokens: list[str]) -> Any:
        return CellSpec.parse("+".join(tokens) or "V")

    def variant_name(self, spec: Any) -> str:
        return spec.name

    @property
    def presets(self) -> tuple[str, ...]:
        return PRESET_NAMES


FAMILY = LSTMFamily(name="lstm", title="LSTM (Greff et al. 2017): the nine variants",
                    make_cell=_cell, spec_type=CellSpec)
