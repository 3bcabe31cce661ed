"""The cpu kernel's time loop at batch 1 taken apart: where a step's time goes.

Per step (variant V, float32, one thread, thread CPU time, the fastest of ``--reps`` passes over
``--steps`` steps): the forward recurrent product ``pre_t += y_{t−1}·Rᵀ`` alone, the backward
product ``dS += dPre_t·R`` alone, and the forward product followed by the pointwise pass (what
the forward loop runs). Each product reads the whole recurrent matrix R (4N × N floats); its
rate in GB/s is set next to a plain read loop over a buffer of R's size
(``recurrent_bandwidth.py``'s), the bound for a product that has to stream R from the cache
every step. The C++ side (``time_loop_parts.cpp``) includes the kernel's source, so it times
exactly the code the extension runs; it is compiled on first use into the kernel cache.

    python benchmarks/time_loop_parts.py [--sizes 20,63,200] [--steps 400] [--reps 10] [--json]
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
from pathlib import Path

import torch
from recurrent_bandwidth import read_loop  # the same directory
from torch.utils import cpp_extension

from lstm_odyssey.kernels import build

HERE = Path(__file__).parent


def load() -> None:
    """Build (or find) the library; registers ``torch.ops.lstm_odyssey_time_loop_parts``."""
    flags, _ = build.compile_flags()
    sources = [HERE / "time_loop_parts.cpp"] + [build.CSRC / s for s in build.SOURCES
                                               if s != "lstm_cpu.cpp"]
    h = hashlib.sha256("\0".join(flags).encode())
    for src in [*sources, build.CSRC / "lstm_cpu.cpp", *(build.CSRC / s for s in build.HEADERS)]:
        h.update(src.read_bytes())
    directory = build.cache_root() / f"time_loop_parts_{h.hexdigest()[:12]}"
    directory.mkdir(parents=True, exist_ok=True)
    cpp_extension.load(name=f"time_loop_parts_{h.hexdigest()[:12]}",
                       sources=[str(s) for s in sources],
                       extra_cflags=[*flags, f"-I{build.CSRC}"], build_directory=str(directory),
                       is_python_module=False)


def read_rate(loop: ctypes.CDLL, floats: int, reps: int) -> float:
    """Bytes per second of the read loop over a buffer of ``floats`` floats (rounded up to
    whole 128-float blocks), read ``reps`` times; the fastest of three passes."""
    buf = torch.randn((floats + 127) // 128 * 128)
    sink = ctypes.c_float()
    seconds = min(loop.read_loop(buf.data_ptr(), buf.numel(), reps, ctypes.byref(sink))
                  for _ in range(3))
    return reps * buf.numel() * buf.element_size() / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,63,200", help="hidden sizes N")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load()
    loop = read_loop()
    rows = []
    for N in (int(s) for s in args.sizes.split(",")):
        fwd, bwd, step = torch.ops.lstm_odyssey_time_loop_parts.time_loop_parts(
            N, args.steps, args.reps)
        weight_bytes = 4 * N * N * 4
        rows.append({"N": N, "weights_kib": weight_bytes / 1024, "forward_product_us": fwd,
                     "backward_product_us": bwd, "forward_step_us": step,
                     "forward_product_gb_s": weight_bytes / fwd / 1e3,
                     "backward_product_gb_s": weight_bytes / bwd / 1e3,
                     "read_gb_s": read_rate(loop, 4 * N * N, args.steps) / 1e9})
    if args.json:
        print(json.dumps({"threads": 1, "clock": "thread_time", "rows": rows}, indent=1))
        return
    print(f"V, batch 1, float32, 1 thread, per step (fastest of {args.reps} passes of "
          f"{args.steps} steps, thread CPU time)")
    print(f"{'N':>4s} {'R KiB':>6s} {'fwd product':>17s} {'bwd product':>17s} "
          f"{'read loop':>10s} {'fwd product + pointwise':>24s}")
    for r in rows:
        print(f"{r['N']:4d} {r['weights_kib']:6.1f} {r['forward_product_us']:6.2f}us "
              f"{r['forward_product_gb_s']:4.0f} GB/s {r['backward_product_us']:6.2f}us "
              f"{r['backward_product_gb_s']:4.0f} GB/s {r['read_gb_s']:5.0f} GB/s "
              f"{r['forward_step_us']:21.2f}us")


if __name__ == "__main__":
    main()
