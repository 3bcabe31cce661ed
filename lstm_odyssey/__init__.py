"""lstm-odyssey: the variants of "LSTM: A Search Space Odyssey" as fast, importable modules,
beside the cell families after it (GRU, minGRU, minLSTM, sLSTM, your own), plus the sweeps and
analysis of the study."""

from .families import count_parameters, parse_variant
from .variants import PRESETS, CellSpec

__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "PRESETS",
    "CellSpec",
    "LSTMCell",
    "Recurrent",
    "__version__",
    "count_parameters",
    "from_torch_gru",
    "from_torch_lstm",
    "parse_variant",
]

_NN = ("LSTM", "LSTMCell", "Recurrent", "from_torch_gru", "from_torch_lstm")


def __getattr__(name: str):
    # The modules are imported on first use, so that the analysis (and the CLI's help) can
    # import this package without loading torch.
    if name in _NN:
        from . import nn

        return getattr(nn, name)
    raise AttributeError(f"module 'lstm_odyssey' has no attribute {name!r}")
