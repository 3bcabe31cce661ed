"""sLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", §2.2, eqs. 8-17), one
head: an exponential input gate, a normaliser state n and a log-space stabiliser m::

    z_t = tanh(W_z x_t + R_z h_{t-1} + b_z)            cell input
    ĩ_t = W_i x_t + R_i h_{t-1} + b_i                   i_t = exp(ĩ_t)
    f̃_t = W_f x_t + R_f h_{t-1} + b_f                   f_t = σ(f̃_t), or exp(f̃_t) with +expf
    o_t = σ(W_o x_t + R_o h_{t-1} + b_o)                output gate
    m_t = max(log f_t + m_{t-1}, ĩ_t)                   stabiliser (log f_t = log σ(f̃_t) or f̃_t)
    i'_t = exp(ĩ_t − m_t)
    f'_t = exp(log f_t + m_{t-1} − m_t)
    c_t = f'_t ⊙ c_{t-1} + i'_t ⊙ z_t                   cell
    n_t = f'_t ⊙ n_{t-1} + i'_t                         normaliser
    h_t = o_t ⊙ c_t / n_t

The stabilised gates i', f' are the paper's gates scaled by exp(−m_t) at every step, which c/n
cancels: h equals the unstabilised recursion (tested), without its overflow. One head means
full (not block-diagonal) recurrent matrices. State ``h, c, n, m``, all zero at t = 0 (so
n_1 = i'_1 > 0). Parameters in the block order ``i f z o`` (xLSTM's): ``weight_ih`` W
(4N × M), ``weight_hh`` R (4N × N), ``bias`` b (4N); per layer and direction ``4N(M + N + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from .family import CellFamily, Cols, Param, State

if TYPE_CHECKING:
    from torch import Tensor

BLOCKS = ("i", "f", "z", "o")


@dataclass(frozen=True)
class SLSTMSpec:
    """The sLSTM's switch: the forget gate exp(f̃) instead of σ(f̃)."""

    exp_forget: bool = False


@dataclass(frozen=True)
class SLSTMCell:
    """One sLSTM variant (the protocol of :mod:`.family`)."""

    spec: SLSTMSpec

    @property
    def name(self) -> str:
        return FAMILY.variant_name(self.spec)

    state = (State("h"), State("c"), State("n"), State("m"))
    parameters = (Param("weight_ih", "W", BLOCKS, Cols.INPUT),
                  Param("weight_hh", "R", BLOCKS, Cols.STATE),
                  Param("bias", "b", BLOCKS, Cols.VECTOR))

    def step(self, x: Tensor, state: tuple[Tensor, ...],
             params: dict[str, Tensor]) -> tuple[Tensor, ...]:
        import torch.nn.functional as F

        h, c, n, m = state
        pre = x @ params["weight_ih"].t() + h @ params["weight_hh"].t() + params["bias"]
        ibar, fbar, zbar, obar = pre.chunk(4, dim=1)
        log_f = fbar if self.spec.exp_forget else F.logsigmoid(fbar)
        m_new = (log_f + m).maximum(ibar)
        i = (ibar - m_new).exp()
        f = (log_f + m - m_new).exp()
        c_new = f * c + i * zbar.tanh()
        n_new = f * n + i
        return (obar.sigmoid() * c_new / n_new, c_new, n_new, m_new)


@cache
def _cell(spec: SLSTMSpec) -> SLSTMCell:
    return SLSTMCell(spec)


FAMILY = CellFamily(name="slstm", title="sLSTM (Beck et al. 2024), one head: exponential input "
                    "gate, normaliser, stabiliser; +expf: exp forget gate", make_cell=_cell,
                    spec_type=SLSTMSpec, switches={"expf": {"exp_forget": True}})
