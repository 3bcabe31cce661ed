"""Backend selection, the fallback warning and the build cache key (the cache's faults:
test_cache_faults.py)."""

from __future__ import annotations

import warnings

import pytest
import torch

from lstm_odyssey import kernels
from lstm_odyssey.errors import UserError
from lstm_odyssey.kernels import build
from lstm_odyssey.variants import CellSpec

from .helpers import make_inputs


def test_unknown_and_misplaced_backends_are_user_errors():
    with pytest.raises(kernels.BackendError, match="unknown backend 'fast'"):
        kernels.resolve_backend("fast")
    with pytest.raises(UserError, match="runs on CPU tensors"):
        kernels.resolve_backend("cpu", "cuda")
    assert kernels.resolve_backend("auto", "meta") == "reference"


def test_auto_dispatches_to_cpu_and_agrees_with_reference():
    if "cpu" not in kernels.available_backends("cpu"):
        pytest.skip("the C++ kernels cannot be built here")
    assert kernels.resolve_backend("auto", "cpu") == "cpu"
    spec = CellSpec.parse("NOAF")
    inputs = make_inputs(spec, 4, 2, 3, 4)
    a = kernels.lstm_sequence(spec, *inputs, None, backend="auto")
    b = kernels.lstm_sequence(spec, *inputs, None, backend="reference")
    assert all(torch.allclose(u, v) for u, v in zip(a, b))


def test_auto_falls_back_with_one_warning_without_a_compiler(monkeypatch):
    monkeypatch.setattr(kernels, "_cpu_failed", None)
    monkeypatch.setattr(build, "_loaded", None)  # nothing built in this process
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.warns(kernels.KernelFallbackWarning, match="falls back to the reference"):
        assert kernels.resolve_backend("auto", "cpu") == "reference"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernels.resolve_backend("auto", "cpu") == "reference"
        spec = CellSpec.parse("V")
        y, _, _ = kernels.lstm_sequence(spec, *make_inputs(spec, 3, 2, 2, 3), None)
    assert y.shape == (3, 2, 3)


def test_auto_resolves_to_what_runs_when_the_build_fails(monkeypatch):
    """A compiler that fails: ``resolve_backend('auto')`` (what a training record reports)
    already says ``reference``, before any sequence has run."""
    monkeypatch.setattr(kernels, "_cpu_failed", None)
    monkeypatch.setattr(build, "_loaded", None)

    def failing_load(verbose=False):
        raise build.KernelBuildError("compiler exploded")

    monkeypatch.setattr(build, "load", failing_load)
    with pytest.warns(kernels.KernelFallbackWarning, match="compiler exploded"):
        assert kernels.resolve_backend("auto", "cpu") == "reference"
    assert "cpu" not in kernels.available_backends("cpu")


def test_missing_compiler_is_a_build_error(monkeypatch):
    monkeypatch.setattr(build, "_loaded", None)
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(build.KernelBuildError, match="no C\\+\\+ compiler"):
        build.load()


def test_build_directory_is_keyed_by_sources_and_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("LSTM_ODYSSEY_KERNEL_CACHE", str(tmp_path))
    p = build.plan()
    assert p.directory.parent == tmp_path and p.directory.name == p.name
    assert "-O3" in p.flags and "-ffast-math" not in p.flags
    assert not any(f.startswith("-march") for f in p.flags)
    monkeypatch.setattr(build, "compile_flags", lambda: (("-O2",), "DEFAULT"))
    assert build.plan().name != p.name
    monkeypatch.undo()
    monkeypatch.setenv("LSTM_ODYSSEY_KERNEL_CACHE", str(tmp_path))
    src = tmp_path / "csrc"
    src.mkdir()
    for name in build.SOURCES + build.HEADERS:
        (src / name).write_bytes((build.CSRC / name).read_bytes())
    (src / build.SOURCES[-1]).write_text("// edited\n")
    monkeypatch.setattr(build, "CSRC", src)
    assert build.plan().name != p.name
