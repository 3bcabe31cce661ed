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


SEED_MAX = 2**64 - 1   # torch.manual_seed takes [-2**63, 2**64 - 1], numpy's generators ≥ 0
SEED_WHY = "what torch.manual_seed and numpy's generators both take"
SIZE_MAX = 1_000_000  # training sequences: 100× the largest corpus of the paper (TIMIT, 3696)


def memory_floor(variant: str | CellSpec, hidden_size: int) -> int:
    """A lower bound on the bytes a training run of ``variant`` at ``hidden_size`` needs, for
    any task: ``3 · 4 · P`` with ``P`` the parameter count at one input (the weights, their
    gradients and the momentum buffer, in float32), activations and data not counted."""
    from ..families import count_parameters

    return 3 * 4 * count_parameters(variant, 1, hidden_size)


def _memory() -> int:
    """This machine's physical memory in bytes."""
    import psutil

    return psutil.virtual_memory().total


def _bytes(n: int) -> str:
    """``n`` bytes in words: ``7.8 GB``, ``4.8e+05 TB``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 1e4 else f"{value:.1e} {unit}"
    return f"{n} bytes"


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
            ("seed", 0 <= self.seed <= SEED_MAX, f"in [0, 2**64 - 1] ({SEED_WHY})"),
            ("data_seed", 0 <= self.data_seed <= SEED_MAX, f"in [0, 2**64 - 1] ({SEED_WHY})"),
            ("size", not isinstance(self.size, int) or 1 <= self.size <= SIZE_MAX,
             f"of 1 … {SIZE_MAX:,} training sequences (or 'demo', 'full')"),
        ]
        for name, ok, requirement in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), f"a value {requirement}")
        if self.backend not in BACKENDS:
            raise ConfigError("backend", self.backend, f"one of {', '.join(BACKENDS)}")
        self._check_machine()

    def _check_machine(self) -> None:
        """What this machine cannot run, refused before any trial: a named backend that
        cannot take this device's tensors here (``triton`` without CUDA) and a network whose
        weights alone do not fit in memory (:func:`memory_floor`)."""
        device = self.device.split(":", 1)[0]
        # the reference backend runs anything, the cpu one any LSTM on a CPU (a failed C++
        # build is a fault of the machine at run time, re-queued): only other cases ask the
        # kernels' table, which loads torch — reading a study file need not
        from ..families import family_of

        lstm_on_cpu = self.backend == "cpu" and device == "cpu" and family_of(
            self.variant) == "lstm"
        if self.backend not in ("auto", "reference") and not lstm_on_cpu:
            from ..kernels import BackendError, backend_for

            try:
                backend_for(self.backend, device, self.variant)
            except BackendError as e:
                raise ConfigError("backend", self.backend, f"a backend this machine runs ({e})"
                                  ) from None
        need, have = memory_floor(self.variant, self.hidden_size), _memory()
        if device == "cpu" and need > have:
            raise ConfigError("hidden_size", self.hidden_size, (
                f"a smaller value: the {self.variant} network's weights, gradients and "
                f"momentum alone need at least {_bytes(need)}, more than this machine's "
                f"{_bytes(have)} of memory"))

    def to_dict(self) -> dict:
        """A JSON-able copy (the variant as its canonical name)."""
        return asdict(self)
