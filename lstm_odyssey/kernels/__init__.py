"""One LSTM op per sequence and direction, behind interchangeable backends.

Every backend computes :func:`lstm_sequence` with the same signature and the same semantics as
:func:`lstm_odyssey.kernels.reference.lstm_sequence` (the oracle); the layout of ``W R b p Rg``
is described in :mod:`lstm_odyssey.variants`.
"""

from __future__ import annotations

from torch import Tensor

from ..errors import UserError
from ..variants import CellSpec
from . import reference

BACKENDS = ("auto", "reference")


class BackendError(UserError, ValueError):
    """An unknown backend, or one that cannot run here."""


def resolve_backend(name: str, device_type: str = "cpu") -> str:
    """The concrete backend that ``name`` means for tensors on ``device_type``."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "reference"
    return name


def lstm_sequence(
    spec: CellSpec,
    x: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    p: Tensor | None,
    Rg: Tensor | None,
    h0: Tensor,
    c0: Tensor,
    lengths: Tensor | None = None,
    backend: str = "auto",
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one direction of one layer over ``x`` (T, B, M); returns ``(y, h_n, c_n)``."""
    resolve_backend(backend, x.device.type)
    return reference.lstm_sequence(spec, x, W, R, b, p, Rg, h0, c0, lengths)
