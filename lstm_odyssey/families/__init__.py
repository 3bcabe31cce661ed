"""Cell families: the LSTM and the gated cells after it, and a user's own, behind one protocol.

A variant name is a family's name and its switches joined by ``+`` (``gru+lbr``,
``slstm+expf``); the LSTM's names are those of :class:`~lstm_odyssey.variants.CellSpec`
(``V``, ``NIG``, ``cifg+np``). :func:`parse_variant` reads any of them into a
:class:`~.family.Variant`. ``FAMILIES`` is the one table of built-in families: a new family is
a module with its ``FAMILY`` and a row here (docs/add-a-family.md); a user's family is loaded
from ``package.module:Object`` by :func:`load_cell` (study files' ``cell``, ``TrainConfig.cell``,
``lstm-odyssey train --cell``).

Torch-free: study files and configurations are checked without loading torch.
"""

from __future__ import annotations

import importlib
import os
import sys

from ..variants import PRESET_NAMES, CellSpec, SpecError
from . import gru, lstm, mingru, minlstm, slstm
from .family import NAME, Cell, CellError, CellFamily, Cols, NoSwitches, Param, State, Variant

__all__ = ["FAMILIES", "LSTM_FAMILY", "Cell", "CellError", "CellFamily", "Cols", "NoSwitches",
           "Param", "State", "Variant", "check_step", "count_parameters", "family_of",
           "load_cell", "parse_variant", "preset_names"]

LSTM_FAMILY = lstm.FAMILY

# The built-in families, in the order listings show them.
FAMILIES: dict[str, CellFamily] = {f.name: f for f in (
    lstm.FAMILY,
    gru.FAMILY,
    mingru.FAMILY,
    minlstm.FAMILY,
    slstm.FAMILY,
)}

_USER: dict[str, CellFamily] = {}  # families loaded from a user's module in this process

PROTOCOL = ("the protocol: name, state, parameters, step(x, state, params); see "
            "docs/add-a-family.md")


def _families() -> dict[str, CellFamily]:
    return {**FAMILIES, **_USER}


def preset_names() -> tuple[str, ...]:
    """Every family's presets: the LSTM's nine, then ``gru``, ``gru+lbr``, … and the user's."""
    return tuple(name for f in _families().values() for name in f.presets)


def parse_variant(text: str | CellSpec | Variant) -> Variant:
    """The variant named ``text`` (case insensitive): an LSTM name (``"cifg+np"``, also
    ``"lstm+np"``), a built-in family's (``"gru+lbr"``) or a loaded user family's."""
    if isinstance(text, Variant):
        return text
    if isinstance(text, CellSpec):
        return Variant(LSTM_FAMILY, text)
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"variant {text!r} is empty; use one of {', '.join(preset_names())}")
    tokens = text.replace(" ", "").split("+")
    family = _families().get(tokens[0].lower())
    if family is not None:
        return Variant(family, family.parse(tokens[1:]))
    try:
        return Variant(LSTM_FAMILY, CellSpec.parse(text))
    except SpecError:
        if tokens[0].upper() in ("V", "VANILLA", *PRESET_NAMES):
            raise  # an LSTM name with a bad switch: CellSpec's message says which
        others = [n for n in preset_names() if n not in PRESET_NAMES]
        raise SpecError(
            f"unknown variant {text!r}; valid names: the LSTM's {', '.join(PRESET_NAMES)} "
            f"(combined with '+', e.g. 'cifg+np') and {', '.join(others)}; your own cell: "
            "cell = 'package.module:Class'") from None


def family_of(variant: str | CellSpec | Variant) -> str:
    """The family's name of a variant (``"lstm"`` for ``"NP"``)."""
    return parse_variant(variant).family.name


def count_parameters(variant: str | CellSpec | Variant, input_size: int, hidden_size: int,
                     num_layers: int = 1, bidirectional: bool = False) -> int:
    """Trainable parameters of a recurrent stack of this variant (any family): per layer and
    direction the sizes of the cell's parameters summed (for the LSTM:
    :func:`lstm_odyssey.variants.count_parameters`); layers after the first read
    ``M = N·directions``."""
    return parse_variant(variant).count_parameters(input_size, hidden_size, num_layers,
                                                   bidirectional)


# -- a user's own cell ---------------------------------------------------------------------------

def load_cell(path: str) -> CellFamily:
    """Import ``package.module:Object`` and register the cell it names as a family.

    ``Object`` is a class (instantiated without arguments), a function (called without
    arguments) returning the cell, or the cell itself. The cell implements the protocol of
    :mod:`.family` (``name``, ``state``, ``parameters``, ``step``); its name becomes a variant
    name. The current directory is searched first, so a module beside the study file imports.
    Every problem is one :class:`CellError` line.
    """
    where = f"cell {path!r}"
    if not isinstance(path, str) or path.count(":") != 1 or not all(path.split(":")):
        raise CellError(f"{where}: write it as 'package.module:ClassOrFunction'")
    loaded = next((f for f in _USER.values() if f.origin == path), None)
    if loaded is not None:
        return loaded
    module_name, attr = path.split(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CellError(f"{where}: cannot import {module_name!r} ({e}); is it on PYTHONPATH or "
                        "in the current directory?") from None
    if not hasattr(module, attr):
        raise CellError(f"{where}: module {module_name!r} has no {attr!r}")
    obj = getattr(module, attr)
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "step")):
        try:
            obj = obj()
        except Exception as e:  # noqa: BLE001 - the user's constructor: any failure is theirs
            raise CellError(f"{where}: calling {attr}() failed ({type(e).__name__}: {e})"
                            ) from None
    cell = _check_cell(where, obj)
    family = CellFamily(name=cell.name, title=f"{cell.name}: a user's cell ({path})",
                        make_cell=lambda spec: cell, spec_type=NoSwitches, origin=path)
    taken = _families().get(cell.name)
    if taken is not None or cell.name.upper() in ("V", "VANILLA", *PRESET_NAMES):
        owner = taken.origin if taken is not None and taken.origin else "a built-in family"
        raise CellError(f"{where}: its name {cell.name!r} is taken by {owner}; give it "
                        "another name")
    _USER[cell.name] = family
    return family


class _UserCell:
    """A user's cell with its state normalised to :class:`State` entries."""

    def __init__(self, obj: object, state: tuple[State, ...]) -> None:
        self._obj, self.name, self.state = obj, obj.name, state
        self.parameters = tuple(obj.parameters)

    def step(self, x, state, params):
        return self._obj.step(x, state, params)


def _check_cell(where: str, obj: object) -> Cell:
    """The static half of the protocol: attributes, names, shapes of the declarations."""
    missing = [a for a in ("name", "state", "parameters", "step") if not hasattr(obj, a)]
    if missing:
        raise CellError(f"{where}: it has no {', '.join(missing)} ({PROTOCOL})")
    if not callable(obj.step):
        raise CellError(f"{where}: 'step' must be a method step(x, state, params)")
    if not isinstance(obj.name, str) or not NAME.fullmatch(obj.name):
        raise CellError(f"{where}: name {obj.name!r} must be lower-case letters, digits, '-' or "
                        "'_', starting with a letter")
    raw = obj.state
    if isinstance(raw, str | State) or not isinstance(raw, tuple | list) or not raw:
        raise CellError(f"{where}: state must be a non-empty tuple of names or State, e.g. "
                        "('h', 'c'); the first is the output")
    state = tuple(State(s) if isinstance(s, str) else s for s in raw)
    if not all(isinstance(s, State) and isinstance(s.width, int) and s.width >= 1
               for s in state):
        raise CellError(f"{where}: state {raw!r} must hold names or State(name, width ≥ 1)")
    params = obj.parameters
    if (not isinstance(params, tuple | list)
            or not all(isinstance(p, Param) and isinstance(p.cols, Cols) and p.blocks
                       for p in params)):
        raise CellError(f"{where}: parameters must be a tuple of Param(name, symbol, blocks, "
                        "cols), e.g. Param('weight_ih', 'W', ('f', 'z'), Cols.INPUT)")
    names = [p.name for p in params]
    if len(set(names)) != len(names) or not all(n.isidentifier() for n in names):
        raise CellError(f"{where}: parameter names {names} must be distinct identifiers")
    return _UserCell(obj, state)


def check_step(variant: Variant, out: object, batch: int, hidden_size: int,
               finite: bool = True) -> None:
    """The dynamic half of the protocol, on the first step of the first batch: ``out`` (what
    the step returned) is one tensor per state of shape (B, width·N), finite if ``finite``."""
    cell = variant.cell
    where = f"cell {variant.family.origin or variant.name!r}"
    if not isinstance(out, tuple | list) or len(out) != len(cell.state):
        names = ", ".join(s.name for s in cell.state)
        got = f"{len(out)} value(s)" if isinstance(out, tuple | list) else type(out).__name__
        raise CellError(f"{where}: step returned {got}; it must return the state ({names}) "
                        "as a tuple")
    for s, t in zip(cell.state, out):
        shape = (batch, s.width * hidden_size)
        if tuple(getattr(t, "shape", ())) != shape:
            raise CellError(f"{where}: step returned state {s.name!r} of shape "
                            f"{tuple(getattr(t, 'shape', ()))}, expected {shape} (B, "
                            f"{s.width}·N)")
        if finite and not bool(t.isfinite().all()):
            raise CellError(f"{where}: step returned NaN or inf in state {s.name!r} on the "
                            "first step of the first batch; check its equations and its "
                            "parameters' initialisation")
