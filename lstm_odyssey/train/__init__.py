"""Training with the paper's protocol: models, losses, metrics, optimiser and the loop.

    from lstm_odyssey.train import TrainConfig, run
    record = run(TrainConfig(task="jsb", variant="V", hidden_size=50, learning_rate=1e-3,
                             momentum=0.9, input_noise=0.0))
"""

from .config import ConfigError, TrainConfig
from .loop import EarlyStopping, evaluate, run
from .metrics import best_path_decode, cer_pct, edit_distance, trivial_baseline
from .model import SequenceModel
from .optim import NesterovSGD

__all__ = [
    "ConfigError", "EarlyStopping", "NesterovSGD", "SequenceModel", "TrainConfig",
    "best_path_decode", "cer_pct", "edit_distance", "evaluate", "run", "trivial_baseline",
]
