"""Compile the Triton kernels for a CUDA GPU (sm_90) without one: Triton → PTX → cubin.

Run as ``python -m tests.kernels_triton.cuda_compile`` in a process WITHOUT
``TRITON_INTERPRET`` (the interpreter accepts code the compiler rejects: typing of constexpr
branches, int64 offsets, fp64 math). Prints one line per kernel and exits non-zero on failure.
"""

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from lstm_odyssey.kernels import BackendError
from lstm_odyssey.kernels import triton_backend as tb
from lstm_odyssey.variants import CellSpec

CASES = [  # (variant, dtype, lengths): every switch appears at least once
    ("V", "fp32", True), ("nog+niaf", "fp32", True), ("cifg+np", "fp32", False),
    ("fgr+nig+noaf", "fp32", True), ("nfg", "fp32", False), ("fgr+cifg", "fp64", True),
]


def compile_kernel(kernel, spec: CellSpec, dtype: str, has_len: bool) -> int:
    """Compile one kernel for sm_90; returns the size of its cubin."""
    names = kernel.arg_names
    constexprs = dict(tb._switches(spec), HAS_LEN=has_len, BLOCK=256)
    signature = {}
    for name in names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name == "len_ptr":
            signature[name] = "*i64"
        elif name.endswith("_ptr"):
            signature[name] = f"*{dtype}"
        else:
            signature[name] = "i32"
    src = ASTSource(kernel, signature,
                    constexprs={(names.index(k),): v for k, v in constexprs.items()})
    compiled = triton.compile(src, target=GPUTarget("cuda", 90, 32),
                              options={"enable_fp_fusion": True})
    return len(compiled.asm["cubin"])


def check_cpu_tensors_refused() -> None:
    """Without the interpreter, CPU tensors get a one-line UserError, not a driver error."""
    spec = CellSpec()
    x, h = torch.zeros(2, 1, 3), torch.zeros(1, 2)
    try:
        tb.lstm_sequence(spec, x, torch.zeros(8, 3), torch.zeros(8, 2), torch.zeros(8),
                         torch.zeros(6), None, h, h)
    except BackendError as e:
        print(f"ok refused: {e}")
    else:
        raise AssertionError("CPU tensors ran without the interpreter")


def main() -> None:
    assert isinstance(tb._fwd_step, triton.runtime.JITFunction), "run without TRITON_INTERPRET"
    check_cpu_tensors_refused()
    for variant, dtype, has_len in CASES:
        spec = CellSpec.parse(variant)
        for kernel in (tb._fwd_step, tb._bwd_step):
            size = compile_kernel(kernel, spec, dtype, has_len)
            assert size > 0
            print(f"ok {kernel.fn.__name__} {spec} {dtype} lengths={has_len} cubin={size}B")


if __name__ == "__main__":
    main()
