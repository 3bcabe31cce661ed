"""The CUDA backend: cuBLAS GEMMs from torch plus Triton pointwise kernels, one op per sequence.

Forward (docs/kernels.md), with K = ``len(spec.blocks)`` and G = ``len(spec.gates)``:

    Pre = X·Wᵀ + b                                  one GEMM for all T·B rows
    for t:  Pre_t += S_{t-1}·R_extᵀ                 torch GEMM accumulating in place (cuBLAS)
            _fwd_step: gates, c_t, y_t              ONE Triton pointwise kernel

``S_{t-1} = [y_{t-1} | a_{t-1}]`` is the recurrent operand: the output and, with full gate
recurrence (FGR), the previous gate activations ``a`` (gates in the order of ``spec.gates``,
zero at t = 0). ``R_ext = [R | Rg on the gate rows, 0 on the z rows]`` is ``(K·N, N + G·N)``,
so FGR is just a wider inner dimension of the same GEMM. Without FGR, ``S = y`` and
``R_ext = R``.

Saved for backward, per step (slot 0 holds the initial state):
``rec[t] = [y_t | a_t (G·N) | z_t]`` — post-activation values, from which σ' = s(1 − s),
tanh' = 1 − t² and identity' = 1 are derived — and ``c_t``. That is (K + 2)·(T + 1)·B·N
numbers; h(c_t) is recomputed. Without gradients only two slots of each are kept.

Backward (docs/kernels.md), per step in reverse order, ``dS`` being the gradient on
``S_t`` coming from step t + 1:

    _bwd_step: dPre_t and dc_{t-1} from dy_t = Δ_t + dS_t[y], da_t = dS_t[a], dc_t
    dS_{t-1} = dPre_t·R_ext                         torch GEMM

then ``dX = dPre·W``, ``dW = dPreᵀ·X``, ``db = Σ dPre``, ``[dR | dRg] = dPreᵀ·S_prev`` and
``dp_{i,f} = Σ dī,f̄ ⊙ c_{t-1}``, ``dp_o = Σ dō ⊙ c_t`` as a few large products after the loop.

Variable lengths: at t ≥ length_b the kernels carry the state (y, c and, with FGR, a)
unchanged, write a zero output and a zero dPre, and pass the state gradients through.

Variant switches are ``tl.constexpr``: Triton compiles one specialised kernel per CellSpec.
Without a GPU the same kernels run under ``TRITON_INTERPRET=1`` (set before this module is
imported), which is how the test suite checks them.

GEMMs run in full fp32 unless TF32 is switched on with :func:`set_allow_tf32`; the pointwise
kernels let the compiler fuse a·b + c into one FMA (one rounding instead of two).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..variants import CellSpec
from . import BackendError, BackendUnavailable
from .cpu import extended_recurrent

_TF32 = {"enabled": False}


def set_allow_tf32(enabled: bool) -> None:
    """Let this backend's fp32 GEMMs use TF32 tensor cores (faster, ~1e-3 relative error).

    Off by default, so float32 results match the reference to float32 rounding.
    """
    _TF32["enabled"] = bool(enabled)


def allow_tf32() -> bool:
    """Whether this backend's fp32 GEMMs may use TF32 (see :func:`set_allow_tf32`)."""
    return _TF32["enabled"]


@contextlib.contextmanager
def _gemm_precision(device: torch.device) -> Iterator[None]:
    """Apply this backend's TF32 switch to cuBLAS for the duration of one op."""
    if device.type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul
    old = matmul.allow_tf32
    matmul.allow_tf32 = _TF32["enabled"]
    try:
        yield
    finally:
        matmul.allow_tf32 = old


# -- Triton kernels -------------------------------------------------------------------------------


@triton.jit
def _tanh(x):
    """tanh from exp (the interpreter has no libdevice); a Taylor series near 0 keeps the
    relative error at rounding level where 1 − e^{−2|x|} would cancel."""
    ax = tl.abs(x)
    e = tl.exp(-2.0 * ax)
    big = (1.0 - e) / (1.0 + e)
    x2 = x * x
    small = x * (1.0 + x2 * (-0.3333333333333333 + x2 * (0.13333333333333333
                                                          + x2 * -0.05396825396825397)))
    return tl.where(ax < 0.05, small, tl.where(x < 0, -big, big))


@triton.jit(do_not_specialize=["t", "s_in", "s_out"])
def _fwd_step(
    pre_ptr, rec_ptr, c_ptr, y_ptr, p_ptr, len_ptr,
    t, s_in, s_out, B, N,
    K: tl.constexpr, G: tl.constexpr,
    HAS_I: tl.constexpr, HAS_F: tl.constexpr, CIFG: tl.constexpr, HAS_O: tl.constexpr,
    OFF_I: tl.constexpr, OFF_F: tl.constexpr, OFF_O: tl.constexpr,
    PEEP: tl.constexpr, FGR: tl.constexpr, TANH_IN: tl.constexpr, TANH_OUT: tl.constexpr,
    HAS_LEN: tl.constexpr, BLOCK: tl.constexpr,
):
    """One forward step for B·N cells: reads Pre_t (recurrent term already added), the state
    slot ``s_in``; writes the state slot ``s_out`` and the output y[t]."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = e < B * N
    b = (e // N).to(tl.int64)
    n = e % N
    t64 = tl.full([BLOCK], t, tl.int64)
    rw = (1 + K) * N  # record width [y | a | z]
    pre = pre_ptr + (t64 * B + b) * (K * N) + n
    r_in = rec_ptr + (s_in * B + b) * rw + n
    r_out = rec_ptr + (s_out * B + b) * rw + n
    c_prev = tl.load(c_ptr + (s_in * B + b) * N + n, mask=mask, other=0.0)

    z = tl.load(pre + G * N, mask=mask, other=0.0)
    if TANH_IN:
        z = _tanh(z)
    c = z
    if HAS_I:
        ib = tl.load(pre + OFF_I * N, mask=mask, other=0.0)
        if PEEP:
            ib += tl.load(p_ptr + OFF_I * N + n, mask=mask, other=0.0) * c_prev
        i = tl.sigmoid(ib)
        c = z * i
    if CIFG:
        c += c_prev * (1.0 - i)
    elif HAS_F:
        fb = tl.load(pre + OFF_F * N, mask=mask, other=0.0)
        if PEEP:
            fb += tl.load(p_ptr + OFF_F * N + n, mask=mask, other=0.0) * c_prev
        f = tl.sigmoid(fb)
        c += c_prev * f
    else:
        c += c_prev
    y = c
    if TANH_OUT:
        y = _tanh(c)
    if HAS_O:
        ob = tl.load(pre + OFF_O * N, mask=mask, other=0.0)
        if PEEP:
            ob += tl.load(p_ptr + OFF_O * N + n, mask=mask, other=0.0) * c
        o = tl.sigmoid(ob)
        y = y * o

    y_out = y
    if HAS_LEN:
        alive = t64 < tl.load(len_ptr + b, mask=mask, other=0)
        y_out = tl.where(alive, y, 0.0)
        y = tl.where(alive, y, tl.load(r_in, mask=mask, other=0.0))
        c = tl.where(alive, c, c_prev)
        if FGR:
            if HAS_I:
                i = tl.where(alive, i, tl.load(r_in + (1 + OFF_I) * N, mask=mask, other=0.0))
            if HAS_F:
                f = tl.where(alive, f, tl.load(r_in + (1 + OFF_F) * N, mask=mask, other=0.0))
            if HAS_O:
                o = tl.where(alive, o, tl.load(r_in + (1 + OFF_O) * N, mask=mask, other=0.0))

    tl.store(y_ptr + (t64 * B + b) * N + n, y_out, mask=mask)
    tl.store(c_ptr + (s_out * B + b) * N + n, c, mask=mask)
    tl.store(r_out, y, mask=mask)
    if HAS_I:
        tl.store(r_out + (1 + OFF_I) * N, i, mask=mask)
    if HAS_F:
        tl.store(r_out + (1 + OFF_F) * N, f, mask=mask)
    if HAS_O:
        tl.store(r_out + (1 + OFF_O) * N, o, mask=mask)
    tl.store(r_out + (1 + G) * N, z, mask=mask)


@triton.jit(do_not_specialize=["t"])
def _bwd_step(
    rec_ptr, c_ptr, dy_ptr, ds_ptr, dc_ptr, dpre_ptr, p_ptr, len_ptr,
    t, B, N,
    K: tl.constexpr, G: tl.constexpr,
    HAS_I: tl.constexpr, HAS_F: tl.constexpr, CIFG: tl.constexpr, HAS_O: tl.constexpr,
    OFF_I: tl.constexpr, OFF_F: tl.constexpr, OFF_O: tl.constexpr,
    PEEP: tl.constexpr, FGR: tl.constexpr, TANH_IN: tl.constexpr, TANH_OUT: tl.constexpr,
    HAS_LEN: tl.constexpr, BLOCK: tl.constexpr,
):
    """One backward step: dPre_t from dy_t = Δ_t + dS_t[y], da_t = dS_t[a] and dc_t (in
    ``dc``); replaces ``dc`` by dc_{t-1} and clears the consumed part of ``dS`` (the GEMM
    ``dS += dPre_t·R_ext`` that follows adds the recurrent gradient)."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = e < B * N
    b = (e // N).to(tl.int64)
    n = e % N
    t64 = tl.full([BLOCK], t, tl.int64)
    rw = (1 + K) * N
    sw = N
    if FGR:
        sw = (1 + G) * N
    rec = rec_ptr + ((t64 + 1) * B + b) * rw + n
    dpre = dpre_ptr + (t64 * B + b) * (K * N) + n
    ds = ds_ptr + b * sw + n
    c_prev = tl.load(c_ptr + (t64 * B + b) * N + n, mask=mask, other=0.0)
    c = tl.load(c_ptr + ((t64 + 1) * B + b) * N + n, mask=mask, other=0.0)
    dh = tl.load(ds, mask=mask, other=0.0)
    dc_next = tl.load(dc_ptr + b * N + n, mask=mask, other=0.0)
    dy = dh + tl.load(dy_ptr + (t64 * B + b) * N + n, mask=mask, other=0.0)
    z = tl.load(rec + (1 + G) * N, mask=mask, other=0.0)

    hc = c
    if TANH_OUT:
        hc = _tanh(c)
    dc = dc_next
    if HAS_O:
        o = tl.load(rec + (1 + OFF_O) * N, mask=mask, other=0.0)
        d_o = dy * hc
        if FGR:
            d_o += tl.load(ds + (1 + OFF_O) * N, mask=mask, other=0.0)
        d_obar = d_o * o * (1.0 - o)
        if TANH_OUT:
            dc += dy * o * (1.0 - hc * hc)
        else:
            dc += dy * o
        if PEEP:
            dc += tl.load(p_ptr + OFF_O * N + n, mask=mask, other=0.0) * d_obar
    else:
        if TANH_OUT:
            dc += dy * (1.0 - hc * hc)
        else:
            dc += dy

    dc_prev = dc
    i_fac = dc
    if HAS_I:
        i = tl.load(rec + (1 + OFF_I) * N, mask=mask, other=0.0)
        d_i = dc * z
        if CIFG:
            d_i -= dc * c_prev
            dc_prev = dc * (1.0 - i)
        if FGR:
            d_i += tl.load(ds + (1 + OFF_I) * N, mask=mask, other=0.0)
        d_ibar = d_i * i * (1.0 - i)
        i_fac = dc * i
    if HAS_F:
        f = tl.load(rec + (1 + OFF_F) * N, mask=mask, other=0.0)
        d_f = dc * c_prev
        if FGR:
            d_f += tl.load(ds + (1 + OFF_F) * N, mask=mask, other=0.0)
        d_fbar = d_f * f * (1.0 - f)
        dc_prev = dc * f
    d_zbar = i_fac
    if TANH_IN:
        d_zbar = i_fac * (1.0 - z * z)
    if PEEP:
        if HAS_I:
            dc_prev += tl.load(p_ptr + OFF_I * N + n, mask=mask, other=0.0) * d_ibar
        if HAS_F:
            dc_prev += tl.load(p_ptr + OFF_F * N + n, mask=mask, other=0.0) * d_fbar

    if HAS_LEN:
        alive = t64 < tl.load(len_ptr + b, mask=mask, other=0)
        d_zbar = tl.where(alive, d_zbar, 0.0)
        dc_prev = tl.where(alive, dc_prev, dc_next)
        tl.store(ds, tl.where(alive, 0.0, dh), mask=mask)
        if HAS_I:
            d_ibar = tl.where(alive, d_ibar, 0.0)
            if FGR:
                keep = tl.load(ds + (1 + OFF_I) * N, mask=mask, other=0.0)
                tl.store(ds + (1 + OFF_I) * N, tl.where(alive, 0.0, keep), mask=mask)
        if HAS_F:
            d_fbar = tl.where(alive, d_fbar, 0.0)
            if FGR:
                keep = tl.load(ds + (1 + OFF_F) * N, mask=mask, other=0.0)
                tl.store(ds + (1 + OFF_F) * N, tl.where(alive, 0.0, keep), mask=mask)
        if HAS_O:
            d_obar = tl.where(alive, d_obar, 0.0)
            if FGR:
                keep = tl.load(ds + (1 + OFF_O) * N, mask=mask, other=0.0)
                tl.store(ds + (1 + OFF_O) * N, tl.where(alive, 0.0, keep), mask=mask)
    else:
        tl.store(ds, tl.zeros_like(dh), mask=mask)
        if FGR:
            for g in tl.static_range(G):
                tl.store(ds + (1 + g) * N, tl.zeros_like(dh), mask=mask)

    tl.store(dc_ptr + b * N + n, dc_prev, mask=mask)
    if HAS_I:
        tl.store(dpre + OFF_I * N, d_ibar, mask=mask)
    if HAS_F:
        tl.store(dpre + OFF_F * N, d_fbar, mask=mask)
    if HAS_O:
        tl.store(dpre + OFF_O * N, d_obar, mask=mask)
    tl.store(dpre + G * N, d_zbar, mask=mask)


# -- host side ------------------------------------------------------------------------------------


def _switches(spec: CellSpec) -> dict[str, int | bool]:
    """The constexpr arguments both kernels take for ``spec``."""
    gates = spec.gates
    return {
        "K": len(spec.blocks),
        "G": len(gates),
        "HAS_I": "i" in gates,
        "HAS_F": "f" in gates,
        "CIFG": spec.coupled_input_forget,
        "HAS_O": "o" in gates,
        "OFF_I": gates.index("i") if "i" in gates else 0,
        "OFF_F": gates.index("f") if "f" in gates else 0,
        "OFF_O": gates.index("o") if "o" in gates else 0,
        "PEEP": bool(spec.peephole_gates),
        "FGR": spec.full_gate_recurrence,
        "TANH_IN": spec.input_activation == "tanh",
        "TANH_OUT": spec.output_activation == "tanh",
    }


def _launch_shape(cells: int) -> tuple[tuple[int], int]:
    """Grid and BLOCK for a pointwise kernel over ``cells`` = B·N elements: at most 256 per
    program, so that a step spreads over many SMs (at B·N = 64·512, 128 programs)."""
    block = min(256, triton.next_power_of_2(max(cells, 16)))
    return (triton.cdiv(cells, block),), block


class TritonLSTMFunction(torch.autograd.Function):
    """One direction of one layer: Triton pointwise kernels around torch GEMMs, hand-written
    backward. ``apply(spec, lengths, save, x, W, R, b, p, Rg, h0, c0) -> (y, h_n, c_n)``."""

    @staticmethod
    def forward(ctx, spec, lengths, save, x, W, R, b, p, Rg, h0, c0):
        """Run the time loop; keep T + 1 state slots when ``save`` (gradients needed), else 2."""
        T, B, M = x.shape
        N = h0.shape[1]
        sw = _switches(spec)
        K, G = sw["K"], sw["G"]
        s_width = (1 + G) * N if spec.full_gate_recurrence else N
        r_ext = extended_recurrent(spec, R, Rg)
        grid, block = _launch_shape(B * N)
        slots = T + 1 if save else 2
        rec = x.new_zeros(slots, B, (1 + K) * N)
        cells = x.new_empty(slots, B, N)
        rec[0, :, :N] = h0
        cells[0] = c0
        y = x.new_empty(T, B, N)
        dummy = cells
        with _gemm_precision(x.device):
            pre = torch.addmm(b, x.reshape(T * B, M), W.t()).view(T, B, K * N)
            r_ext_t = r_ext.t()
            for t in range(T):
                s_in, s_out = (t, t + 1) if save else (t % 2, (t + 1) % 2)
                pre[t].addmm_(rec[s_in, :, :s_width], r_ext_t)
                _fwd_step[grid](
                    pre, rec, cells, y, dummy if p is None else p,
                    dummy if lengths is None else lengths,
                    t, s_in, s_out, B, N, HAS_LEN=lengths is not None, BLOCK=block,
                    enable_fp_fusion=True, **sw,
                )
        last = T if save else T % 2
        h_n = rec[last, :, :N].clone()
        c_n = cells[last].clone()
        if save:
            ctx.spec = spec
            ctx.has_lengths = lengths is not None
            ctx.save_for_backward(rec, cells, x, W, r_ext, p, lengths)
        return y, h_n, c_n

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n):
        """Reverse loop of one Triton kernel + one GEMM, then the parameter gradients."""
        rec, cells, x, W, r_ext, p, lengths = ctx.saved_tensors
        spec = ctx.spec
        T, B, M = x.shape
        N = dh_n.shape[1]
        sw = _switches(spec)
        K, G = sw["K"], sw["G"]
        s_width = r_ext.shape[1]
        grid, block = _launch_shape(B * N)
        dy = dy.contiguous()
        ds = x.new_zeros(B, s_width)
        ds[:, :N] = dh_n
        dc = dc_n.contiguous().clone()
        dpre = x.new_empty(T, B, K * N)
        dummy = dc
        with _gemm_precision(x.device):
            for t in reversed(range(T)):
                _bwd_step[grid](
                    rec, cells, dy, ds, dc, dpre, dummy if p is None else p,
                    lengths if ctx.has_lengths else dummy,
                    t, B, N, HAS_LEN=ctx.has_lengths, BLOCK=block, enable_fp_fusion=True, **sw,
                )
                ds.addmm_(dpre[t], r_ext)
            flat = dpre.view(T * B, K * N)
            need = ctx.needs_input_grad  # spec, lengths, save, x, W, R, b, p, Rg, h0, c0
            dx = (flat @ W).view(T, B, M) if need[3] else None
            dW = flat.t() @ x.reshape(T * B, M) if need[4] else None
            d_rext = flat.t() @ rec[:T].view(T * B, (1 + K) * N)[:, :s_width]
        db = flat.sum(0) if need[6] else None
        dR = d_rext[:, :N] if need[5] else None
        dRg = d_rext[: G * N, N:] if spec.full_gate_recurrence and need[8] else None
        dp = None
        if spec.peephole_gates and need[7]:
            per_gate = []
            for k, g in enumerate(spec.peephole_gates):
                seen = cells[1:] if g == "o" else cells[:T]  # o peeks at c_t, i and f at c_{t-1}
                per_gate.append((dpre[:, :, k * N:(k + 1) * N] * seen).sum((0, 1)))
            dp = torch.cat(per_gate)
        dh0 = ds[:, :N].clone() if need[9] else None
        dc0 = dc if need[10] else None
        return None, None, None, dx, dW, dR, db, dp, dRg, dh0, dc0


def lstm_sequence(
    spec: CellSpec,
    x: Tensor,
    W: Tensor,
    R: Tensor,
    b: Tensor,
    p: Tensor | None,
    Rg: Tensor | None,
    h0: Tensor,
    c0: Tensor,
    lengths: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one direction over ``x`` (T, B, M); same contract as
    :func:`lstm_odyssey.kernels.reference.lstm_sequence`: returns ``(y, h_n, c_n)`` with
    ``y`` zero past each length. Without gradients only two steps of state are kept."""
    if x.dtype not in (torch.float32, torch.float64):
        raise BackendError(
            f"backend 'triton' computes in float32 or float64, not {x.dtype}; "
            "convert the module with .float() or .double()"
        )
    if not x.is_cuda and isinstance(_fwd_step, triton.runtime.JITFunction):
        raise BackendUnavailable(
            f"backend 'triton' runs on CUDA tensors, not {x.device.type} (set TRITON_INTERPRET=1 "
            "before importing lstm_odyssey to run its kernels on the CPU, slowly)"
        )
    tensors = [x, W, R, b, p, Rg, h0, c0]
    save = torch.is_grad_enabled() and any(v is not None and v.requires_grad for v in tensors)
    x, W, R, b, p, Rg, h0, c0 = (None if v is None else v.contiguous() for v in tensors)
    if lengths is not None:
        lengths = lengths.to(device=x.device, dtype=torch.int64).contiguous()
    ctx = torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()
    with ctx:
        return TritonLSTMFunction.apply(spec, lengths, save, x, W, R, b, p, Rg, h0, c0)
