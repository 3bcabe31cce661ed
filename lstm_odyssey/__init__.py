"""lstm-odyssey: the variants of "LSTM: A Search Space Odyssey" as fast, importable modules,
plus the sweeps and analysis of the study."""

from .variants import PRESETS, CellSpec, count_parameters

__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "PRESETS",
    "CellSpec",
    "LSTMCell",
    "__version__",
    "count_parameters",
    "from_torch_lstm",
]

_NN = ("LSTM", "LSTMCell", "from_torch_lstm")


def __getattr__(name: str):
    # The modules are imported on first use, so that the analysis (and the CLI's help) can
    # import this package without loading torch.
    if name in _NN:
        from . import nn

        return getattr(nn, name)
    raise AttributeError(f"module 'lstm_odyssey' has no attribute {name!r}")
