"""``torch.compile(LSTM, fullgraph=True)`` against the eager module, at one shape.

The module on the cpu backend (one fused operator per layer and direction, docs/kernels.md),
float32, one thread: the compile time of the first call (wall clock, forward and backward
graphs), then forward+backward to every parameter and the forward under ``torch.no_grad()``,
eager and compiled in interleaved rounds, the median of the thread's CPU time.

    python benchmarks/compile_vs_eager.py [--shape 300,1,39,100] [--variant V]
        [--backend inductor] [--rounds 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lstm_odyssey import LSTM
from lstm_odyssey.kernels.benchmark import parse_shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="300,1,39,100", help="T,B,M,N")
    ap.add_argument("--variant", default="V")
    ap.add_argument("--backend", default="inductor", help="torch.compile's backend")
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    T, B, M, N = parse_shape(args.shape)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    eager = LSTM(M, N, variant=args.variant)
    compiled = torch.compile(eager, fullgraph=True, backend=args.backend)
    x = torch.randn(T, B, M)

    def fwd_bwd(module):
        def run():
            module(x)[0].sum().backward()
            eager.zero_grad(set_to_none=True)
        return run

    def fwd(module):
        def run():
            with torch.no_grad():
                module(x)
        return run

    fwd_bwd(eager)()
    start = time.perf_counter()
    fwd_bwd(compiled)()
    first = time.perf_counter() - start
    start = time.perf_counter()
    fwd(compiled)()
    first_no_grad = time.perf_counter() - start

    runs = {"eager fwd+bwd": fwd_bwd(eager), "compiled fwd+bwd": fwd_bwd(compiled),
            "eager fwd": fwd(eager), "compiled fwd": fwd(compiled)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.thread_time()
            run()
            times[name].append(time.thread_time() - start)
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print(f"{args.variant} (T, B, M, N) = {(T, B, M, N)}, float32, one thread, "
          f"torch.compile backend {args.backend!r}, median of {args.rounds} rounds")
    print(f"  compile time: {first:.1f} s (forward and backward), {first_no_grad:.1f} s "
          "(the no_grad graph)")
    for what in ("fwd+bwd", "fwd"):
        e, c = ms[f"eager {what}"], ms[f"compiled {what}"]
        print(f"  {what:8} eager {e:8.3f} ms   compiled {c:8.3f} ms   compiled/eager {c / e:.3f}")


if __name__ == "__main__":
    main()
