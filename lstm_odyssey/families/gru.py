"""The gated recurrent unit: ``gru`` (Cho et al. 2014) and ``gru+lbr`` (the cuDNN form).

``gru`` applies the reset gate to the state before the recurrent product, as Cho et al. (2014,
"Learning phrase representations using RNN encoder-decoder for statistical machine
translation", eqs. 5-8)::

    r_t = σ(W_r x_t + R_r h_{t-1} + b_r)                   reset gate
    z_t = σ(W_z x_t + R_z h_{t-1} + b_z)                   update gate
    n_t = tanh(W_n x_t + R_n (r_t ⊙ h_{t-1}) + b_n)        candidate h̃_t
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

``gru+lbr`` ("linear before reset") applies it after the product, as cuDNN, oneDNN and
``torch.nn.GRU`` compute; its recurrent bias of the candidate stays inside the reset, so it has
one more bias vector ``bR_n``::

    n_t = tanh(W_n x_t + b_n + r_t ⊙ (R_n h_{t-1} + bR_n))

State ``h``. Parameters in torch.nn.GRU's block order ``r z n``: ``weight_ih`` W (3N × M),
``weight_hh`` R (3N × N), ``bias`` b (3N; torch's ``bias_ih + bias_hh`` for r and z, its
``bias_ih`` for n) and, with lbr, ``bias_hn`` bR_n (N; torch's ``bias_hh`` of n).
Parameter count per layer and direction: ``3N(M + N + 1)`` (+ N with lbr).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from .family import CellFamily, Cols, Param, State

if TYPE_CHECKING:
    from torch import Tensor

BLOCKS = ("r", "z", "n")


@dataclass(frozen=True)
class GRUSpec:
    """The GRU's one switch: the reset gate after the recurrent product (cuDNN's form)."""

    linear_before_reset: bool = False


@dataclass(frozen=True)
class GRUCell:
    """One GRU variant (the protocol of :mod:`.family`)."""

    spec: GRUSpec

    @property
    def name(self) -> str:
        return FAMILY.variant_name(self.spec)

    state = (State("h"),)

    @property
    def parameters(self) -> tuple[Param, ...]:
        params = (Param("weight_ih", "W", BLOCKS, Cols.INPUT),
                  Param("weight_hh", "R", BLOCKS, Cols.STATE),
                  Param("bias", "b", BLOCKS, Cols.VECTOR))
        if self.spec.linear_before_reset:
            params += (Param("bias_hn", "bR", ("n",), Cols.VECTOR),)
        return params

    def step(self, x: Tensor, state: tuple[Tensor, ...],
             params: dict[str, Tensor]) -> tuple[Tensor, ...]:
        (h,) = state
        n_ = h.shape[-1]
        W, R = params["weight_ih"], params["weight_hh"]
        wx = x @ W.t() + params["bias"]
        if self.spec.linear_before_reset:
            rh = h @ R.t()
            r = (wx[:, :n_] + rh[:, :n_]).sigmoid()
            z = (wx[:, n_:2 * n_] + rh[:, n_:2 * n_]).sigmoid()
            n = (wx[:, 2 * n_:] + r * (rh[:, 2 * n_:] + params["bias_hn"])).tanh()
        else:
            rz = (wx[:, :2 * n_] + h @ R[:2 * n_].t()).sigmoid()
            r, z = rz[:, :n_], rz[:, n_:]
            n = (wx[:, 2 * n_:] + (r * h) @ R[2 * n_:].t()).tanh()
        return ((1 - z) * n + z * h,)


@cache
def _cell(spec: GRUSpec) -> GRUCell:
    return GRUCell(spec)


FAMILY = CellFamily(name="gru", title="GRU (Cho et al. 2014); +lbr: the reset after the "
                    "recurrent product (cuDNN, torch.nn.GRU)", make_cell=_cell,
                    spec_type=GRUSpec, switches={"lbr": {"linear_before_reset": True}})
