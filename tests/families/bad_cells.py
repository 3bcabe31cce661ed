"""Cells that break the protocol, each in one way (tests/families/test_user_cell.py)."""

from lstm_odyssey.families import Cols, Param, State

W = (Param("weight_ih", "W", ("h",), Cols.INPUT),)


class NoStep:
    name = "nostep"
    state = (State("h"),)
    parameters = W


class WrongShape:
    name = "wrongshape"
    state = (State("h"), State("c"))
    parameters = W

    def step(self, x, state, params):
        return (x @ params["weight_ih"].t(), state[1][:, :1])


class ReturnsNaN:
    name = "nancell"
    state = (State("h"),)
    parameters = W

    def step(self, x, state, params):
        return ((x @ params["weight_ih"].t()) * float("nan"),)


def elman():
    """A function returning the cell: an Elman RNN, h_t = tanh(W x_t + R h_{t-1} + b)."""

    class Elman:
        name = "elman"
        state = ("h",)
        parameters = (Param("weight_ih", "W", ("h",), Cols.INPUT),
                      Param("weight_hh", "R", ("h",), Cols.STATE),
                      Param("bias", "b", ("h",), Cols.VECTOR))

        def step(self, x, state, params):
            (h,) = state
            return ((x @ params["weight_ih"].t() + h @ params["weight_hh"].t()
                     + params["bias"]).tanh(),)

    return Elman()


NOT_A_CELL = 3
