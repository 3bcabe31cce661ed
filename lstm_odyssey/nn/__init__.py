"""Modules with torch.nn.LSTM's interface for every variant."""

from .lstm import LSTM, InputError, LSTMCell, from_torch_lstm

__all__ = ["LSTM", "InputError", "LSTMCell", "from_torch_lstm"]
