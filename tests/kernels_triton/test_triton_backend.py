"""The Triton backend against the reference oracle, run on the CPU by Triton's interpreter.

``conftest.py`` sets ``TRITON_INTERPRET=1`` before the backend is imported. The interpreter
costs tens of milliseconds per kernel launch, so shapes are tiny and gradcheck uses fast mode
(random projections of the Jacobian, still exact to float64 rounding).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_odyssey import LSTM, from_torch_lstm, kernels
from lstm_odyssey.kernels import reference
from lstm_odyssey.kernels import triton_backend as tb
from lstm_odyssey.variants import PRESET_NAMES, CellSpec

# Every preset and two combinations: the Cho-style coupled LSTM, and FGR without an input gate
# and with an identity output activation (gate offsets shift, no h').
GRADCHECK_SPECS = list(PRESET_NAMES) + ["cifg+np", "fgr+nig+noaf"]
# More combinations for the cheap float64 comparison.
SPECS = GRADCHECK_SPECS + ["fgr+cifg+niaf", "nog+niaf+np", "nfg+fgr+np"]


def test_kernels_run_in_the_interpreter():
    from triton.runtime.interpreter import InterpretedFunction

    assert isinstance(tb._fwd_step, InterpretedFunction)
    assert isinstance(tb._bwd_step, InterpretedFunction)


def _inputs(spec, T, B, M, N, dtype=torch.float64, seed=0, peephole_scale=0.5):
    """Random ``[x, W, R, b, p, Rg, h0, c0]`` (None where the variant has no such parameter)."""
    gen = torch.Generator().manual_seed(seed)
    K, G, P = len(spec.blocks), len(spec.gates), len(spec.peephole_gates)

    def r(*shape, scale=0.5):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * scale).requires_grad_()

    return [
        r(T, B, M, scale=1.0), r(K * N, M), r(K * N, N), r(K * N),
        r(P * N, scale=peephole_scale) if P else None,
        r(G * N, G * N) if spec.full_gate_recurrence else None,
        r(B, N), r(B, N),
    ]


def _run_and_grads(fn, spec, inputs, lengths, weights):
    """Outputs of ``fn`` and the gradients of a loss touching y, h_n and c_n."""
    outs = fn(spec, *inputs, lengths)
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    live = [v for v in inputs if v is not None]
    return outs, torch.autograd.grad(loss, live)


@pytest.mark.parametrize("name", SPECS)
def test_matches_reference_float64(name):
    spec = CellSpec.parse(name)
    T, B, M, N = 5, 3, 4, 3
    inputs = _inputs(spec, T, B, M, N)
    lengths = torch.tensor([5, 2, 4])
    weights = [torch.randn(T, B, N, dtype=torch.float64), torch.randn(B, N, dtype=torch.float64),
               torch.randn(B, N, dtype=torch.float64)]
    outs_ref, grads_ref = _run_and_grads(reference.lstm_sequence, spec, inputs, lengths, weights)
    outs, grads = _run_and_grads(tb.lstm_sequence, spec, inputs, lengths, weights)
    assert (outs[0][2:, 1] == 0).all()  # zero past the length
    for a, b in zip(outs + grads, outs_ref + grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", GRADCHECK_SPECS)
def test_gradcheck_float64(name):
    spec = CellSpec.parse(name)
    inputs = _inputs(spec, T=3, B=2, M=2, N=2)
    lengths = torch.tensor([3, 1])
    live = [i for i, v in enumerate(inputs) if v is not None]

    def fn(*tensors):
        args = list(inputs)
        for i, v in zip(live, tensors):
            args[i] = v
        return tb.lstm_sequence(spec, *args, lengths)

    assert torch.autograd.gradcheck(fn, [inputs[i] for i in live], fast_mode=True)


@pytest.mark.parametrize("name", GRADCHECK_SPECS)
def test_float32_matches_float64_reference(name):
    spec = CellSpec.parse(name)
    T, B, M, N = 6, 3, 5, 8
    inputs64 = _inputs(spec, T, B, M, N, seed=1)
    inputs32 = [None if v is None else v.detach().float().requires_grad_() for v in inputs64]
    lengths = torch.tensor([6, 3, 5])
    weights = [torch.randn(T, B, N), torch.randn(B, N), torch.randn(B, N)]
    outs_ref, grads_ref = _run_and_grads(reference.lstm_sequence, spec, inputs64, lengths,
                                         [w.double() for w in weights])
    outs, grads = _run_and_grads(tb.lstm_sequence, spec, inputs32, lengths, weights)
    for a, b in zip(outs + grads, outs_ref + grads_ref):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-6)


def test_peephole_gradients():
    """Each peephole's gradient reads the right cell: p_i and p_f see c_{t-1}, p_o the new c_t
    (a fused GPU LSTM once added a peephole term twice). Large peepholes make every term count;
    checked against the reference and against central differences, gate by gate."""
    spec = CellSpec()
    T, B, M, N = 4, 2, 3, 2
    inputs = _inputs(spec, T, B, M, N, seed=3, peephole_scale=2.0)
    lengths = torch.tensor([4, 3])
    weights = [torch.randn(T, B, N, dtype=torch.float64), torch.randn(B, N, dtype=torch.float64),
               torch.randn(B, N, dtype=torch.float64)]
    p = inputs[4]
    _, grads_ref = _run_and_grads(reference.lstm_sequence, spec, inputs, lengths, weights)
    _, grads = _run_and_grads(tb.lstm_sequence, spec, inputs, lengths, weights)
    dp, dp_ref = grads[4], grads_ref[4]
    dc0, dc0_ref = grads[-1], grads_ref[-1]  # dc_{t-1} carries p_i ⊙ dī + p_f ⊙ df̄
    for k, gate in enumerate(spec.peephole_gates):
        block = slice(k * N, (k + 1) * N)
        torch.testing.assert_close(dp[block], dp_ref[block], rtol=1e-10, atol=1e-12, msg=gate)
    torch.testing.assert_close(dc0, dc0_ref, rtol=1e-10, atol=1e-12)

    def loss(p_value):
        args = list(inputs)
        args[4] = p_value
        with torch.no_grad():
            outs = tb.lstm_sequence(spec, *args, lengths)
        return sum((o * w).sum() for o, w in zip(outs, weights)).item()

    eps = 1e-6
    for j in range(p.numel()):
        step = torch.zeros_like(p)
        step[j] = eps
        numeric = (loss(p.detach() + step) - loss(p.detach() - step)) / (2 * eps)
        assert abs(numeric - dp[j].item()) < 1e-7 * max(1.0, abs(numeric)), j


@pytest.mark.parametrize("name", ["V", "fgr+cifg+niaf"])
def test_inference_without_grad_matches(name):
    """Without gradients the op keeps two state slots; odd T checks the slot alternation."""
    spec = CellSpec.parse(name)
    inputs = [None if v is None else v.detach() for v in _inputs(spec, 7, 2, 3, 4)]
    lengths = torch.tensor([7, 4])
    with torch.no_grad():
        outs = tb.lstm_sequence(spec, *inputs, lengths)
        outs_ref = reference.lstm_sequence(spec, *inputs, lengths)
    for a, b in zip(outs, outs_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_without_lengths_and_with_all_full_lengths_agree():
    spec = CellSpec.parse("fgr")
    inputs = _inputs(spec, 4, 2, 3, 2)
    a = tb.lstm_sequence(spec, *inputs, None)
    b = tb.lstm_sequence(spec, *inputs, torch.tensor([4, 4]))
    c = reference.lstm_sequence(spec, *inputs, None)
    for u, v, w in zip(a, b, c):
        torch.testing.assert_close(u, v, rtol=0, atol=0)
        torch.testing.assert_close(u, w, rtol=1e-10, atol=1e-12)


def test_tf32_switch_scopes_cublas_flag():
    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32
    cuda = torch.device("cuda")
    try:
        matmul.allow_tf32 = True  # a user's global setting must not leak into our GEMMs
        assert not tb.allow_tf32()
        with tb._gemm_precision(cuda):
            assert matmul.allow_tf32 is False
        assert matmul.allow_tf32 is True
        tb.set_allow_tf32(True)
        matmul.allow_tf32 = False
        with tb._gemm_precision(cuda):
            assert matmul.allow_tf32 is True
        assert matmul.allow_tf32 is False
    finally:
        tb.set_allow_tf32(False)
        matmul.allow_tf32 = before


def test_dispatcher_routes_triton():
    assert "triton" in kernels.BACKENDS
    assert kernels.resolve_backend("triton", "cuda") == "triton"
    assert kernels.resolve_backend("auto", "cuda") == "triton"
    assert kernels.resolve_backend("auto", "cpu") != "triton"
    spec = CellSpec.parse("cifg")
    inputs = _inputs(spec, 3, 2, 3, 2)
    lengths = torch.tensor([3, 2])
    ours = kernels.lstm_sequence(spec, *inputs, lengths, backend="triton")
    ref = reference.lstm_sequence(spec, *inputs, lengths)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("variant", ["V", "FGR"])
def test_bidirectional_module_matches_reference_backend(variant):
    """The module through the triton backend: bidirectional, lengths and (h0, c0), every
    parameter gradient equal to the reference backend's."""
    torch.manual_seed(0)
    T, B, M, N = 5, 3, 3, 2
    mods = [LSTM(M, N, bidirectional=True, variant=variant, backend=backend).double()
            for backend in ("reference", "triton")]
    mods[1].load_state_dict(mods[0].state_dict())
    x = torch.randn(T, B, M, dtype=torch.float64)
    h0 = torch.randn(2, B, N, dtype=torch.float64)
    c0 = torch.randn(2, B, N, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    w = torch.randn(T, B, 2 * N, dtype=torch.float64)
    results = []
    for mod in mods:
        xs, hs, cs = (v.clone().requires_grad_() for v in (x, h0, c0))
        out, (h_n, c_n) = mod(xs, (hs, cs), lengths=lengths)
        ((out * w).sum() + h_n.pow(2).sum() + c_n.sum()).backward()
        results.append([out, h_n, c_n, xs.grad, hs.grad, cs.grad]
                       + [p.grad for p in mod.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_bidirectional_module_gradcheck():
    torch.manual_seed(1)
    mod = LSTM(2, 2, bidirectional=True, backend="triton").double()
    lengths = torch.tensor([3, 2])

    def fn(x, h0, c0):
        out, (h_n, c_n) = mod(x, (h0, c0), lengths=lengths)
        return out, h_n, c_n

    args = [torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True),
            torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True),
            torch.randn(2, 2, 2, dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(fn, args, fast_mode=True)


@pytest.mark.parametrize("lengths", [None, [6, 2, 4]])
def test_np_equals_torch_lstm(lengths):
    """NP through the triton backend is torch.nn.LSTM: outputs, states and every gradient."""
    T, B, M, N = 6, 3, 4, 5
    torch.manual_seed(2)
    theirs = nn.LSTM(M, N, num_layers=2, bidirectional=True).double()
    ours = from_torch_lstm(theirs, backend="triton")
    x = torch.randn(T, B, M, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    if lengths is None:
        out1, (h1, c1) = theirs(x1)
        out2, (h2, c2) = ours(x2)
    else:
        lengths = torch.tensor(lengths)
        packed, (h1, c1) = theirs(pack_padded_sequence(x1, lengths, enforce_sorted=False))
        out1, _ = pad_packed_sequence(packed, total_length=T)
        out2, (h2, c2) = ours(x2, lengths=lengths)
    for a, b in ((out2, out1), (h2, h1), (c2, c1)):
        torch.testing.assert_close(a, b)
    w = torch.randn_like(out1)
    ((out1 * w).sum() + h1.pow(2).sum() + c1.sum()).backward()
    ((out2 * w).sum() + h2.pow(2).sum() + c2.sum()).backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    rows = torch.cat([torch.arange(k * N, (k + 1) * N) for k in (0, 1, 3, 2)])  # i f g o -> i f o z
    for name, p in theirs.named_parameters():
        if name.startswith("bias_hh"):
            continue
        torch.testing.assert_close(getattr(ours, name.replace("bias_ih", "bias")).grad,
                                   p.grad[rows], msg=name)


@pytest.mark.slow
def test_kernels_compile_for_cuda():
    """The interpreter runs code the GPU compiler may reject: compile every switch for sm_90
    (ptxas ships with triton) in a process without TRITON_INTERPRET."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "tests.kernels_triton.cuda_compile"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok ") == 13  # 12 kernels + the CPU refusal


@pytest.mark.parametrize("name", ["V", "cifg+np", "fgr"])
def test_saved_for_backward_is_k_plus_2_states_per_step(name):
    """Besides its inputs and R_ext, the op saves (K + 2)·(T + 1)·B·N numbers (docs/kernels.md):
    [y | gates | z] and c per step, nothing else of length T."""
    spec = CellSpec.parse(name)
    T, B, M, N = 4, 2, 3, 2
    inputs = _inputs(spec, T, B, M, N)
    lengths = torch.tensor([4, 3])
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda v: saved.append(v) or v, lambda v: v):
        tb.lstm_sequence(spec, *inputs, lengths)
    x, W, R, _, p, Rg = inputs[:6]
    K = len(spec.blocks)
    r_ext = R.numel() + (Rg.numel() + N * Rg.shape[1] if Rg is not None else 0)
    others = x.numel() + W.numel() + r_ext + (p.numel() if p is not None else 0) + B
    assert sum(v.numel() for v in saved) - others == (K + 2) * (T + 1) * B * N


def test_several_programs_per_step():
    """B·N = 300 > BLOCK: cells split across programs, the last one partly masked."""
    spec = CellSpec.parse("fgr+cifg")
    T, B, M, N = 2, 10, 3, 30
    inputs = _inputs(spec, T, B, M, N, seed=4)
    lengths = torch.tensor([2, 1] * 5)
    weights = [torch.randn(T, B, N, dtype=torch.float64), torch.randn(B, N, dtype=torch.float64),
               torch.randn(B, N, dtype=torch.float64)]
    assert tb._launch_shape(B * N)[0][0] > 1
    outs_ref, grads_ref = _run_and_grads(reference.lstm_sequence, spec, inputs, lengths, weights)
    outs, grads = _run_and_grads(tb.lstm_sequence, spec, inputs, lengths, weights)
    for a, b in zip(outs + grads, outs_ref + grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
