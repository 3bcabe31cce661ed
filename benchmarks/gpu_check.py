"""The GPU check: the Triton backend proved right against the reference and timed against
torch.nn.LSTM (cuDNN), in one command that ends within six minutes.

    sh benchmarks/gpu_check.sh --json gpu_check.json

It runs from a checkout without installing (``PYTHONPATH`` = the checkout) with any Python that
has torch and triton, and imports only ``lstm_odyssey.kernels`` and what it reads (``variants``,
``families``).

Correctness, for every preset plus ``cifg+np`` and ``nig+noaf+fgr``, fp32 GEMMs without TF32:

* at the small ``--check-shape``, with variable lengths: ``torch.autograd.gradcheck`` of the
  triton op in float64, and its float64 and float32 outputs and gradients against the reference
  backend in float64;
* at every benchmark shape, without lengths (as timed): float32 against the float64 reference.

The error of a tensor is ``‖ours − ref‖ / ‖ref‖`` (normwise), for y, h_n, c_n and the gradient
of ``Σ w ⊙ (y, h_n, c_n)`` (fixed random ``w``) with respect to every input; a check passes
when the worst is ≤ 1e-4 (float32) or ≤ 1e-10 (float64) and nothing is unwritten. While
checking, torch fills every new ``empty`` tensor with NaN (deterministic mode's
``fill_uninitialized_memory``), so an element a kernel never writes stays NaN: ``unwritten``
counts the non-finite elements of our outputs and gradients.

Timing (:mod:`lstm_odyssey.kernels.benchmark`'s candidates and interleaved rounds: a warm-up
round, then the median of ``--repeats``): forward, and forward + backward to the parameters, of
``--timed`` variants and torch.nn.LSTM, timed with CUDA events; then the same with a CUDA graph
of the whole sequence per candidate (replays timed), or ``not capturable: <reason>``.

The environment in the JSON names the checkout that ran and every module of it that was loaded.

Time guard: checks stop at 75 % of ``--budget`` seconds, timing at the budget (both counted
from the start); what did not run is recorded as skipped. The JSON (``--json``) is written
after the checks and again at the end. Exit status: 0 every check passed, 1 a check failed,
2 bad options, 3 work was skipped (time budget); a crash while timing counts as a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

import torch
from torch import Tensor
from torch.autograd.gradcheck import GradcheckError

import lstm_odyssey
from lstm_odyssey.errors import UserError
from lstm_odyssey.kernels import benchmark as bench
from lstm_odyssey.kernels import lstm_sequence
from lstm_odyssey.variants import PRESET_NAMES, CellSpec

Shape = tuple[int, int, int, int]

VARIANTS = (*PRESET_NAMES, "cifg+np", "nig+noaf+fgr")
SHAPES: tuple[Shape, ...] = ((300, 1, 39, 100), (100, 32, 39, 200), (100, 64, 512, 512),
                             (100, 256, 512, 1024))
TIMED = ("V", "NP", "FGR")
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}
INPUT_NAMES = ("x", "W", "R", "b", "p", "Rg", "h0", "c0")
CHECK_SHARE = 0.75  # of the budget, for the checks (cold Triton compiles); timing gets the rest


class CheckError(UserError, ValueError):
    """Options the check cannot run with."""


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Settings:
    """What to check and time, on which device, within how many seconds."""

    device: str = "cuda"
    shapes: tuple[Shape, ...] = SHAPES
    check_shape: Shape = (4, 3, 3, 2)
    variants: tuple[str, ...] = VARIANTS
    timed: tuple[str, ...] = TIMED
    repeats: int = 20
    budget_s: float = 320.0
    fast_gradcheck: bool = False
    tf32: bool = False  # never switched on: the comparison is with exact fp32


@dataclass
class Check:
    """One correctness check of one variant at one shape."""

    variant: str
    kind: str  # "gradcheck float64" | "float64 vs reference" | "float32 vs reference"
    shape: Shape
    lengths: bool
    status: Status = Status.SKIPPED
    tol: float | None = None
    rel_err: float | None = None  # the worst tensor's normwise relative error
    worst: str | None = None  # which tensor that was
    unwritten: int | None = None  # non-finite elements in our outputs and gradients
    note: str = ""


@dataclass
class Timing:
    """Median times (ms) of one candidate at one shape, eager and as a CUDA graph; ratios are to
    torch.nn.LSTM (backend ``vendor``) in the same mode."""

    shape: Shape
    variant: str
    backend: str
    repeats: int = 0
    fwd_bwd_ms: float | None = None
    fwd_ms: float | None = None
    graph_fwd_bwd_ms: float | None = None
    graph_fwd_ms: float | None = None
    vs_vendor: float | None = None
    vs_vendor_fwd: float | None = None
    graph_vs_vendor: float | None = None
    graph_vs_vendor_fwd: float | None = None
    note: str = ""


@dataclass
class Report:
    """Everything one run found; ``notes`` name work skipped for time, ``errors`` timing that
    crashed."""

    settings: Settings
    environment: dict
    checks: list[Check] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def verdict(self) -> Status:
        """Failed if a check failed or timing crashed, skipped if work was skipped, else
        passed."""
        statuses = {c.status for c in self.checks}
        if Status.FAILED in statuses or self.errors:
            return Status.FAILED
        if Status.SKIPPED in statuses or self.notes:
            return Status.SKIPPED
        return Status.PASSED

    def as_json(self) -> dict:
        return {"verdict": self.verdict.value, **asdict(self)}


class Deadline:
    """The global time guard: seconds since start against the budget."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def past(self, share: float = 1.0) -> bool:
        return self.elapsed() >= share * self.budget_s


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


# -- correctness ----------------------------------------------------------------------------------


@contextlib.contextmanager
def poisoned_allocations() -> Iterator[None]:
    """Fill every new ``torch.empty``-style tensor with NaN (integers with their maximum) while
    the block runs, using torch's deterministic mode with ``fill_uninitialized_memory``
    (warn-only: a nondeterministic op still runs; its warning is silenced)."""
    det = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*deterministic.*")
            yield
    finally:
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill


@contextlib.contextmanager
def exact_fp32() -> Iterator[None]:
    """No TF32 anywhere (cuBLAS, cuDNN, our backend) while the block runs."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    old = matmul.allow_tf32, cudnn.allow_tf32
    matmul.allow_tf32 = cudnn.allow_tf32 = False
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = old


def make_inputs(spec: CellSpec, shape: Shape, dtype: torch.dtype, dev: torch.device,
                seed: int = 0) -> list[Tensor | None]:
    """Random ``[x, W, R, b, p, Rg, h0, c0]`` requiring grad (None where ``spec`` has no such
    parameter): x ~ N(0, 1), the rest ~ N(0, 1/max(M, N)), so gates neither saturate nor
    linearise at any shape."""
    T, B, M, N = shape
    K, G, P = len(spec.blocks), len(spec.gates), len(spec.peephole_gates)
    gen = torch.Generator().manual_seed(seed)
    scale = max(M, N) ** -0.5

    def r(*size: int, s: float = scale) -> Tensor:
        v = torch.randn(*size, generator=gen, dtype=torch.float64) * s
        return v.to(dev, dtype).requires_grad_()

    return [r(T, B, M, s=1.0), r(K * N, M), r(K * N, N), r(K * N),
            r(P * N) if P else None,
            r(G * N, G * N) if spec.full_gate_recurrence else None,
            r(B, N), r(B, N)]


def _lengths(shape: Shape, dev: torch.device) -> Tensor:
    """Every other sequence of the batch is half as long as the others."""
    T, B, _, _ = shape
    return torch.tensor([T - (b % 2) * (T // 2) for b in range(B)], device=dev)


def _outputs_and_grads(backend: str, spec: CellSpec, inputs: list[Tensor | None],
                       lengths: Tensor | None) -> tuple[list[str], list[Tensor]]:
    """Names and values of ``(y, h_n, c_n)`` and of the gradients of ``Σ w ⊙ (y, h_n, c_n)``
    (weights from a fixed seed) with respect to every input."""
    outs = lstm_sequence(spec, *inputs, lengths, backend=backend)
    gen = torch.Generator().manual_seed(1)
    weights = [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o) for o in outs]
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    live = [(n, v) for n, v in zip(INPUT_NAMES, inputs) if v is not None]
    grads = torch.autograd.grad(loss, [v for _, v in live])
    names = ["y", "h_n", "c_n", *(f"d{n}" for n, _ in live)]
    return names, [o.detach() for o in outs] + list(grads)


def _rel_err(ours: Tensor, ref: Tensor) -> float:
    """``‖ours − ref‖ / ‖ref‖`` in float64 (absolute where ``ref`` is zero); NaN stays NaN."""
    den = ref.norm().item()
    return (ours.double() - ref).norm().item() / (den if den > 0 else 1.0)


def compare(check: Check, spec: CellSpec, shape: Shape, dtype: torch.dtype, dev: torch.device,
            lengths: Tensor | None) -> None:
    """Our op in ``dtype`` against the float64 reference on the same (rounded) inputs."""
    ours_in = make_inputs(spec, shape, dtype, dev)
    ref_in = [None if v is None else v.detach().double().requires_grad_() for v in ours_in]
    names, ours = _outputs_and_grads("triton", spec, ours_in, lengths)
    _, ref = _outputs_and_grads("reference", spec, ref_in, lengths)
    errs = {n: _rel_err(a, b) for n, a, b in zip(names, ours, ref)}
    check.worst = max(errs, key=lambda n: float("inf") if errs[n] != errs[n] else errs[n])
    check.rel_err = errs[check.worst]
    check.unwritten = sum(int((~torch.isfinite(a)).sum()) for a in ours)
    check.tol = TOL[dtype]
    ok = check.unwritten == 0 and check.rel_err <= check.tol
    check.status = Status.PASSED if ok else Status.FAILED


def gradcheck(check: Check, spec: CellSpec, shape: Shape, dev: torch.device, lengths: Tensor,
              fast: bool) -> None:
    """``torch.autograd.gradcheck`` of the triton op in float64 (every input)."""
    inputs = make_inputs(spec, shape, torch.float64, dev)
    live = [i for i, v in enumerate(inputs) if v is not None]

    def fn(*tensors: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        args = list(inputs)
        for i, v in zip(live, tensors):
            args[i] = v
        return lstm_sequence(spec, *args, lengths, backend="triton")

    try:
        torch.autograd.gradcheck(fn, [inputs[i] for i in live], fast_mode=fast)
    except GradcheckError as e:
        check.status, check.note = Status.FAILED, _first_line(e)
    else:
        check.status = Status.PASSED


def run_checks(s: Settings, dev: torch.device, deadline: Deadline,
               log: Callable[[str], None]) -> list[Check]:
    """Every check of :data:`Settings`, in the order small shape (all kinds) then benchmark
    shapes; a failure is recorded with its reason and the next check runs."""
    plan: list[tuple[Check, Callable[[Check], None]]] = []
    small = s.check_shape
    for name in s.variants:
        spec = CellSpec.parse(name)
        plan += [
            (Check(spec.name, "gradcheck float64", small, True),
             lambda c, spec=spec: gradcheck(c, spec, small, dev, _lengths(small, dev),
                                            s.fast_gradcheck)),
            (Check(spec.name, "float64 vs reference", small, True),
             lambda c, spec=spec: compare(c, spec, small, torch.float64, dev,
                                          _lengths(small, dev))),
            (Check(spec.name, "float32 vs reference", small, True),
             lambda c, spec=spec: compare(c, spec, small, torch.float32, dev,
                                          _lengths(small, dev))),
        ]
    for shape in s.shapes:
        for name in s.variants:
            spec = CellSpec.parse(name)
            plan.append((Check(spec.name, "float32 vs reference", shape, False),
                         lambda c, spec=spec, shape=shape: compare(c, spec, shape, torch.float32,
                                                                   dev, None)))
    checks = []
    with poisoned_allocations():
        poison_works = bool(torch.empty(8, device=dev).isnan().all())
        for check, run in plan:
            checks.append(check)
            if deadline.past(CHECK_SHARE):
                check.note = "time budget spent"
                continue
            if not poison_works:
                check.status = Status.FAILED
                check.note = "this torch does not fill new tensors with NaN; unwritten unknown"
                continue
            try:
                run(check)
            except Exception as e:  # noqa: BLE001 — a crash fails this check; the rest run
                check.status, check.note = Status.FAILED, _first_line(e)
            log(_check_line(check))
    return checks


def _check_line(c: Check) -> str:
    err = "" if c.rel_err is None else f" rel err {c.rel_err:.1e} ({c.worst})"
    unwritten = "" if c.unwritten is None else f" unwritten {c.unwritten}"
    return (f"{c.status.value:7} {c.kind:21} {c.variant:13} {','.join(map(str, c.shape))}"
            f"{' lengths' if c.lengths else ''}{err}{unwritten} {c.note}").rstrip()


# -- timing ---------------------------------------------------------------------------------------


def _capture(dev: torch.device, fn: Callable[[], object], leaves: list[Tensor]) -> object:
    """A CUDA graph of ``fn`` (torch's recipe): two warm-up calls on a side stream, then the
    gradients of ``leaves`` dropped, so that the captured backward writes fresh ones instead of
    accumulating into the warm-up's."""
    side = torch.cuda.Stream(dev)
    side.wait_stream(torch.cuda.current_stream(dev))
    with torch.cuda.stream(side):
        for _ in range(2):
            fn()
    torch.cuda.current_stream(dev).wait_stream(side)
    for t in leaves:
        t.grad = None
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


def _graphs(cand: bench.Candidate, shape: Shape, dev: torch.device) -> tuple[list, str]:
    """``[fwd+bwd graph, fwd graph]`` of a candidate, or ``[]`` and why not."""
    if dev.type != "cuda":
        return [], "not capturable: CUDA graphs need a CUDA device"
    T, B, _, N = shape
    grad = torch.randn(T, B, N, device=dev)

    def fwd_bwd() -> None:
        cand.fwd()[0].backward(grad)

    def fwd() -> None:
        with torch.no_grad():
            cand.fwd()

    try:
        graphs = [_capture(dev, fn, cand.tensors) for fn in (fwd_bwd, fwd)]
        torch.cuda.synchronize(dev)
    except Exception as e:  # noqa: BLE001 — whatever torch or the driver refuses
        with contextlib.suppress(Exception):
            torch.cuda.synchronize(dev)
        return [], f"not capturable: {_first_line(e)}"
    return graphs, ""


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def time_shape(shape: Shape, s: Settings, dev: torch.device, deadline: Deadline) -> list[Timing]:
    """Eager and CUDA-graph medians of torch.nn.LSTM and the timed variants at ``shape``."""
    cands = bench.candidates(shape, list(s.timed), ["triton"], dev, torch.float32)
    eager = bench.time_rounds(cands, s.repeats, dev, stop=deadline.past)
    rows = {(c.variant, c.backend): Timing(shape, c.variant, c.backend) for c in cands}
    for key, (fb, fw) in eager.items():
        rows[key].repeats = len(fb)
        rows[key].fwd_bwd_ms, rows[key].fwd_ms = _median(fb), _median(fw)
        if not fb:
            rows[key].note = "time budget spent"
    captured = {}
    for c in cands:
        graphs, why = _graphs(c, shape, dev) if not deadline.past() else ([], "time budget spent")
        if graphs:
            captured[(c.variant, c.backend)] = graphs
        else:
            rows[(c.variant, c.backend)].note = rows[(c.variant, c.backend)].note or why
    replays: dict[tuple[str, str], tuple[list[float], list[float]]] = {
        k: ([], []) for k in captured}
    for r in range(s.repeats + 1):  # round 0 is the warm-up
        if r > 0 and deadline.past():
            break
        for key, (g_fb, g_fw) in captured.items():
            fb, fw = bench.time_calls(dev, [g_fb.replay, g_fw.replay])
            if r > 0:
                replays[key][0].append(fb)
                replays[key][1].append(fw)
    for key, (fb, fw) in replays.items():
        rows[key].graph_fwd_bwd_ms, rows[key].graph_fwd_ms = _median(fb), _median(fw)
        if not fb:
            rows[key].note = rows[key].note or "graph replays: time budget spent"
    vendor = rows[("NP", "vendor")]
    for row in rows.values():
        row.vs_vendor = _ratio(row.fwd_bwd_ms, vendor.fwd_bwd_ms)
        row.vs_vendor_fwd = _ratio(row.fwd_ms, vendor.fwd_ms)
        row.graph_vs_vendor = _ratio(row.graph_fwd_bwd_ms, vendor.graph_fwd_bwd_ms)
        row.graph_vs_vendor_fwd = _ratio(row.graph_fwd_ms, vendor.graph_fwd_ms)
    return list(rows.values())


# -- the run --------------------------------------------------------------------------------------


def _print(line: str) -> None:
    print(line, flush=True)  # progress survives a kill by the caller's timeout


def run(s: Settings, log: Callable[[str], None] = _print,
        write: Callable[[Report], None] = lambda r: None) -> Report:
    """The checks, then the timings, within ``s.budget_s`` seconds; ``write`` is called with the
    report after the checks and at the end."""
    deadline = Deadline(s.budget_s)
    dev = torch.device(s.device)
    from lstm_odyssey.kernels import triton_backend  # reads TRITON_INTERPRET when imported

    triton_backend.set_allow_tf32(s.tf32)
    report = Report(s, bench.environment(s.device))
    log(f"environment: {json.dumps(report.environment)}")
    with exact_fp32():
        report.checks = run_checks(s, dev, deadline, log)
        report.elapsed_s = round(deadline.elapsed(), 1)
        write(report)
        for shape in s.shapes:
            if deadline.past():
                report.notes.append(f"timing at {shape} skipped: time budget of "
                                    f"{s.budget_s:g} s spent")
                continue
            try:
                report.timings += time_shape(shape, s, dev, deadline)
            except Exception as e:  # noqa: BLE001 — e.g. out of memory: the next shape runs
                report.errors.append(f"timing at {shape} failed: {_first_line(e)}")
            log(f"timed {','.join(map(str, shape))} at {deadline.elapsed():.0f} s")
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    report.notes += [f"timing of {t.variant} {t.backend} at {t.shape}: {t.note}"
                     for t in report.timings if t.note.endswith("time budget spent")]
    report.environment["package"] = str(Path(lstm_odyssey.__file__).parent)
    report.environment["modules"] = sorted(m for m in sys.modules if m.startswith("lstm_odyssey"))
    report.elapsed_s = round(deadline.elapsed(), 1)
    write(report)
    return report


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def summary(report: Report) -> str:
    """The verdict, the worst float32 error, every failed check and every note."""
    counts = {st: sum(c.status is st for c in report.checks) for st in Status}
    head = (f"checks: {counts[Status.PASSED]} passed, {counts[Status.FAILED]} failed, "
            f"{counts[Status.SKIPPED]} skipped; verdict: {report.verdict.value}")
    lines = [head]
    f32 = [c for c in report.checks if c.kind.startswith("float32") and c.rel_err is not None]
    if f32:
        w = max(f32, key=lambda c: c.rel_err)
        lines.append(f"worst float32 relative error: {w.rel_err:.1e} ({w.variant} {w.worst} at "
                     f"{','.join(map(str, w.shape))})")
    lines += [_check_line(c) for c in report.checks if c.status is Status.FAILED]
    lines += [f"error: {n}" for n in report.errors] + [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def format_table(timings: list[Timing]) -> str:
    """Markdown: eager and CUDA-graph medians (ms) and their ratios to torch.nn.LSTM."""
    head = ("| T, B, M, N | variant | backend | fwd+bwd ms | × vendor | fwd ms | × vendor "
            "| graph fwd+bwd ms | × vendor graph | graph fwd ms | × vendor graph | repeats |")
    lines = [head, "|" + "---|" * 12]
    for t in timings:
        graph = t.graph_fwd_bwd_ms is not None
        lines.append(
            f"| {', '.join(map(str, t.shape))} | {t.variant} | {t.backend} "
            f"| {_fmt(t.fwd_bwd_ms)} | {_fmt(t.vs_vendor)} | {_fmt(t.fwd_ms)} "
            f"| {_fmt(t.vs_vendor_fwd)} | {_fmt(t.graph_fwd_bwd_ms) if graph else 'n/c'} "
            f"| {_fmt(t.graph_vs_vendor)} | {_fmt(t.graph_fwd_ms) if graph else 'n/c'} "
            f"| {_fmt(t.graph_vs_vendor_fwd)} | {t.repeats} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> tuple[Settings, Path]:
    """Command-line options → settings and the JSON path (UserError on bad values)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--json", required=True, type=Path, metavar="PATH",
                    help="where to write every number")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (tests: needs "
                    "TRITON_INTERPRET=1 and tiny shapes)")
    ap.add_argument("--shapes", default=";".join(",".join(map(str, v)) for v in SHAPES),
                    metavar="T,B,M,N;...", help="benchmark shapes")
    ap.add_argument("--check-shape", default="4,3,3,2", metavar="T,B,M,N",
                    help="the small shape for gradcheck and lengths (B ≥ 2)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="variants to check")
    ap.add_argument("--timed", default=",".join(TIMED), help="variants to time ('' for none)")
    ap.add_argument("--repeats", type=int, default=20, help="timed rounds per candidate")
    ap.add_argument("--budget", type=float, default=320.0, metavar="SECONDS",
                    help="the time guard (checks get 75 %%)")
    ap.add_argument("--fast-gradcheck", action="store_true",
                    help="gradcheck in fast mode (random projections; for the interpreter)")
    a = ap.parse_args(argv)
    shapes = tuple(bench.parse_shape(v) for v in a.shapes.split(";") if v.strip())
    check_shape = bench.parse_shape(a.check_shape)
    if check_shape[0] < 2 or check_shape[1] < 2:
        raise CheckError(f"--check-shape {a.check_shape}: needs T ≥ 2 and B ≥ 2 for variable "
                         "lengths, e.g. 4,3,3,2")
    if a.repeats < 1 or a.budget <= 0:
        raise CheckError("--repeats and --budget must be positive")
    variants = tuple(CellSpec.parse(v).name for v in a.variants.split(",") if v.strip())
    timed = tuple(CellSpec.parse(v).name for v in a.timed.split(",") if v.strip())
    if a.device.split(":")[0] not in ("cuda", "cpu"):
        raise CheckError(f"--device {a.device}: use cuda (or cpu with TRITON_INTERPRET=1)")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise CheckError(f"torch {torch.__version__} finds no CUDA GPU; run this on a GPU "
                         "machine (or --device cpu with TRITON_INTERPRET=1 and tiny shapes)")
    if importlib.util.find_spec("triton") is None:
        raise CheckError(f"this Python ({sys.executable}) has no triton; install the triton "
                         f"that matches torch {torch.__version__}")
    if a.device == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise CheckError("--device cpu runs the kernels in Triton's interpreter: set "
                         "TRITON_INTERPRET=1 (and use tiny shapes)")
    return Settings(a.device, shapes, check_shape, variants, timed, a.repeats, a.budget,
                    a.fast_gradcheck), a.json


def main(argv: list[str] | None = None) -> int:
    """Run the check; print progress, the summary and, last, the timing table."""
    try:
        settings, path = parse_args(sys.argv[1:] if argv is None else argv)
    except UserError as e:
        print(f"gpu_check: {e}", file=sys.stderr)
        return 2

    def write(report: Report) -> None:
        path.write_text(json.dumps(report.as_json(), indent=1) + "\n")

    report = run(settings, write=write)
    print(summary(report))
    print(f"json: {path}")
    print(format_table(report.timings))
    return {Status.PASSED: 0, Status.FAILED: 1, Status.SKIPPED: 3}[report.verdict]


if __name__ == "__main__":
    sys.exit(main())
