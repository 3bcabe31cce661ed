"""One recurrent op per sequence, layer and direction, behind interchangeable backends.

Every backend computes :func:`lstm_sequence` with the same signature and the same semantics as
:func:`lstm_odyssey.kernels.reference.lstm_sequence` (the oracle); the layout of ``W R b p Rg``
is described in :mod:`lstm_odyssey.variants`.

Backends: ``reference`` (plain autograd, any device, every family), ``cpu`` (C++, built on
first use, see :mod:`.build`; the LSTM and the GRU), ``triton`` (CUDA, the LSTM; on CPU only
under ``TRITON_INTERPRET=1``, for tests) and ``auto``: the first of ``cpu`` for CPU tensors and
``triton`` for CUDA tensors (when triton is importable) that computes the variant, else
``reference`` — with one warning if the C++ kernels cannot be built. Which backend computes
which family (and which of its variants) is one table, :data:`BACKEND_TABLE`, that
:func:`backend_for` reads: the LSTM runs on all three, the GRU (``gru`` and ``gru+lbr``) on
``cpu`` (:mod:`.gru_cpu`) and ``reference``, the other families (:mod:`lstm_odyssey.families`)
on the reference backend, their step under autograd. Every family but the LSTM goes through
:func:`family_sequence`.

The ``cpu`` backend's ops are PyTorch custom operators (:mod:`.ops`), so that a model using them
compiles with ``torch.compile(..., fullgraph=True)`` and exports with ``torch.export``; while
tracing, ``auto`` chooses ``cpu`` for CPU tensors without building the kernels (the traced
graph's first run builds them).

:func:`ctc_loss` is ``torch.nn.functional.ctc_loss`` computed by the same C++ extension
(:mod:`.ctc`) where it runs (CPU tensors, extension built), else by torch.

:mod:`.network` is the training step of one sequence through the paper's network (forward, loss
and every gradient of an LSTM or GRU layer + linear output + loss) in one call of the same
extension.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import EnvironmentFault, UserError
from ..families import Variant, parse_variant
from ..variants import BACKENDS, CellSpec
from . import build, cpu, ctc, gru_cpu, reference


class BackendError(UserError, ValueError):
    """An unknown backend, or one that cannot compute these tensors."""


class BackendUnavailable(BackendError, EnvironmentFault):
    """A backend that this machine cannot run (no CUDA, no triton): a fault of the machine,
    not of the trial that asked for it."""


class KernelFallbackWarning(UserWarning):
    """``auto`` uses the slow reference backend because the fast one is unavailable."""


_cpu_failed: str | None = None  # why the C++ build failed in this process, if it did


def _triton_importable() -> bool:
    return importlib.util.find_spec("triton") is not None


def _triton_runs_on(device_type: str) -> bool:
    if device_type == "cuda":
        return _triton_importable()
    return os.environ.get("TRITON_INTERPRET") == "1" and _triton_importable()


def _fall_back(reason: str) -> None:
    global _cpu_failed
    if _cpu_failed is None:
        _cpu_failed = reason
        warnings.warn(
            f"lstm_odyssey: the fused cpu kernels are unavailable ({reason}); backend='auto' "
            "falls back to the reference backend, which is much slower (about 15-25x at "
            "batch size 1)",
            KernelFallbackWarning,
            stacklevel=4,
        )


def _cpu_loads() -> bool:
    """The C++ backend is built (now, if needed) and loads; a failed build is remembered and
    warned about once, so ``auto`` never retries it in this process."""
    if build._loaded is not None:  # the per-call answer once loaded: no PATH lookup
        return True
    if _cpu_failed is not None:
        return False
    if torch.compiler.is_compiling():  # tracing cannot build: the graph's first run builds
        return True
    if shutil.which(build._compiler()) is None:
        return False
    try:
        build.load()
    except build.KernelBuildError as e:
        _fall_back(str(e))
        return False
    return True


def available_backends(device_type: str = "cpu") -> tuple[str, ...]:
    """The concrete backends that run on tensors of ``device_type`` here (builds the C++
    kernels if needed, to know whether they work)."""
    names = ["reference"]
    if device_type == "cpu" and _cpu_loads():
        names.append("cpu")
    if _triton_runs_on(device_type):
        names.append("triton")
    return tuple(names)


def check_backend_name(name: str) -> None:
    """Reject names that are no backend at all (whether it runs depends on the tensors)."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")


# -- the backend table ---------------------------------------------------------------------------

def _every(spec: object) -> bool:
    return True


@dataclass(frozen=True)
class Computes:
    """What a backend computes of one family: its op and which of the family's variants.

    The LSTM's op has the signature of :func:`lstm_sequence` (without ``backend``), every other
    family's that of :func:`family_sequence`."""

    sequence: Callable[..., tuple]
    variants: Callable[[object], bool] = _every


@dataclass(frozen=True)
class Backend:
    """One row of :data:`BACKEND_TABLE`.

    ``families``: family name → what it computes of it; ``any_family``: what it computes of
    every other family (the reference: the family's own step under autograd). ``auto_on``: the
    device types ``auto`` chooses it for (None: any), in table order; ``accepts``: the device
    types it takes when named; ``loads``: whether it runs here (``auto`` passes over it
    otherwise, calling ``on_auto_skip``); ``refusal``: the error when named for tensors it
    cannot take."""

    name: str
    families: Mapping[str, Computes]
    accepts: Callable[[str], bool]
    refusal: Callable[[str], BackendError]
    auto_on: frozenset[str] | None = None
    loads: Callable[[str], bool] | None = None
    on_auto_skip: Callable[[], None] | None = None
    any_family: Computes | None = None

    def computes(self, variant: Variant) -> Computes | None:
        op = self.families.get(variant.family.name, self.any_family)
        return op if op is not None and op.variants(variant.spec) else None


def _triton_lstm(*args):
    from . import triton_backend  # imports triton: only when it runs

    return triton_backend.lstm_sequence(*args)


def _cpu_refusal(device_type: str) -> BackendError:
    return BackendError(
        f"backend 'cpu' runs on CPU tensors, not {device_type}; use 'auto' or 'triton'")


def _triton_refusal(device_type: str) -> BackendError:
    return BackendUnavailable(
        "backend 'triton' needs CUDA tensors and an installed triton (on CPU only under "
        "TRITON_INTERPRET=1); use 'auto', 'cpu' or 'reference'")


# The one answer to "which backend computes this variant": in order of preference for 'auto'.
BACKEND_TABLE: tuple[Backend, ...] = (
    Backend("cpu", {"lstm": Computes(cpu.lstm_sequence), "gru": Computes(gru_cpu.gru_sequence)},
            accepts=lambda d: d == "cpu", refusal=_cpu_refusal, auto_on=frozenset({"cpu"}),
            loads=lambda d: _cpu_loads(),
            on_auto_skip=lambda: _fall_back(_cpu_failed
                                            or "no C++ compiler found; install g++ or set CXX")),
    Backend("triton", {"lstm": Computes(_triton_lstm)}, accepts=_triton_runs_on,
            refusal=_triton_refusal, auto_on=frozenset({"cuda"})),
    Backend("reference", {"lstm": Computes(reference.lstm_sequence)}, accepts=lambda d: True,
            refusal=lambda d: BackendError(f"backend 'reference' cannot take {d} tensors"),
            any_family=Computes(reference.family_sequence)),
)
_BY_NAME = {b.name: b for b in BACKEND_TABLE}
assert set(_BY_NAME) == set(BACKENDS) - {"auto"}, "variants.BACKENDS names the table's rows"


def backend_for(name: str, device_type: str = "cpu",
                variant: str | CellSpec | Variant | None = None) -> tuple[Backend, Computes]:
    """The backend (and its op) that ``name`` means for ``variant`` (default: the vanilla
    LSTM) on tensors of ``device_type``: the named one, or for ``auto`` the first row of
    :data:`BACKEND_TABLE` that computes the variant, is chosen for the device and runs here
    (for the LSTM on CPU this builds the C++ kernels if needed, so the answer is the backend
    that will run)."""
    check_backend_name(name)
    v = parse_variant(variant if variant is not None else _VANILLA)
    if name == "auto":
        for row in BACKEND_TABLE:
            op = row.computes(v)
            if op is None or (row.auto_on is not None and device_type not in row.auto_on):
                continue
            if (row.loads or row.accepts)(device_type):
                return row, op
            if row.on_auto_skip is not None:
                row.on_auto_skip()
        raise BackendError(f"no backend computes {v.name} on {device_type} tensors")
    row = _BY_NAME[name]
    op = row.computes(v)
    if op is None:
        raise BackendError(
            f"backend {name!r} does not compute the {v.family.name} family ({v.name}); it "
            f"computes {', '.join(row.families)}; use 'auto' or 'reference'")
    if not row.accepts(device_type):
        raise row.refusal(device_type)
    return row, op


_VANILLA = CellSpec()


def resolve_backend(name: str, device_type: str = "cpu",
                    variant: str | CellSpec | Variant | None = None) -> str:
    """The name of the concrete backend that ``name`` means for ``variant`` (default: the
    LSTM) on ``device_type`` (:func:`backend_for`)."""
    return backend_for(name, device_type, variant)[0].name


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
    _, op = backend_for(backend, x.device.type, spec)
    return op.sequence(spec, x, W, R, b, p, Rg, h0, c0, lengths)


def family_sequence(
    variant: Variant,
    x: Tensor,
    params: dict[str, Tensor],
    state0: tuple[Tensor, ...],
    lengths: Tensor | None = None,
    backend: str = "auto",
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one direction of one layer of any family but the LSTM over ``x`` (T, B, M) from
    ``state0``; returns ``(y, state_n)`` (:func:`.reference.family_sequence`)."""
    _, op = backend_for(backend, x.device.type, variant)
    return op.sequence(variant, x, params, state0, lengths)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor, target_lengths: Tensor,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """``torch.nn.functional.ctc_loss``: the C++ one (:mod:`.ctc`) on CPU tensors when the
    extension loads, torch's otherwise (other devices, no compiler)."""
    fn = ctc.ctc_loss if log_probs.device.type == "cpu" and _cpu_loads() else F.ctc_loss
    return fn(log_probs, targets, input_lengths, target_lengths, blank=blank,
              reduction=reduction, zero_infinity=zero_infinity)
