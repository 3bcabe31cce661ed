"""The configuration of one training run (the paper's protocol by default, docs/paper.md
§Training protocol)."""

from __future__ import annotations

import math
import numbers
import types
import typing
from dataclasses import asdict, dataclass, fields

from ..errors import UserError
from ..families import load_cell, parse_variant
from ..variants import BACKENDS, CellSpec


class ConfigError(UserError, ValueError):
    """A training option of the wrong type or outside its valid range: ``name`` = ``value``
    is invalid; use ``requirement``."""

    def __init__(self, name: str, value: object, requirement: str) -> None:
        self.name, self.value, self.requirement = name, value, requirement
        super().__init__(f"{name}={value!r} is invalid; use {requirement}")

    def __reduce__(self):  # picklable (worker processes send errors back)
        return type(self), (self.name, self.value, self.requirement)


# The values each annotated type accepts: bool is no number here, an int is a float.
_TYPES = {int: ("an integer", lambda v: isinstance(v, numbers.Integral)),
          float: ("a number", lambda v: isinstance(v, numbers.Real)),
          str: ("a string", lambda v: isinstance(v, str)),
          CellSpec: ("a variant", lambda v: isinstance(v, CellSpec)),
          types.NoneType: ("none", lambda v: v is None)}


def _type_problem(value: object, hint: object) -> str | None:
    """None if ``value`` fits the type annotation ``hint`` (a type or a union of types), else
    what it should be, e.g. ``"an integer"``."""
    accepted = typing.get_args(hint) or (hint,)
    if not isinstance(value, bool) and any(_TYPES[t][1](value) for t in accepted):
        return None
    return " or ".join(_TYPES[t][0] for t in accepted if t is not types.NoneType)


@dataclass
class TrainConfig:
    """One training run.

    The four searched hyperparameters are ``hidden_size``, ``learning_rate``, ``momentum`` and
    ``input_noise`` (the std of the additive Gaussian input noise). The rest is the protocol:
    at most ``max_epochs`` epochs, early stopping after ``patience`` epochs without a better
    validation metric, ``batch_size`` sequences per update (1 = the paper), weights from
    N(0, ``init_std``²), an optional wall-clock budget ``time_budget_s`` (checked between
    updates; the run then ends with status ``time_limit``).

    ``size``, ``path`` and ``data_seed`` select the data (``load_task``); ``seed`` only the
    initial weights, the order of the sequences and the noise, so runs with different seeds see
    the same data.

    ``variant`` names a variant of any cell family (``"V"``, ``"cifg+np"``, ``"gru+lbr"``,
    ``"slstm"``); ``cell`` = ``"package.module:ClassOrFunction"`` loads a user's cell
    (:func:`lstm_odyssey.families.load_cell`), whose name is then a variant (the default
    ``variant`` when it is ``None``). ``hidden_size`` is the width N of the state ``h``.

    ``threads``: if set, ``torch.set_num_threads(threads)`` is called before training. CPU
    results are bit-identical for the same seed and config when the thread count is the same;
    sweeps use 1 thread per worker.
    """

    task: str
    variant: str | CellSpec | None
    hidden_size: int
    learning_rate: float
    momentum: float
    input_noise: float
    max_epochs: int = 150
    patience: int = 15
    batch_size: int = 1
    seed: int = 0
    backend: str = "auto"
    init_std: float = 0.1
    time_budget_s: float | None = None
    size: str | int = "demo"
    path: str | None = None
    data_seed: int = 0
    eval_batch_size: int = 32
    threads: int | None = None
    device: str = "cpu"
    config_id: int | None = None
    cell: str | None = None

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(TrainConfig)
        for f in fields(self):  # types first: the range checks below compare numbers
            value = getattr(self, f.name)
            problem = _type_problem(value, hints[f.name])
            if problem:
                raise ConfigError(f.name, value, problem)
        family = load_cell(self.cell) if self.cell is not None else None  # CellError: 1 line
        if self.variant is None:
            if family is None:
                raise ConfigError("variant", None, "a variant name (e.g. 'V', 'gru') or a cell")
            self.variant = family.name
        self.variant = parse_variant(self.variant).name
        finite = math.isfinite
        checks = [
            ("hidden_size", self.hidden_size >= 1, "≥ 1"),
            ("learning_rate", finite(self.learning_rate) and self.learning_rate >= 0, "≥ 0"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("input_noise", finite(self.input_noise) and self.input_noise >= 0, "≥ 0"),
            ("max_epochs", self.max_epochs >= 1, "≥ 1"),
            ("patience", self.patience >= 1, "≥ 1"),
            ("batch_size", self.batch_size >= 1, "≥ 1"),
            ("eval_batch_size", self.eval_batch_size >= 1, "≥ 1"),
            ("init_std", finite(self.init_std) and self.init_std > 0, "> 0"),
            ("time_budget_s", self.time_budget_s is None or self.time_budget_s > 0, "> 0"),
            ("threads", self.threads is None or self.threads >= 1, "≥ 1"),
        ]
        for name, ok, requirement in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), f"a value {requirement}")
        if self.backend not in BACKENDS:
            raise ConfigError("backend", self.backend, f"one of {', '.join(BACKENDS)}")

    def to_dict(self) -> dict:
        """A JSON-able copy (the variant as its canonical name)."""
        return asdict(self)
