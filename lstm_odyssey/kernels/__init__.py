"""One LSTM op per sequence and direction, behind interchangeable backends.

Every backend computes :func:`lstm_sequence` with the same signature and the same semantics as
:func:`lstm_odyssey.kernels.reference.lstm_sequence` (the oracle); the layout of ``W R b p Rg``
is described in :mod:`lstm_odyssey.variants`.

Backends: ``reference`` (plain autograd, any device), ``cpu`` (C++, built on first use, see
:mod:`.build`), ``triton`` (CUDA; on CPU only under ``TRITON_INTERPRET=1``, for tests) and
``auto``: ``cpu`` for CPU tensors, ``triton`` for CUDA tensors when triton is importable, and
``reference`` otherwise — with one warning if the C++ kernels cannot be built.

:func:`ctc_loss` is ``torch.nn.functional.ctc_loss`` computed by the same C++ extension
(:mod:`.ctc`) where it runs (CPU tensors, extension built), else by torch.

:mod:`.network` is the training step of one sequence through the paper's network (forward, loss
and every gradient of LSTM + linear output + loss) in one call of the same extension.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings

import torch.nn.functional as F
from torch import Tensor

from ..errors import EnvironmentFault, UserError
from ..variants import BACKENDS, CellSpec
from . import build, cpu, ctc, reference


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
    if _cpu_failed is not None or shutil.which(build._compiler()) is None:
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


def resolve_backend(name: str, device_type: str = "cpu") -> str:
    """The concrete backend that ``name`` means for tensors on ``device_type`` (for ``auto`` on
    CPU this builds the C++ kernels if needed, so the answer is the backend that will run)."""
    check_backend_name(name)
    if name == "auto":
        if device_type == "cpu":
            if _cpu_loads():
                return "cpu"
            _fall_back(_cpu_failed or "no C++ compiler found; install g++ or set CXX")
            return "reference"
        return "triton" if device_type == "cuda" and _triton_importable() else "reference"
    if name == "cpu" and device_type != "cpu":
        raise BackendError(
            f"backend 'cpu' runs on CPU tensors, not {device_type}; use 'auto' or 'triton'"
        )
    if name == "triton" and not _triton_runs_on(device_type):
        raise BackendUnavailable(
            "backend 'triton' needs CUDA tensors and an installed triton (on CPU only under "
            "TRITON_INTERPRET=1); use 'auto', 'cpu' or 'reference'"
        )
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
    name = resolve_backend(backend, x.device.type)
    args = (spec, x, W, R, b, p, Rg, h0, c0, lengths)
    if name == "cpu":
        return cpu.lstm_sequence(*args)
    if name == "triton":
        from . import triton_backend

        return triton_backend.lstm_sequence(*args)
    return reference.lstm_sequence(*args)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor, target_lengths: Tensor,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """``torch.nn.functional.ctc_loss``: the C++ one (:mod:`.ctc`) on CPU tensors when the
    extension loads, torch's otherwise (other devices, no compiler)."""
    fn = ctc.ctc_loss if log_probs.device.type == "cpu" and _cpu_loads() else F.ctc_loss
    return fn(log_probs, targets, input_lengths, target_lengths, blank=blank,
              reduction=reduction, zero_infinity=zero_infinity)
