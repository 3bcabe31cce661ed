"""The description of a recurrent cell family, without torch.

A *cell* is one recurrent step: its **state** (named vectors; the first is the output ``h``),
its **parameters** (matrices and vectors made of blocks of ``N`` rows, each block with a
paper-notation name such as ``W_z``) and its **step** ``(x_t, state_{t-1}, params) ->
state_t``. A *family* is a set of cells that differ by switches (the LSTM's nine variants, the
GRU with the reset before or after the recurrent product), with a name, presets and the cell of
each variant.

Everything here is plain data: the study files, the configuration checks and the parameter
counts read a family without loading torch. The steps receive tensors and use torch only when
they run.

The protocol a cell implements (the built-ins and a user's own, see docs/add-a-family.md)::

    class Cell(Protocol):
        name: str                       # its variant name, e.g. "gru+lbr" or "janet"
        state: tuple[State, ...]        # e.g. (State("h"), State("c")); the first is the output
        parameters: tuple[Param, ...]   # e.g. Param("weight_ih", "W", ("f", "z"), Cols.INPUT)
        def step(self, x, state, params) -> tuple[Tensor, ...]: ...

``step`` takes ``x`` (B, M), the state as a tuple of (B, width·N) tensors in the order of
``state`` and ``params`` as a dict from each :class:`Param`'s ``name`` to its tensor, and
returns the new state in the same order and shapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import UserError
from ..variants import SpecError

if TYPE_CHECKING:  # the steps receive tensors; this module never imports torch
    from torch import Tensor

NAME = re.compile(r"[a-z][a-z0-9_-]*")  # a family's name: the first token of its variant names


class CellError(UserError, ValueError):
    """A user's cell that does not implement the protocol (a variant its family does not have
    is a :class:`~lstm_odyssey.variants.SpecError`)."""


class Cols(Enum):
    """What a parameter's columns multiply: its shape is ``(len(blocks)·N, columns)``."""

    INPUT = "input"    # M columns: a weight on the input x_t
    STATE = "state"    # N columns: a weight on a state vector (h_{t-1})
    BLOCKS = "blocks"  # len(blocks)·N columns: a weight on the previous step's gates (FGR)
    VECTOR = "vector"  # no columns: a bias or a peephole, (len(blocks)·N,)


@dataclass(frozen=True)
class Param:
    """One parameter tensor of a cell: ``len(blocks)`` blocks of N rows, stacked.

    ``name`` is its attribute in a module (``weight_ih`` becomes ``weight_ih_l0``), ``symbol``
    its letter in the equations: block ``z`` of ``Param("weight_ih", "W", ("z",), INPUT)`` is
    ``W_z``."""

    name: str
    symbol: str
    blocks: tuple[str, ...]
    cols: Cols

    def shape(self, input_size: int, hidden_size: int) -> tuple[int, ...]:
        rows = len(self.blocks) * hidden_size
        columns = {Cols.INPUT: input_size, Cols.STATE: hidden_size, Cols.BLOCKS: rows}
        return (rows,) if self.cols is Cols.VECTOR else (rows, columns[self.cols])

    def size(self, input_size: int, hidden_size: int) -> int:
        n = 1
        for d in self.shape(input_size, hidden_size):
            n *= d
        return n

    def paper_names(self) -> tuple[str, ...]:
        """``symbol_block`` of every block, in row order (``W_r``, ``W_z``, ``W_n``)."""
        return tuple(f"{self.symbol}_{b}" for b in self.blocks)


@dataclass(frozen=True)
class State:
    """One state vector of a cell, ``width`` × N wide, zero at t = 0 unless given."""

    name: str
    width: int = 1


@runtime_checkable
class Cell(Protocol):
    """The protocol of one cell (see the module docstring)."""

    name: str
    state: tuple[State, ...]
    parameters: tuple[Param, ...]

    def step(self, x: Tensor, state: tuple[Tensor, ...],
             params: dict[str, Tensor]) -> tuple[Tensor, ...]: ...


@dataclass(frozen=True)
class NoSwitches:
    """The spec of a family without switches: one variant."""


@dataclass(frozen=True)
class CellFamily:
    """A family of cells: its name, its switches and presets, and the cell of each variant.

    ``spec_type`` is a frozen dataclass of the switches whose defaults are the family's base
    variant; ``switches`` maps each switch's token (``"lbr"``) to the fields it changes, in
    the order canonical names list them. A variant's name is the family's name followed by its
    switches' tokens, joined by ``+`` (``gru+lbr``). ``origin`` is ``package.module:Object`` for
    a user's family, None for a built-in one.
    """

    name: str
    title: str
    make_cell: Callable[[Any], Cell]
    spec_type: type = NoSwitches
    switches: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    origin: str | None = None

    def parse(self, tokens: list[str]) -> Any:
        """The spec of the switches ``tokens`` (case insensitive), e.g. ``["lbr"]``."""
        changes: dict[str, object] = {}
        for token in tokens:
            if token.lower() not in self.switches:
                valid = ", ".join(self.switches) or "none"
                raise SpecError(f"unknown switch {token!r} of the {self.name} family; its "
                                f"switches: {valid} (e.g. {self.presets[-1]!r})")
            changes.update(self.switches[token.lower()])
        return replace(self.spec_type(), **changes)

    def variant_name(self, spec: Any) -> str:
        base = self.spec_type()
        on = [t for t, delta in self.switches.items()
              if all(getattr(spec, k) == v for k, v in delta.items())
              and any(getattr(base, k) != v for k, v in delta.items())]
        return "+".join([self.name, *on])

    @property
    def presets(self) -> tuple[str, ...]:
        """The base variant and one per switch."""
        return (self.name, *(f"{self.name}+{t}" for t in self.switches))

    def spec_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.spec_type))


@dataclass(frozen=True)
class Variant:
    """One variant: a family and the spec of its switches (a ``CellSpec`` for the LSTM)."""

    family: CellFamily
    spec: Any

    @property
    def name(self) -> str:
        return self.family.variant_name(self.spec)

    @property
    def cell(self) -> Cell:
        return self.family.make_cell(self.spec)

    def count_parameters(self, input_size: int, hidden_size: int, num_layers: int = 1,
                         bidirectional: bool = False) -> int:
        """Trainable parameters of a stack of ``num_layers`` layers of this cell: per layer and
        direction Σ over the cell's parameters of their sizes (:meth:`Param.size`); layers
        after the first read ``M = N·directions``."""
        dirs = 2 if bidirectional else 1
        params = self.cell.parameters
        total = 0
        for layer in range(num_layers):
            m = input_size if layer == 0 else hidden_size * dirs
            total += dirs * sum(p.size(m, hidden_size) for p in params)
        return total

    def __str__(self) -> str:
        return self.name
