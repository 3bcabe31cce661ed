"""Forward + backward of one sequence through one layer of every cell family, side by side, as
ratios to the LSTM (V) on its fused cpu kernel.

    .venv/bin/python benchmarks/families.py [--T 100] [--M 39] [--N 100] [--repeats 15]

The other families run on the reference backend (their step under autograd); the LSTM V on
the reference backend and torch.nn.GRU/LSTM are printed for scale. Rounds are interleaved (one
call of each, repeated), and the median per row is reported, with 1 torch thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lstm_odyssey.nn import recurrent

ROWS = [("V", "cpu"), ("V", "reference"), ("gru", "auto"), ("gru+lbr", "auto"),
        ("mingru", "auto"), ("minlstm", "auto"), ("slstm", "auto"), ("slstm+expf", "auto")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--M", type=int, default=39)
    ap.add_argument("--N", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(a.T, 1, a.M)
    modules = {f"{v} ({b})": recurrent(a.M, a.N, v, backend=b) for v, b in ROWS}
    modules["torch.nn.LSTM"] = torch.nn.LSTM(a.M, a.N)
    modules["torch.nn.GRU"] = torch.nn.GRU(a.M, a.N)
    times: dict[str, list[float]] = {k: [] for k in modules}
    for _ in range(a.repeats + 2):  # the first two rounds warm up
        for name, m in modules.items():
            t0 = time.perf_counter()
            y, _ = m(x)
            y.sum().backward()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["V (cpu)"][2:])
    print(f"T={a.T} B=1 M={a.M} N={a.N}, forward + backward, median of {a.repeats}")
    print(f"{'row':22s} {'ms':>8s} {'× LSTM V (cpu)':>15s}")
    for name, ts in times.items():
        med = statistics.median(ts[2:])
        print(f"{name:22s} {1e3 * med:8.2f} {med / base:15.1f}")


if __name__ == "__main__":
    main()
