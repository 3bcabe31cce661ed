"""lstm-odyssey: the variants of "LSTM: A Search Space Odyssey" as fast, importable modules,
plus the sweeps and analysis of the study."""

from .nn import LSTM, LSTMCell, from_torch_lstm
from .variants import PRESETS, CellSpec, count_parameters

__version__ = "0.1.0"

__all__ = [
    "LSTM", "LSTMCell", "CellSpec", "PRESETS", "count_parameters", "from_torch_lstm",
    "__version__",
]
