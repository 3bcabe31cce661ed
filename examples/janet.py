"""JANET, a forget-gate-only LSTM (van der Westhuizen & Lasenby 2018, "The unreasonable
effectiveness of the forget gate"), as a user's own cell for lstm-odyssey::

    s_t = W_f x_t + R_f h_{t-1} + b_f
    c_t = σ(s_t) ⊙ c_{t-1} + (1 − σ(s_t − β)) ⊙ tanh(W_c x_t + R_c h_{t-1} + b_c)
    h_t = c_t                                                      (β = 1)

Train it, sweep it beside the LSTM, report it (from the repository root)::

    lstm-odyssey train --task jsb --cell examples.janet:JANET --hidden 20 --lr 1e-2 \\
        --momentum 0.9 --max-epochs 2
    # a study file: cell = "examples.janet:JANET" and variants = ["V", "janet"]

The protocol (docs/add-a-family.md): a name, the state, the parameters as blocks of N rows,
and a step from (x_t, state_{t-1}, params) to state_t.
"""

from lstm_odyssey.families import Cols, Param, State


class JANET:
    """The cell: no output gate, no input gate (1 − σ(s − β) stands in for it), h = c."""

    name = "janet"
    state = (State("h"),)
    parameters = (Param("weight_ih", "W", ("f", "c"), Cols.INPUT),
                  Param("weight_hh", "R", ("f", "c"), Cols.STATE),
                  Param("bias", "b", ("f", "c"), Cols.VECTOR))
    beta = 1.0

    def step(self, x, state, params):
        (h,) = state
        pre = x @ params["weight_ih"].t() + h @ params["weight_hh"].t() + params["bias"]
        s, candidate = pre.chunk(2, dim=1)
        c = s.sigmoid() * h + (1 - (s - self.beta).sigmoid()) * candidate.tanh()
        return (c,)
