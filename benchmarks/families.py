"""Forward + backward of one sequence through one layer of every cell family, side by side, as
ratios to the LSTM (V) on its fused cpu kernel; then the GRU on its cpu kernel against
torch.nn.GRU at several shapes.

    .venv/bin/python benchmarks/families.py [--T 100] [--M 39] [--N 100] [--repeats 15]
        [--gru-shapes 100,1,39,50;100,1,39,100;100,1,39,200;100,16,39,100] [--table both]

Families table: every family's variants on ``auto`` (the LSTM and the GRU on their cpu kernels,
the other families on the reference backend, their step under autograd); the LSTM V and the
GRU on the reference backend and torch.nn.GRU/LSTM are printed for scale. Batch size 1.

GRU table: ``gru+lbr`` and ``gru`` on the cpu backend and ``gru+lbr`` on the reference backend
against ``torch.nn.GRU`` (ATen's CPU GRU: its cell under autograd, step by step), ``gru+lbr``
with torch's weights (``from_torch_gru``); the forward + backward pass to every parameter (the
input needs no gradient, as for a first layer) and the forward pass alone under no_grad.

Method (both tables): one process, 1 torch thread, rounds interleaved (one call of each
contestant per round, so that load from other processes hits all alike; each contestant's
timed calls follow an untimed call of its own, so that none pays for the cold caches another
one left), a warm-up round, the median per row; the clock is the thread's CPU time (time spent
descheduled is not counted).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from lstm_odyssey.kernels.benchmark import Candidate, time_calls
from lstm_odyssey.nn import from_torch_gru, recurrent

ROWS = [("V", "cpu"), ("V", "reference"), ("gru", "auto"), ("gru+lbr", "auto"),
        ("gru+lbr", "reference"), ("mingru", "auto"), ("minlstm", "auto"), ("slstm", "auto"),
        ("slstm+expf", "auto")]
GRU_SHAPES = "100,1,39,50;100,1,39,100;100,1,39,200;100,16,39,100"
CPU = torch.device("cpu")


def _candidate(name: str, module: torch.nn.Module, x: torch.Tensor,
               backend: str = "") -> Candidate:
    """``module(x)`` as a contestant (``backend="reference"``: timed in fewer rounds)."""
    return Candidate(name, backend, lambda: module(x), list(module.parameters()), None)


def _medians(cands: list[Candidate], repeats: int) -> dict[str, tuple[float, float]]:
    """{name: (median fwd+bwd ms, median fwd ms)} over interleaved rounds (round 0 warms up).
    In each round every contestant runs once untimed before its timed calls: the first call
    after another contestant's large autograd graph (torch's GRU, a reference loop) runs on cold
    caches and allocator, which in a fixed order would cost the same contestant every round.
    The reference rows run in fewer rounds."""
    times: dict[str, tuple[list[float], list[float]]] = {c.variant: ([], []) for c in cands}
    grads: dict[str, torch.Tensor] = {}
    for r in range(repeats + 1):
        for c in cands:
            if c.backend == "reference" and r > max(1, repeats // 3):
                continue

            def fwd_bwd(c=c) -> None:
                y = c.fwd()[0]
                y.backward(grads.setdefault(c.variant, torch.randn_like(y)))

            def fwd(c=c) -> None:
                with torch.no_grad():
                    c.fwd()

            _, fb, fw = time_calls(CPU, [fwd_bwd, fwd_bwd, fwd])
            if r > 0:
                times[c.variant][0].append(fb)
                times[c.variant][1].append(fw)
            for t in c.tensors:
                t.grad = None
    return {v: (statistics.median(fb), statistics.median(fw)) for v, (fb, fw) in times.items()}


def families_table(T: int, M: int, N: int, repeats: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(T, 1, M)
    cands = [_candidate(f"{v} ({b})", recurrent(M, N, v, backend=b), x, b) for v, b in ROWS]
    cands += [_candidate("torch.nn.LSTM", torch.nn.LSTM(M, N), x),
              _candidate("torch.nn.GRU", torch.nn.GRU(M, N), x)]
    med = _medians(cands, repeats)
    base = med["V (cpu)"][0]
    print(f"T={T} B=1 M={M} N={N}, forward + backward, median of {repeats} rounds")
    print(f"{'row':22s} {'ms':>8s} {'× LSTM V (cpu)':>15s}")
    for name, (fb, _) in med.items():
        print(f"{name:22s} {fb:8.2f} {fb / base:15.2f}")


def gru_table(shapes: list[tuple[int, int, int, int]], repeats: int) -> None:
    print("GRU on the cpu backend vs torch.nn.GRU, median of "
          f"{repeats} interleaved rounds, 1 thread, thread CPU time")
    print(f"{'T, B, M, N':>16s} {'row':24s} {'fwd+bwd ms':>10s} {'× torch':>8s} "
          f"{'fwd ms':>8s} {'× torch':>8s}")
    for T, B, M, N in shapes:
        torch.manual_seed(0)
        x = torch.randn(T, B, M)
        vendor = torch.nn.GRU(M, N)
        cands = [_candidate("torch.nn.GRU", vendor, x),
                 _candidate("gru+lbr (cpu)", from_torch_gru(vendor, backend="cpu"), x),
                 _candidate("gru (cpu)", recurrent(M, N, "gru", backend="cpu"), x),
                 _candidate("gru+lbr (reference)", from_torch_gru(vendor, backend="reference"),
                            x, "reference")]
        med = _medians(cands, repeats)
        torch_fb, torch_fw = med["torch.nn.GRU"]
        for name, (fb, fw) in med.items():
            print(f"{f'{T}, {B}, {M}, {N}':>16s} {name:24s} {fb:10.2f} {fb / torch_fb:8.2f} "
                  f"{fw:8.2f} {fw / torch_fw:8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--M", type=int, default=39)
    ap.add_argument("--N", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--gru-shapes", default=GRU_SHAPES,
                    help="T,B,M,N shapes of the GRU table, separated by ';'")
    ap.add_argument("--table", choices=("families", "gru", "both"), default="both")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.table in ("families", "both"):
        families_table(a.T, a.M, a.N, a.repeats)
    if a.table in ("gru", "both"):
        shapes = [tuple(int(v) for v in s.split(",")) for s in a.gru_shapes.split(";")]
        gru_table(shapes, a.repeats)


if __name__ == "__main__":
    main()
