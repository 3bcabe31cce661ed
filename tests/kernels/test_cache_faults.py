"""The kernel cache survives faults: a process killed while it holds the build lock, a killed
build's leftovers, a truncated or corrupt library, SIGTERM/SIGINT during a build.

Loads of a cache copied to a temporary directory run in child processes (a library must not be
imported twice into one process, and a bad one could crash it); a test that compiles the
kernels (about 1-2 minutes) is marked slow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from lstm_odyssey.kernels import build

COMMAND = str(Path(sys.executable).with_name("lstm-odyssey"))
LOAD = ("from lstm_odyssey.kernels import build; m = build.load(); "
        "print('loaded', m.forward.__name__)")
BUILD_S = 900  # a full build, on a busy machine


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "LSTM_ODYSSEY_KERNEL_CACHE": str(cache)}


def _load_in_child(cache: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "always", "-c", LOAD], env=_env(cache),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def cached(tmp_path, monkeypatch) -> build.BuildPlan:
    """A kernel cache under ``tmp_path`` holding a copy of this machine's verified build (it
    is built in the usual cache first, if needed); returns its plan."""
    build.load()
    source = build.plan()
    assert build.cache_state(source) == build.CacheState.VERIFIED
    monkeypatch.setenv("LSTM_ODYSSEY_KERNEL_CACHE", str(tmp_path / "cache"))
    p = build.plan()
    p.directory.mkdir(parents=True)
    shutil.copy2(source.library, p.library)
    shutil.copy2(source.marker, p.marker)
    return p


def test_the_cache_state_tells_verified_damaged_unverified_and_missing(cached) -> None:
    p = cached
    assert build.cache_state(p) == build.CacheState.VERIFIED
    data = p.library.read_bytes()
    p.library.write_bytes(data[:5000])  # truncated
    assert build.cache_state(p) == build.CacheState.DAMAGED
    p.library.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit flipped
    assert build.cache_state(p) == build.CacheState.DAMAGED
    p.library.write_bytes(b"")
    assert build.cache_state(p) == build.CacheState.DAMAGED
    p.marker.unlink()
    assert build.cache_state(p) == build.CacheState.UNVERIFIED
    p.library.unlink()
    assert build.cache_state(p) == build.CacheState.MISSING


def test_a_truncated_library_crashes_only_the_child_that_checks_it(cached) -> None:
    p = cached
    p.library.write_bytes(p.library.read_bytes()[:5000])
    p.marker.unlink()
    why = build._verify_in_child(p)
    assert why is not None and "SIGBUS" in why  # and this process is still here
    p.library.write_bytes(b"")
    assert "too short" in (build._verify_in_child(p) or "")


def test_a_library_without_a_marker_is_checked_once_then_trusted(cached) -> None:
    cached.marker.unlink()
    first = _load_in_child(cached.directory.parent)
    assert first.returncode == 0 and "loaded forward" in first.stdout, first.stderr
    assert build.cache_state(cached) == build.CacheState.VERIFIED  # the marker is back


def test_a_killed_builds_lock_file_is_removed_with_a_warning(cached) -> None:
    """What torch's build leaves behind when it is killed: its ``lock`` file."""
    (cached.directory / "lock").touch()
    (cached.directory / ".build-abc").mkdir()  # a killed build's temporary directory
    result = _load_in_child(cached.directory.parent)
    assert result.returncode == 0 and "loaded forward" in result.stdout, result.stderr
    assert "removed the build lock" in result.stderr
    assert not (cached.directory / "lock").exists()
    assert not (cached.directory / ".build-abc").exists()
    assert build.clean() == [cached.directory] and not cached.directory.exists()


def test_kill_9_while_holding_the_build_lock_then_the_next_load_works(cached) -> None:
    hold = ("import time; from lstm_odyssey.kernels import build; p = build.plan(); "
            "build._holding(p.directory / 'odyssey.lock').__enter__(); "
            "(p.directory / 'lock').touch(); print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen(
        [sys.executable, "-c", hold],
        env=_env(cached.directory.parent), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid} " in (cached.directory / "odyssey.lock").read_text()
    finally:
        holder.kill()  # SIGKILL while it holds the lock
        holder.wait()
    t0 = time.monotonic()
    result = _load_in_child(cached.directory.parent, timeout=60)
    assert result.returncode == 0 and "loaded forward" in result.stdout, result.stderr
    assert time.monotonic() - t0 < 60


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _wait_for_compilers(proc: subprocess.Popen, timeout: float = 300) -> list[psutil.Process]:
    """The process tree of ``proc`` once a compiler (cc1plus) runs in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        family = _descendants(proc.pid)
        names = set()
        for member in family:
            try:
                names.add(member.name())
            except psutil.NoSuchProcess:
                pass
        if "cc1plus" in names or "clang" in names:
            return family
        time.sleep(0.2)
    raise AssertionError("no compiler started")


def _leftovers(cache: Path) -> list[Path]:
    return [q for q in cache.rglob("*") if q.name == "lock" or q.name.startswith(".build-")]


@pytest.mark.slow
@pytest.mark.parametrize("sig,rc", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_sigterm_or_sigint_of_build_kernels_ends_the_compilers_and_leaves_no_lock(
        tmp_path, sig, rc) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.Popen([COMMAND, "build-kernels"], env=_env(cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    family = _wait_for_compilers(proc)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == rc
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []  # no orphaned ninja or compiler
    assert _leftovers(cache) == []


@pytest.mark.slow
def test_kill_9_during_a_build_ends_it_and_the_next_load_builds(tmp_path) -> None:
    """The fault as it happens: a load is killed (SIGKILL) while it builds and holds the lock;
    its compilers end, and the next load builds and loads."""
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", LOAD], env=_env(cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    family = _wait_for_compilers(proc)
    proc.kill()
    proc.wait()
    _, alive = psutil.wait_procs(family, timeout=20)
    assert alive == []
    result = _load_in_child(cache, timeout=BUILD_S)
    assert result.returncode == 0 and "loaded forward" in result.stdout, result.stderr
    assert _leftovers(cache) == []


@pytest.mark.slow
def test_a_truncated_library_is_rebuilt_not_mapped(cached) -> None:
    """A 5,000-byte library in the cache crashed every process that loaded it (SIGBUS)."""
    cached.library.write_bytes(cached.library.read_bytes()[:5000])
    result = subprocess.run([COMMAND, "build-kernels"], env=_env(cached.directory.parent),
                            capture_output=True, text=True, timeout=BUILD_S, check=False)
    assert result.returncode == 0, result.stderr
    assert "damaged" in result.stderr and "rebuilding" in result.stderr
    assert "built in" in result.stdout
    assert build.cache_state(cached) == build.CacheState.VERIFIED
    assert cached.library.stat().st_size > 5000
