"""Kernel benchmark: every preset on every fast backend vs torch.nn.LSTM and the reference loop.

Method: one process, the same shapes and data for every candidate, a warm-up call,
then rounds in which each candidate runs once (interleaved, so that load from other processes
hits all candidates alike); the median over rounds is reported, with ratios to torch.nn.LSTM
(the vendor kernel, which computes the NP variant), to the reference autograd loop and to our
vanilla. Every time includes the input projection. "fwd+bwd" is a forward pass plus the
backward pass to all parameters (the input needs no gradient, as for a first layer); "fwd" runs
under ``torch.no_grad()``. On CUDA the clock is a pair of CUDA events around each call; on CPU
with one thread it is the benchmark thread's CPU time (``time.thread_time``: on a shared
machine, time spent descheduled is not the kernel's), else wall time. ``saved`` counts the bytes
autograd keeps for backward beyond the inputs and parameters; ``bound`` is the kernels' memory
target, ``(K + 2)·(T + 1)·B·N`` values.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
from torch import Tensor, nn

from ..errors import UserError
from ..variants import PRESETS, CellSpec
from . import available_backends, lstm_sequence

SHAPES: tuple[tuple[int, int, int, int], ...] = (
    (300, 1, 39, 100),
    (60, 1, 88, 100),
    (100, 32, 39, 200),
    (100, 64, 512, 512),
)
CUDA_SHAPES = SHAPES + ((1000, 16, 256, 256),)


class ShapeError(UserError, ValueError):
    """A benchmark shape that is not four positive integers T,B,M,N."""


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """``"300,1,39,100"`` → ``(300, 1, 39, 100)``."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise ShapeError(f"shape {text!r} is not T,B,M,N "
                         "(four positive integers, e.g. 300,1,39,100)")
    return shape  # type: ignore[return-value]


@dataclass
class Row:
    """One benchmark result: a variant on a backend at a shape (T, B, M, N)."""

    shape: tuple[int, int, int, int]
    variant: str
    backend: str
    fwd_bwd_ms: float
    fwd_ms: float
    saved_bytes: int
    bound_bytes: int | None
    vs_vendor: float | None = None
    vs_vendor_fwd: float | None = None
    vs_reference: float | None = None
    vs_vanilla: float | None = None


def params(spec: CellSpec, M: int, N: int, dev: torch.device, dtype: torch.dtype) -> list:
    """Random ``[W, R, b, p, Rg]`` for ``spec`` (None where it has no such parameter), scaled by
    0.1 and requiring grad; the same values for every call with the same arguments."""
    g = torch.Generator().manual_seed(0)
    K, G = len(spec.blocks), len(spec.gates)

    def rand(*shape: int) -> Tensor:
        return (torch.randn(*shape, generator=g, dtype=dtype) * 0.1).to(dev).requires_grad_()

    p = rand(len(spec.peephole_gates) * N) if spec.peephole_gates else None
    Rg = rand(G * N, G * N) if spec.full_gate_recurrence else None
    return [rand(K * N, M), rand(K * N, N), rand(K * N), p, Rg]


def _saved_bytes(run: Callable[[], object], exclude: Iterable[Tensor]) -> int:
    """Bytes of the distinct storages autograd saves while ``run`` executes, except ``exclude``."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(seen.values())


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


@dataclass
class Candidate:
    """One thing to time: ``fwd()`` runs it forward; ``tensors`` are the leaves whose ``.grad``
    the backward pass fills (cleared between runs)."""

    variant: str
    backend: str
    fwd: Callable[[], tuple]
    tensors: list
    bound: int | None


def candidates(
    shape: tuple[int, int, int, int], variants: list[str], backends: list[str],
    dev: torch.device, dtype: torch.dtype,
) -> list[Candidate]:
    """torch.nn.LSTM (backend ``vendor``, which computes NP) and every variant on every backend,
    on the same input ``x`` (T, B, M) with zero initial states."""
    T, B, M, N = shape
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, M, generator=g, dtype=dtype).to(dev)
    h0 = torch.zeros(B, N, dtype=dtype, device=dev)
    vendor = nn.LSTM(M, N).to(dev, dtype)
    out = [Candidate("NP", "vendor", lambda: vendor(x), [x, *vendor.parameters()], None)]
    for name in variants:
        spec = CellSpec.parse(name)
        weights = params(spec, M, N, dev, dtype)
        bound = (len(spec.blocks) + 2) * (T + 1) * B * N * x.element_size()
        for be in backends:
            def run(spec=spec, weights=weights, be=be) -> tuple:
                return lstm_sequence(spec, x, *weights, h0, h0, backend=be)

            tensors = [x, h0, *(q for q in weights if q is not None)]
            out.append(Candidate(spec.name, be, run, tensors, bound))
    return out


def clock_for(dev: torch.device) -> Callable[[], float]:
    """CPU time of this thread for single-threaded CPU runs, wall time otherwise."""
    if dev.type == "cpu" and torch.get_num_threads() == 1:
        return time.thread_time
    return time.perf_counter


def time_calls(dev: torch.device, calls: list[Callable[[], object]]) -> list[float]:
    """Run ``calls`` one after the other; returns each one's time in ms. On CUDA the times are
    CUDA events recorded between the calls (the stream's time, one synchronisation at the end);
    elsewhere the clock of :func:`clock_for`."""
    if dev.type == "cuda":
        marks = [torch.cuda.Event(enable_timing=True) for _ in range(len(calls) + 1)]
        marks[0].record()
        for call, mark in zip(calls, marks[1:]):
            call()
            mark.record()
        marks[-1].synchronize()
        return [a.elapsed_time(b) for a, b in pairwise(marks)]
    clock = clock_for(dev)
    stamps = [clock()]
    for call in calls:
        call()
        stamps.append(clock())
    return [(b - a) * 1e3 for a, b in pairwise(stamps)]


def time_rounds(
    cands: list[Candidate], repeats: int, dev: torch.device,
    stop: Callable[[], bool] = lambda: False,
) -> dict[tuple[str, str], tuple[list[float], list[float]]]:
    """Interleaved rounds (round 0 is the warm-up); returns {(variant, backend): (fwd+bwd
    times, fwd times)} in ms. ``stop()`` is asked before each timed round: when it says yes,
    the rounds end early (with fewer times than ``repeats``)."""
    times: dict[tuple[str, str], tuple[list[float], list[float]]] = {
        (c.variant, c.backend): ([], []) for c in cands}
    grads: dict[tuple[str, str], Tensor] = {}
    for r in range(repeats + 1):
        if r > 0 and stop():
            break
        for c in cands:
            key = (c.variant, c.backend)
            if c.backend == "reference" and r > max(1, repeats // 3):
                continue  # the slow loop needs fewer rounds for a stable median

            def fwd_bwd(c=c, key=key) -> None:
                y = c.fwd()[0]
                if key not in grads:
                    grads[key] = torch.randn_like(y)
                y.backward(grads[key])

            def fwd(c=c) -> None:
                with torch.no_grad():
                    c.fwd()

            _sync(dev)
            fb, fw = time_calls(dev, [fwd_bwd, fwd])
            if r > 0:
                times[key][0].append(fb)
                times[key][1].append(fw)
            for t in c.tensors:
                t.grad = None
    return times


def run_benchmark(
    shapes: Iterable[tuple[int, int, int, int]] | None = None,
    variants: Iterable[str] | None = None,
    device: str = "cpu",
    repeats: int = 7,
    threads: int | None = 1,
    reference: bool = True,
) -> list[Row]:
    """Measure every variant on every fast backend, torch.nn.LSTM and (optionally) the
    reference loop at each shape; returns one :class:`Row` per (shape, variant, backend)."""
    dev = torch.device(device)
    if threads is not None:
        torch.set_num_threads(threads)
    dtype = torch.float32
    shapes = list(shapes or (CUDA_SHAPES if dev.type == "cuda" else SHAPES))
    variants = [CellSpec.parse(v).name for v in (variants or PRESETS)]
    fast = [b for b in available_backends(dev.type) if b != "reference"]
    backends = fast + (["reference"] if reference else [])
    rows: list[Row] = []
    for shape in shapes:
        cands = candidates(shape, variants, backends, dev, dtype)
        times = time_rounds(cands, repeats, dev)
        med = {k: (statistics.median(a), statistics.median(b)) for k, (a, b) in times.items()}
        vendor = med[("NP", "vendor")]
        for c in cands:
            fb, fw = med[(c.variant, c.backend)]
            ref = med.get((c.variant, "reference"))
            van = med.get(("V", c.backend))
            rows.append(Row(
                shape=shape, variant=c.variant, backend=c.backend, fwd_bwd_ms=fb, fwd_ms=fw,
                saved_bytes=_saved_bytes(c.fwd, c.tensors), bound_bytes=c.bound,
                vs_vendor=fb / vendor[0], vs_vendor_fwd=fw / vendor[1],
                vs_reference=fb / ref[0] if ref and c.backend != "reference" else None,
                vs_vanilla=fb / van[0] if van and c.backend != "vendor" else None,
            ))
    return rows


def environment(device: str = "cpu") -> dict:
    """What the numbers were measured on: machine, versions, GPU and clock."""
    dev = torch.device(device)
    clock = clock_for(dev)
    env = {
        "machine": platform.node(), "platform": platform.platform(),
        "python": sys.version.split()[0], "torch": torch.__version__,
        "threads": torch.get_num_threads(), "device": device,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "clock": "thread cpu time" if clock is time.thread_time else "wall time",
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = None
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        env.update(
            clock="cuda events", gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    return env


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def format_table(rows: list[Row]) -> str:
    """A Markdown table of the rows (times in ms, ratios as multiples, memory in MB)."""
    head = ("| T, B, M, N | variant | backend | fwd+bwd ms | × vendor | × reference | × our V "
            "| fwd ms | fwd × vendor | saved MB | bound MB |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {', '.join(map(str, r.shape))} | {r.variant} | {r.backend} | {r.fwd_bwd_ms:.2f} "
            f"| {_fmt(r.vs_vendor)} | {_fmt(r.vs_reference, '.3f')} | {_fmt(r.vs_vanilla)} "
            f"| {r.fwd_ms:.2f} | {_fmt(r.vs_vendor_fwd)} | {r.saved_bytes / 1e6:.2f} "
            f"| {_fmt(r.bound_bytes and r.bound_bytes / 1e6)} |"
        )
    return "\n".join(lines)


def _field(rows: dict[str, Row], variant: str, name: str) -> float | None:
    return getattr(rows[variant], name) if variant in rows else None


def format_summary(rows: list[Row], backend: str = "cpu") -> str:
    """One Markdown line per shape: the kernels' speed and memory targets for ``backend`` as
    measured ratios."""
    head = ("| T, B, M, N | vendor fwd+bwd ms | NP × vendor | V × vendor | worst other × V "
            "| FGR × V | V speed-up over reference | NP fwd × vendor | V fwd × vendor "
            "| saved ≤ bound |")
    lines = [head, "|" + "---|" * 10]
    for shape in dict.fromkeys(r.shape for r in rows):
        at = {(r.variant, r.backend): r for r in rows if r.shape == shape}
        ours = {v: r for (v, b), r in at.items() if b == backend}
        if not ours:
            continue
        others = [r.vs_vanilla for v, r in ours.items() if v not in ("V", "FGR")]
        ref = at.get(("V", "reference"))
        speedup = ref.fwd_bwd_ms / ours["V"].fwd_bwd_ms if ref and "V" in ours else None
        fits = all(r.saved_bytes <= (r.bound_bytes or 0) for r in ours.values())
        lines.append(
            f"| {', '.join(map(str, shape))} | {at[('NP', 'vendor')].fwd_bwd_ms:.1f} "
            f"| {_fmt(_field(ours, 'NP', 'vs_vendor'))} | {_fmt(_field(ours, 'V', 'vs_vendor'))} "
            f"| {_fmt(max(others) if others else None)} "
            f"| {_fmt(_field(ours, 'FGR', 'vs_vanilla'))} | {_fmt(speedup, '.1f')} "
            f"| {_fmt(_field(ours, 'NP', 'vs_vendor_fwd'))} "
            f"| {_fmt(_field(ours, 'V', 'vs_vendor_fwd'))} | {'yes' if fits else 'no'} |"
        )
    return "\n".join(lines)


def as_json(rows: list[Row], device: str = "cpu") -> dict:
    """One machine-readable object: the environment and every row."""
    return {"environment": environment(device), "rows": [asdict(r) for r in rows]}
