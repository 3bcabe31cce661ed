"""minLSTM (Feng et al. 2024, "Were RNNs all we needed?", §3.2): an LSTM without output gate
or cell activation whose gates read the input only, with the forget and input gates normalised
to sum to one (the paper's length-independent form)::

    f_t = σ(W_f x_t + b_f)                   forget gate
    i_t = σ(W_i x_t + b_i)                   input gate
    h̃_t = W_h x_t + b_h                      candidate (no tanh)
    f'_t, i'_t = f_t / (f_t + i_t), i_t / (f_t + i_t)
    h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t

The sequential form (the paper's "minLSTM, sequential mode"); no parallel scan here. State
``h``. Parameters: ``weight_ih`` W (3N × M) and ``bias`` b (3N) in the block order ``f i h``;
per layer and direction ``3N(M + 1)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .family import CellFamily, Cols, NoSwitches, Param, State

if TYPE_CHECKING:
    from torch import Tensor


class MinLSTMCell:
    """minLSTM (the protocol of :mod:`.family`)."""

    name = "minlstm"
    state = (State("h"),)
    parameters = (Param("weight_ih", "W", ("f", "i", "h"), Cols.INPUT),
                  Param("bias", "b", ("f", "i", "h"), Cols.VECTOR))

    def step(self, x: Tensor, state: tuple[Tensor, ...],
             params: dict[str, Tensor]) -> tuple[Tensor, ...]:
        (h,) = state
        fbar, ibar, candidate = (x @ params["weight_ih"].t() + params["bias"]).chunk(3, dim=1)
        f, i = fbar.sigmoid(), ibar.sigmoid()
        total = f + i
        return ((f / total) * h + (i / total) * candidate,)


_CELL = MinLSTMCell()

FAMILY = CellFamily(name="minlstm", title="minLSTM (Feng et al. 2024): normalised gates from "
                    "the input only", make_cell=lambda spec: _CELL, spec_type=NoSwitches)
