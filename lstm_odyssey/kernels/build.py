"""Build, cache and load the C++ CPU extension: the LSTM and GRU backends (``csrc/lstm_cpu.cpp``,
``csrc/gru_cpu.cpp``), the CTC loss (``csrc/ctc_cpu.cpp``), the training step of one sequence
(``csrc/network_cpu.cpp``) and the optimiser's update (``csrc/optim_cpu.cpp``), one module.

The extension is compiled with :func:`torch.utils.cpp_extension.load` on first use. The build
directory is named after a hash of the sources, the compiler flags, the torch and Python versions,
so an edited source or a different machine class never loads a stale binary; the source path
and the compiler are hashed too, so two checkouts never share (and rebuild) one directory.
Flags: ``-O3``, no ``-ffast-math`` (exp/tanh must match the reference), no ``-march=native``:
the kernel targets the ATen vector capability torch detects on the CPU that loads it (AVX512 or
AVX2 ``Vectorized`` with SLEEF exp/tanh, else ATen's portable vector code), and that capability
is part of the hash.

What survives what:

* **Concurrency and kills.** A process holds an ``flock`` on ``odyssey.lock`` in the build
  directory while it checks, builds or installs (the holder's pid and host are written in it,
  for people). The kernel releases an ``flock`` when its process dies, however it dies, so a
  ``kill -9`` leaves no lock that anyone waits on. The lock file torch's own build keeps
  (``lock``, a ``FileBaton``) is left behind by a killed build; under the ``flock`` no live
  process of ours can hold it, so it is removed with a warning.
* **Atomic install.** A build compiles in a fresh temporary directory, in a child process of
  its own process group that also imports the result (a bad library crashes the child, not the
  caller); the library is then renamed into place (``os.replace``: a process that already
  mapped the old file keeps it) and a marker ``<name>.verified`` records its size and SHA-256.
* **A damaged cache.** A library whose size or SHA-256 differs from its marker (truncated,
  overwritten) is rebuilt, never mapped; one without a marker (built by an older version) is
  imported once in a child process first. A cached, verified library costs a ``stat`` and a
  hash (under a millisecond for the ~1 MB library), no child process.
* **SIGTERM / SIGINT during a build** end the compiler processes (ninja puts each compile in a
  process group of its own, so they are ended one by one) and remove the temporary directory;
  then the signal takes its usual course (the caller's handler, or the default action). A
  builder whose parent was killed with SIGKILL ends its own process group.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psutil
import torch

from ..errors import EnvironmentFault, UserError

CSRC = Path(__file__).parent / "csrc"
SOURCES = ("lstm_cpu.cpp", "gru_cpu.cpp", "ctc_cpu.cpp", "network_cpu.cpp", "optim_cpu.cpp")
HEADERS = ("odyssey.h", "recurrent_product.h")  # hashed with the sources, not compiled alone
ENTRY_POINTS = ("forward", "backward", "gru_forward", "gru_backward", "ctc_forward",
                "network_step", "gru_network_step", "nesterov_lookahead",
                "nesterov_descent")  # what a loadable build must define
_PREFIX = "lstm_odyssey_cpu_"
_TMP_PREFIX = ".build-"   # temporary build directories inside a build directory
_END_GRACE_S = 5.0        # how long ended compiler processes get before SIGKILL
_loaded: ModuleType | None = None


class KernelBuildError(EnvironmentFault, UserError, RuntimeError):
    """The C++ kernels cannot be built or loaded here (no compiler, the compiler failed, the
    built library does not load)."""


class StaleBuildLockError(KernelBuildError):
    """A killed build left a lock file behind that cannot be removed."""


class KernelCacheWarning(UserWarning):
    """The kernel cache was repaired: a stale lock removed, a damaged build rebuilt."""


class _Signalled(BaseException):
    """SIGTERM or SIGINT arrived during a build (re-delivered once the build is cleaned up)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class CacheState(enum.Enum):
    """What the cache holds for a build directory."""

    VERIFIED = "verified"      # the library matches the marker of its verified build
    UNVERIFIED = "unverified"  # a library without a marker: import it in a child first
    DAMAGED = "damaged"        # the library differs from its marker: rebuild
    MISSING = "missing"        # no library


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

    @property
    def marker(self) -> Path:
        """Size and SHA-256 of the library, written after it was verified to load."""
        return self.directory / f"{self.name}.verified"

    @property
    def log(self) -> Path:
        """The compiler output of the last failed build."""
        return self.directory / "build.log"


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
    """Build the extension if its cached build is missing or damaged, load it and return the
    module (once per process).

    Raises :class:`KernelBuildError` if it cannot be built or loaded here.
    """
    global _loaded
    if _loaded is None:
        _loaded, _ = _load(verbose)
    return _loaded


def _load(verbose: bool) -> tuple[ModuleType, bool]:
    """The module, and whether this call had to build it."""
    if shutil.which(_compiler()) is None:
        raise KernelBuildError(
            f"no C++ compiler ({_compiler()!r}) found for the cpu kernels; install g++ or clang "
            "(or set CXX), or use backend='reference'"
        )
    p = plan()
    try:
        p.directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise KernelBuildError(f"cannot create the kernel cache {p.directory} ({e}); set "
                               "LSTM_ODYSSEY_KERNEL_CACHE to a writable directory") from e
    with _holding(p.directory / "odyssey.lock"):
        _remove_leftovers(p)
        state = cache_state(p)
        if state == CacheState.UNVERIFIED:
            why = _verify_in_child(p)
            if why is None:
                _write_marker(p)
                state = CacheState.VERIFIED
            else:
                _warn(f"the cached cpu kernels {p.library} do not load ({why}); rebuilding them")
        elif state == CacheState.DAMAGED:
            _warn(f"the cached cpu kernels {p.library} are damaged (they differ from the build "
                  "that was verified); rebuilding them")
        built = state != CacheState.VERIFIED
        if built:
            with _ending_children_on_signals():
                _build(p, verbose)
        return _import(p), built


@contextlib.contextmanager
def _holding(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (released by the kernel if this process dies),
    with this process's pid and host written in it."""
    with open(path, "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            guard.truncate(0)
            guard.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
            guard.flush()
            yield
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


def _warn(message: str) -> None:
    warnings.warn(f"lstm_odyssey: {message}", KernelCacheWarning, stacklevel=4)


def _remove_leftovers(p: BuildPlan) -> None:
    """Under the build lock: torch's ``lock`` file and the temporary directories of killed
    builds (no live process of ours can be using them while we hold the lock)."""
    stale = p.directory / "lock"
    if stale.exists():
        try:
            stale.unlink()
        except OSError as e:
            raise StaleBuildLockError(
                f"stale build lock {stale} left by a killed build cannot be removed ({e}); "
                "delete it or run `lstm-odyssey build-kernels --clean`") from e
        _warn(f"removed the build lock {stale} left by a killed build")
    for tmp in p.directory.glob(_TMP_PREFIX + "*"):
        shutil.rmtree(tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_state(p: BuildPlan) -> CacheState:
    """What the cache holds for ``p`` (see :class:`CacheState`); reads the library only when
    its size matches the marker."""
    try:
        size = p.library.stat().st_size
    except FileNotFoundError:
        return CacheState.MISSING
    try:
        marker = json.loads(p.marker.read_text())
        want_size, want_sha = int(marker["size"]), str(marker["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return CacheState.UNVERIFIED
    if size != want_size or _sha256(p.library) != want_sha:
        return CacheState.DAMAGED
    return CacheState.VERIFIED


def _write_marker(p: BuildPlan) -> None:
    """Record the installed library's size and SHA-256 (written atomically)."""
    body = json.dumps({"size": p.library.stat().st_size, "sha256": _sha256(p.library)})
    tmp = p.marker.with_name(p.marker.name + f".{os.getpid()}")
    tmp.write_text(body + "\n")
    os.replace(tmp, p.marker)


# A child that imports a built library and checks its entry points: argv = name, path, *names.
_VERIFY = """
import importlib.util, sys
import torch  # the extension needs libtorch loaded
name, path, *entry_points = sys.argv[1:]
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
missing = [f for f in entry_points if not hasattr(module, f)]
if missing:
    sys.exit("the library lacks " + ", ".join(missing))
"""

# A child that builds (and, as cpp_extension.load does, imports) the extension: argv = JSON of
# load()'s arguments, then the entry points. It leads its own process group; if its parent dies
# (SIGKILL) it sends the group SIGTERM, on which ninja ends the compiles it started in process
# groups of their own, so no compiler outlives the build that started it.
_BUILD = """
import json, os, signal, sys, threading, time
args = json.loads(sys.argv[1])
parent = os.getppid()

def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(0, signal.SIGTERM)

threading.Thread(target=watch, daemon=True).start()
from torch.utils import cpp_extension
module = cpp_extension.load(**args)
missing = [f for f in sys.argv[2:] if not hasattr(module, f)]
if missing:
    sys.exit("the library lacks " + ", ".join(missing))
"""


def _how(rc: int) -> str:
    return f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"


def _verify_in_child(p: BuildPlan) -> str | None:
    """Import the cached library in a child process; None if it loads, else why not (a
    truncated library kills the child with SIGBUS)."""
    proc = _run_child([sys.executable, "-c", _VERIFY, p.name, str(p.library), *ENTRY_POINTS],
                      capture=True)
    if proc.returncode == 0:
        return None
    last = _last_line(proc.stdout)
    return _how(proc.returncode) + (f": {last}" if last else "")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or [""])[-1][:300]


@dataclass
class _Child:
    """A child process and its output."""

    returncode: int
    stdout: str


def _run_child(argv: list[str], capture: bool, cwd: Path | None = None) -> _Child:
    """Run ``argv`` as the leader of a new process group; its output is captured (or shown,
    ``capture=False``). An exception while it runs (the signal handlers of
    :func:`_ending_children_on_signals`, Ctrl-C) ends it and its descendants."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out if capture else None,
                                stderr=subprocess.STDOUT if capture else None,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait()
        except BaseException:
            _end(proc)
            raise
        out.seek(0)
        return _Child(rc, out.read())


def _end(proc: subprocess.Popen) -> None:
    """End ``proc``, its process group and every descendant (ninja gives each compile a
    process group of its own): SIGTERM, then SIGKILL after :data:`_END_GRACE_S`."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=_END_GRACE_S)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def _ending_children_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT (where not ignored) raise :class:`_Signalled`,
    which ends the build's children (:func:`_run_child`) and unwinds the build; then the
    previous handlers are restored and the signal is delivered again, to take its usual
    course. Signal handlers can only be set in the main thread; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Signalled(signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(sig)
        if current not in (signal.SIG_IGN, None):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    except _Signalled as s:
        for sig, h in previous.items():
            signal.signal(sig, h)
        previous.clear()
        signal.raise_signal(s.signum)  # the caller's handler runs (or the process ends) here
        raise KernelBuildError(f"the kernel build was stopped by {s}") from None
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _build(p: BuildPlan, verbose: bool) -> None:
    """Compile in a fresh temporary directory (in a child process that also imports the
    result), then install the library with ``os.replace`` and write its marker."""
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=p.directory))
    try:
        args = {"name": p.name, "sources": [str(CSRC / s) for s in SOURCES],
                "extra_cflags": list(p.flags), "build_directory": str(tmp), "verbose": verbose}
        child = _run_child([sys.executable, "-c", _BUILD, json.dumps(args), *ENTRY_POINTS],
                           capture=not verbose, cwd=tmp)
        built = tmp / p.library.name
        if child.returncode != 0 or not built.is_file():
            where = "see the output above"
            if not verbose:
                p.log.write_text(child.stdout)
                where = f"the compiler output is in {p.log}"
            last = _last_line(child.stdout)
            raise KernelBuildError(
                f"building the cpu kernels in {p.directory} failed ({_how(child.returncode)}"
                + (f": {last}" if last else "") + f"); {where}; fix the C++ toolchain (or set "
                "CXX), or use backend='reference'")
        os.replace(built, p.library)
        _write_marker(p)
        p.log.unlink(missing_ok=True)
    except OSError as e:
        raise KernelBuildError(f"installing the cpu kernels in {p.directory} failed ({e}); "
                               "free disk space or set LSTM_ODYSSEY_KERNEL_CACHE to a writable "
                               "directory") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _import(p: BuildPlan) -> ModuleType:
    """Import the installed, verified library into this process."""
    try:
        spec = importlib.util.spec_from_file_location(p.name, p.library)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError as e:
        raise KernelBuildError(f"the cpu kernels {p.library} do not load ({e}); run "
                               "`lstm-odyssey build-kernels --clean`, or use "
                               "backend='reference'") from e
    return module


def build_now(verbose: bool = False) -> tuple[BuildPlan, bool, float]:
    """Build (or find cached) and load the extension ahead of time; returns the plan, whether
    a verified build was already cached, and the seconds it took."""
    global _loaded
    p = plan()
    t0 = time.perf_counter()
    if _loaded is not None:
        return p, True, time.perf_counter() - t0
    _loaded, built = _load(verbose)
    return p, not built, time.perf_counter() - t0


def clean() -> list[Path]:
    """Delete every cached build (all versions); returns the directories removed."""
    root = cache_root()
    removed = sorted(root.glob(_PREFIX + "*")) if root.is_dir() else []
    for d in removed:
        shutil.rmtree(d)
    return removed
