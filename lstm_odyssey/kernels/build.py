"""Build, cache and load the C++ CPU extension: the LSTM backend (``csrc/lstm_cpu.cpp``), the
CTC loss (``csrc/ctc_cpu.cpp``), the training step of one sequence (``csrc/network_cpu.cpp``)
and the optimiser's update (``csrc/optim_cpu.cpp``), one module.

The extension is compiled with :func:`torch.utils.cpp_extension.load` on first use. The build
directory is named after a hash of the sources, the compiler flags, the torch and Python versions,
so an edited source or a different machine class never loads a stale binary; the source path
and the compiler are hashed too, so two checkouts never share (and rebuild) one directory.
Flags: ``-O3``, no ``-ffast-math`` (exp/tanh must match the reference), no ``-march=native``:
the kernel targets the ATen vector capability torch detects on the CPU that loads it (AVX512 or
AVX2 ``Vectorized`` with SLEEF exp/tanh, else ATen's portable vector code), and that capability
is part of the hash.

Concurrency: a process holds an ``flock`` on ``odyssey.lock`` in the build directory while it
builds, so parallel workers wait for one build instead of racing. The kernel lock torch keeps
(``lock``) is left behind when a build is killed, after which every later load would hang; as
no live process of ours can hold it while we hold the flock, its presence is reported as a
:class:`StaleBuildLockError` naming the fix.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from ..errors import UserError

CSRC = Path(__file__).parent / "csrc"
SOURCES = ("lstm_cpu.cpp", "ctc_cpu.cpp", "network_cpu.cpp", "optim_cpu.cpp")
HEADERS = ("odyssey.h",)  # hashed with the sources, not compiled on their own
_PREFIX = "lstm_odyssey_cpu_"
_loaded: ModuleType | None = None


class KernelBuildError(UserError, RuntimeError):
    """The C++ kernels cannot be built here (no compiler, or the compiler failed)."""


class StaleBuildLockError(UserError, RuntimeError):
    """A killed build left its lock file behind."""


@dataclass(frozen=True)
class BuildPlan:
    """What would be built: the module name, its directory and the compiler flags."""

    name: str
    directory: Path
    flags: tuple[str, ...]
    capability: str  # the ATen vector capability compiled for
    detected: str  # the capability torch detects on this CPU

    @property
    def library(self) -> Path:
        """The shared library the build produces."""
        return self.directory / f"{self.name}.so"


def cache_root() -> Path:
    """Where builds are cached: ``$LSTM_ODYSSEY_KERNEL_CACHE`` or ``~/.cache/lstm-odyssey``."""
    env = os.environ.get("LSTM_ODYSSEY_KERNEL_CACHE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lstm-odyssey" / "kernels"


def compile_flags() -> tuple[tuple[str, ...], str]:
    """Compiler flags for this CPU and the ATen vector capability they target (the same ISA
    extensions ATen's own kernels for that capability are compiled with)."""
    capability = torch.backends.cpu.get_cpu_capability()
    flags = ["-O3"]
    if capability == "AVX512":
        return (*flags, "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma",
                "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512"), "AVX512"
    if capability == "AVX2":
        return (*flags, "-mavx2", "-mfma", "-mf16c", "-DCPU_CAPABILITY=AVX2",
                "-DCPU_CAPABILITY_AVX2"), "AVX2"
    return (*flags, "-DCPU_CAPABILITY=DEFAULT"), "DEFAULT"


def plan() -> BuildPlan:
    """The build for this machine, named by a hash of sources, flags, versions and paths."""
    flags, capability = compile_flags()
    h = hashlib.sha256()
    for src in SOURCES + HEADERS:
        h.update((CSRC / src).read_bytes())
    # The source path and compiler are part of the compile command: two checkouts sharing one
    # directory would make ninja rebuild on every alternate load.
    key = (*flags, torch.__version__, platform.python_version(), str(CSRC.resolve()), _compiler())
    h.update("\0".join(key).encode())
    name = _PREFIX + h.hexdigest()[:16]
    detected = torch.backends.cpu.get_cpu_capability()
    return BuildPlan(name, cache_root() / name, flags, capability, detected)


def _compiler() -> str:
    return os.environ.get("CXX", "c++")


def load(verbose: bool = False) -> ModuleType:
    """Build the extension if its cached build is missing, load it and return the module.

    Raises :class:`KernelBuildError` if it cannot be built and :class:`StaleBuildLockError` if a
    killed build left its lock behind.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    if shutil.which(_compiler()) is None:
        raise KernelBuildError(
            f"no C++ compiler ({_compiler()!r}) found for the cpu kernels; install g++ or clang "
            "(or set CXX), or use backend='reference'"
        )
    p = plan()
    p.directory.mkdir(parents=True, exist_ok=True)
    from torch.utils import cpp_extension

    with open(p.directory / "odyssey.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        stale = p.directory / "lock"
        if stale.exists():
            raise StaleBuildLockError(
                f"stale build lock {stale} left by a killed build; delete it or run "
                "`lstm-odyssey build-kernels --clean`"
            )
        try:
            module = cpp_extension.load(
                name=p.name,
                sources=[str(CSRC / s) for s in SOURCES],
                extra_cflags=list(p.flags),
                build_directory=str(p.directory),
                verbose=verbose,
            )
        except (RuntimeError, OSError, subprocess.CalledProcessError, ImportError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise KernelBuildError(
                f"building the cpu kernels in {p.directory} failed ({first}); rerun "
                "`lstm-odyssey build-kernels --verbose` to see the compiler output, or use "
                "backend='reference'"
            ) from e
    _loaded = module
    return module


def build_now(verbose: bool = False) -> tuple[BuildPlan, bool, float]:
    """Build (or find cached) and load the extension ahead of time; returns the plan, whether
    the library was already cached, and the seconds it took."""
    p = plan()
    cached = p.library.exists()
    t0 = time.perf_counter()
    load(verbose=verbose)
    return p, cached, time.perf_counter() - t0


def clean() -> list[Path]:
    """Delete every cached build (all versions); returns the directories removed."""
    root = cache_root()
    removed = sorted(root.glob(_PREFIX + "*")) if root.is_dir() else []
    for d in removed:
        shutil.rmtree(d)
    return removed
