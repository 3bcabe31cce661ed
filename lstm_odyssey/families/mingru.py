"""minGRU (Feng et al. 2024, "Were RNNs all we needed?", §3.1): a GRU whose gate and candidate
read the input only, so that the recurrence is linear in h::

    z_t = σ(W_z x_t + b_z)                    update gate
    h̃_t = W_h x_t + b_h                       candidate (no tanh)
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

This is the paper's sequential form (its Algorithm "minGRU, sequential mode"); the parallel
scan over ``h_t = a_t ⊙ h_{t-1} + b_t`` computes the same numbers and is not implemented here.
State ``h``. Parameters: ``weight_ih`` W (2N × M) and ``bias`` b (2N) in the block order
``z h``; per layer and direction ``2N(M + 1)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .family import CellFamily, Cols, NoSwitches, Param, State

if TYPE_CHECKING:
    from torch import Tensor


class MinGRUCell:
    """minGRU (the protocol of :mod:`.family`)."""

    name = "mingru"
    state = (State("h"),)
    parameters = (Param("weight_ih", "W", ("z", "h"), Cols.INPUT),
                  Param("bias", "b", ("z", "h"), Cols.VECTOR))

    def step(self, x: Tensor, state: tuple[Tensor, ...],
             params: dict[str, Tensor]) -> tuple[Tensor, ...]:
        (h,) = state
        zbar, candidate = (x @ params["weight_ih"].t() + params["bias"]).chunk(2, dim=1)
        z = zbar.sigmoid()
        return ((1 - z) * h + z * candidate,)


_CELL = MinGRUCell()

FAMILY = CellFamily(name="mingru", title="minGRU (Feng et al. 2024): gate and candidate from "
                    "the input only", make_cell=lambda spec: _CELL, spec_type=NoSwitches)
