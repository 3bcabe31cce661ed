"""How close the cpu kernel's time loop at batch 1 runs to the cache's read bandwidth.

At batch size 1 every time step multiplies one state vector by the whole recurrent matrix, in
the forward pass (``pre_t += [y_{t−1}]·Rᵀ``) and again in the backward pass
(``dS += dPre_t·R``): the kernel must read R (K·N × N numbers) twice per step, so

    bytes streamed per sequence = 2 · T · K·N·N · sizeof(float).

This benchmark times the fused kernel's forward + backward call (one direction, variant V,
float32, one thread, thread CPU time) and divides those bytes by its time: the recurrent
weights' effective streaming rate. Next to it, a plain read loop (C, vectorised, 8
accumulators, compiled here with ``-O3 -march=native``) reads a buffer of the same size the same
number of times: the bandwidth of the cache level R lives in (L1 for small N, L2 at N = 63 and
200 on a core with 32 KB L1d and 1 MB L2). The ratio says what share of the read-bandwidth bound
the whole kernel call reaches; the call also runs the input projection and the two
weight-gradient GEMMs (dW, dRext), which are timed alone on the same shapes and subtracted to
give the time loops' own rate ("loops": the recurrent products and the pointwise passes).

    python benchmarks/recurrent_bandwidth.py [--sizes 20,63,200] [--steps 400] [--inputs 39]
        [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from lstm_odyssey.kernels import build, cpu
from lstm_odyssey.variants import CellSpec

READ_LOOP = r"""
#include <time.h>
typedef float v16 __attribute__((vector_size(64)));
/* Reads a[0:n] (n a multiple of 128 floats) `reps` times; returns the thread CPU seconds.
   The sum goes to *sink so that the loads cannot be removed. */
double read_loop(const float* a, long n, long reps, float* sink) {
  struct timespec t0, t1;
  v16 acc[8] = {{0}};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  for (long r = 0; r < reps; ++r) {
    for (long i = 0; i < n; i += 128) {
      for (int u = 0; u < 8; ++u) {
        v16 v;
        __builtin_memcpy(&v, a + i + 16 * u, sizeof v);
        acc[u] += v;
      }
    }
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  v16 s = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
  float total = 0;
  for (int u = 0; u < 16; ++u) total += s[u];
  *sink = total;
  return (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
}
"""


def read_loop() -> ctypes.CDLL:
    """The read loop, compiled once into the kernel cache."""
    key = hashlib.sha256(READ_LOOP.encode()).hexdigest()[:12]
    lib = build.cache_root() / f"read_loop_{key}.so"
    if not lib.exists():
        lib.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "read_loop.c"
            src.write_text(READ_LOOP)
            subprocess.run(["cc", "-O3", "-march=native", "-shared", "-fPIC", str(src), "-o",
                            str(lib)], check=True)
    dll = ctypes.CDLL(str(lib))
    dll.read_loop.restype = ctypes.c_double
    dll.read_loop.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                              ctypes.POINTER(ctypes.c_float)]
    return dll


def measure(ext, loop: ctypes.CDLL, N: int, T: int, M: int, rounds: int) -> dict:
    """Medians over interleaved rounds: the kernel call, the same call's three GEMMs alone
    (input projection, dW, dRext, as torch ops on the same shapes) and the read loop."""
    K, sw = 4, cpu.switches(CellSpec())  # vanilla: K = 4 blocks, peepholes
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, 1, M, generator=g)
    W, R = 0.1 * torch.randn(K * N, M, generator=g), 0.1 * torch.randn(K * N, N, generator=g)
    b, p = 0.1 * torch.randn(K * N, generator=g), 0.1 * torch.randn(3 * N, generator=g)
    zeros, none = torch.zeros(1, N), torch.empty(0, dtype=torch.int64)
    dpre, states = torch.randn(T, K * N, generator=g), torch.randn(T, N, generator=g)
    buf = torch.randn((R.numel() + 127) // 128 * 128, generator=g)  # whole 128-float blocks
    sink = ctypes.c_float()

    def kernel() -> None:
        y, h, c, S, C = ext.forward(x, W, R, b, p, zeros, zeros, none, sw, True)
        ext.backward(y, h, c, x, W, R, p, S, C, none, sw, False)

    def gemms() -> None:
        torch.addmm(b, x.view(T, M), W.t())
        torch.mm(dpre.t(), x.view(T, M))
        torch.mm(dpre.t(), states)

    def read() -> None:  # as many bytes as the kernel's two products: 2·T reads of R
        loop.read_loop(buf.data_ptr(), buf.numel(), 2 * T, ctypes.byref(sink))

    calls = {"kernel": kernel, "gemms": gemms, "read": read}
    times = {name: [] for name in calls}
    for r in range(rounds + 1):  # round 0 warms up
        for name in list(calls)[r % 3:] + list(calls)[:r % 3]:
            t0 = time.thread_time()
            calls[name]()
            if r:
                times[name].append(time.thread_time() - t0)
    k, gm, rd = (statistics.median(times[n]) for n in calls)
    streamed = 2 * T * R.numel() * R.element_size()
    read_rate = 2 * T * buf.numel() * buf.element_size() / rd
    return {"N": N, "T": T, "M": M, "weights_kib": R.numel() * R.element_size() / 1024,
            "kernel_us": 1e6 * k, "gemms_us": 1e6 * gm, "kernel_gb_s": streamed / k / 1e9,
            "loops_gb_s": streamed / (k - gm) / 1e9, "read_gb_s": read_rate / 1e9,
            "read_bound_us": 1e6 * streamed / read_rate,
            "share_of_read_bound": streamed / read_rate / k,
            "loops_share_of_read_bound": streamed / read_rate / (k - gm)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,63,200", help="hidden sizes N")
    parser.add_argument("--steps", type=int, default=400, help="time steps T")
    parser.add_argument("--inputs", type=int, default=39, help="input features M")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ext, loop = build.load(), read_loop()
    rows = [measure(ext, loop, int(n), args.steps, args.inputs, args.rounds)
            for n in args.sizes.split(",")]
    if args.json:
        print(json.dumps({"threads": 1, "clock": "thread_time", "rows": rows}, indent=1))
        return
    print(f"V, batch 1, T = {args.steps}, M = {args.inputs}, float32, 1 thread; medians of "
          f"{args.rounds} interleaved rounds (thread CPU time). Weights GB/s = 2·T·|R| bytes ÷ "
          "the kernel call's time (÷ the call less its three GEMMs: 'loops')")
    print(f"{'N':>4s} {'R KiB':>6s} {'kernel':>9s} {'GEMMs':>8s} {'read-bound':>10s} "
          f"{'kernel GB/s':>11s} {'loops GB/s':>10s} {'read GB/s':>9s} {'kernel %':>8s} "
          f"{'loops %':>7s}")
    for r in rows:
        print(f"{r['N']:4d} {r['weights_kib']:6.1f} {r['kernel_us']:7.0f}us {r['gemms_us']:6.0f}us "
              f"{r['read_bound_us']:8.0f}us {r['kernel_gb_s']:11.1f} {r['loops_gb_s']:10.1f} "
              f"{r['read_gb_s']:9.1f} {100 * r['share_of_read_bound']:7.0f}% "
              f"{100 * r['loops_share_of_read_bound']:6.0f}%")


if __name__ == "__main__":
    main()
