"""Modules with torch.nn.LSTM's interface for every variant, and torch.nn.GRU's for the other
cell families."""

from .lstm import LSTM, InputError, LSTMCell, from_torch_lstm
from .recurrent import Recurrent, from_torch_gru, recurrent

__all__ = ["LSTM", "InputError", "LSTMCell", "Recurrent", "from_torch_gru", "from_torch_lstm",
           "recurrent"]
