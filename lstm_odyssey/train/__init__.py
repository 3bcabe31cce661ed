"""Training with the paper's protocol: models, losses, metrics, optimiser and the loop.

    from lstm_odyssey.train import TrainConfig, run
    record = run(TrainConfig(task="jsb", variant="V", hidden_size=50, learning_rate=1e-3,
                             momentum=0.9, input_noise=0.0))

Only the configuration is imported with the package; the rest (and torch) on first use, so that
a study file is checked without loading torch.
"""

import importlib

from .config import ConfigError, TrainConfig

# name -> the module of this package that defines it, imported on first access (PEP 562)
_LAZY = {"run": "loop", "SequenceModel": "model", "NesterovSGD": "optim"}

__all__ = ["ConfigError", "NesterovSGD", "SequenceModel", "TrainConfig", "run"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
