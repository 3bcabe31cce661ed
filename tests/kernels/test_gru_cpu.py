"""The GRU family's C++ cpu backend (kernels/gru_cpu.py, csrc/gru_cpu.cpp) against the reference
oracle (the family's step under autograd) and torch.nn.GRU: gradcheck of both variants, float64
and float32 agreement with and without padding, every vector remainder on both product paths,
inference mode, the memory bound and bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_odyssey import kernels
from lstm_odyssey.families import parse_variant
from lstm_odyssey.kernels import cpu, gru_cpu, reference
from lstm_odyssey.kernels.benchmark import _saved_bytes
from lstm_odyssey.nn import Recurrent, from_torch_gru

from .helpers import rel_err

pytestmark = pytest.mark.skipif(
    "cpu" not in kernels.available_backends("cpu"), reason="the C++ kernels cannot be built here"
)
VARIANTS = ["gru", "gru+lbr"]
LENGTHS = torch.tensor([4, 2, 0, 3])  # unsorted, one empty sequence, one shorter than T
F64 = {"rtol": 1e-10, "atol": 1e-12}


def make_inputs(name: str, T: int, B: int, M: int, N: int, dtype=torch.float64, seed: int = 0,
                scale: float = 0.5) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """``(x, params, h0)`` with random values, all requiring grad."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int, s: float = scale) -> torch.Tensor:
        return (torch.randn(*shape, generator=g, dtype=dtype) * s).requires_grad_()

    params = {"weight_ih": rand(3 * N, M), "weight_hh": rand(3 * N, N), "bias": rand(3 * N)}
    if name == "gru+lbr":
        params["bias_hn"] = rand(N)
    return rand(T, B, M, s=1.0), params, rand(B, N)


def outputs_and_grads(fn, name: str, x, params, h0, lengths, seed: int = 1):
    """Run ``fn`` (a family op) and backpropagate fixed random weights of y and h_n; returns the
    outputs and the gradients of x, every parameter and h0."""
    y, (h_n,) = fn(parse_variant(name), x, params, (h0,), lengths)
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in (y, h_n))
    grads = torch.autograd.grad(loss, [x, *params.values(), h0])
    return [y.detach(), h_n.detach()], list(grads)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("name", VARIANTS)
def test_gradcheck_float64(name, lengths):
    """Hand-written BPTT against finite differences: x, every parameter and h0."""
    x, params, h0 = make_inputs(name, T=4, B=4, M=3, N=3)
    keys = list(params)
    v = parse_variant(name)

    def fn(x, *rest):
        y, (h_n,) = gru_cpu.gru_sequence(v, x, dict(zip(keys, rest[:-1])), (rest[-1],), lengths)
        return y, h_n

    assert torch.autograd.gradcheck(fn, (x, *params.values(), h0), atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("name", VARIANTS)
def test_matches_reference_float64(name, lengths):
    """Outputs and every gradient equal the reference to float64 rounding; padded steps output
    zeros and keep the state."""
    x, params, h0 = make_inputs(name, T=5, B=4, M=3, N=7)  # N = 7: vector tails on every row
    ref_out, ref_grad = outputs_and_grads(reference.family_sequence, name, x, params, h0, lengths)
    out, grad = outputs_and_grads(gru_cpu.gru_sequence, name, x, params, h0, lengths)
    for a, b in zip(out + grad, ref_out + ref_grad, strict=True):
        torch.testing.assert_close(a, b, **F64)
    if lengths is not None:
        assert not out[0][3:, 3].any() and not out[0][:, 2].any()
        torch.testing.assert_close(out[1][2], h0[2].detach())  # the empty sequence keeps h0


@pytest.mark.parametrize("shape", [(60, 1, 39, 50), (100, 1, 39, 100), (30, 16, 39, 200)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", VARIANTS)
def test_float32_agrees_with_reference(name, shape):
    """float32 outputs and gradients within 1e-5 (normwise relative) of the float32 reference,
    with random lengths, at benchmark-like shapes (B = 1: the panel product; B = 16: BLAS)."""
    T, B, M, N = shape
    x, params, h0 = make_inputs(name, T, B, M, N, dtype=torch.float32, scale=0.1)
    lengths = torch.randint(1, T + 1, (B,), generator=torch.Generator().manual_seed(3))
    ref_out, ref_grad = outputs_and_grads(reference.family_sequence, name, x, params, h0, lengths)
    out, grad = outputs_and_grads(gru_cpu.gru_sequence, name, x, params, h0, lengths)
    for a, b in zip(out + grad, ref_out + ref_grad, strict=True):
        assert rel_err(a, b) <= 1e-5


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("B", [1, 5], ids=["small-batch", "blas"])
@pytest.mark.parametrize("N", [1, 3, 5, 9, 13, 17, 33])
def test_every_vector_remainder(N, B, dtype):
    """Hidden sizes that leave every possible partial vector in the products and the pointwise
    passes, on the small-batch path (B < 4) and the BLAS path; M = 2 and 9 (the input weights'
    gradient has its own loop for M ≤ 8)."""
    tol = F64 if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    for name in VARIANTS:
        for M in (2, 9):
            x, params, h0 = make_inputs(name, T=3, B=B, M=M, N=N, dtype=dtype)
            ref_out, ref_grad = outputs_and_grads(reference.family_sequence, name, x, params, h0,
                                                  None)
            out, grad = outputs_and_grads(gru_cpu.gru_sequence, name, x, params, h0, None)
            for a, b in zip(out + grad, ref_out + ref_grad, strict=True):
                torch.testing.assert_close(a, b, **tol, msg=name)


@pytest.mark.parametrize("name", VARIANTS)
def test_inference_equals_training_mode(name):
    x, params, h0 = make_inputs(name, T=9, B=4, M=3, N=5)
    v = parse_variant(name)
    y, (h_n,) = gru_cpu.gru_sequence(v, x, params, (h0,), LENGTHS)
    with torch.no_grad():
        y_i, (h_i,) = gru_cpu.gru_sequence(v, x, params, (h0,), LENGTHS)
    assert not y_i.requires_grad
    assert torch.equal(y_i, y.detach()) and torch.equal(h_i, h_n.detach())


@pytest.mark.parametrize("name", VARIANTS)
def test_memory_saved_for_backward_within_bound(name):
    """5·(T + 1)·B·N values beyond inputs and parameters (the record [h r z n e] of every step);
    the reference saves more."""
    T, B, N = 50, 3, 16
    x, params, h0 = make_inputs(name, T, B, 8, N, dtype=torch.float32)
    v = parse_variant(name)
    present = [x, *params.values(), h0]
    bound = 5 * (T + 1) * B * N * 4
    ours = _saved_bytes(lambda: gru_cpu.gru_sequence(v, x, params, (h0,)), present)
    ref = _saved_bytes(lambda: reference.family_sequence(v, x, params, (h0,)), present)
    assert ours <= bound < ref


def test_gru_lbr_equals_torch_gru():
    """gru+lbr on the cpu backend through from_torch_gru: outputs, h_n and the gradients of the
    input, h0 and every torch parameter (bias_hh of r and z equals bias_ih's, that of n is
    bias_hn's), float64, two layers, both directions."""
    torch.manual_seed(1)
    ref = nn.GRU(3, 5, num_layers=2, bidirectional=True).double()
    ours = from_torch_gru(ref, backend="cpu")
    x = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 4, 5, dtype=torch.float64, requires_grad=True)
    y_ref, h_ref = ref(x, h0)
    y, h = ours(x, h0)
    torch.testing.assert_close(y, y_ref, **F64)
    torch.testing.assert_close(h, h_ref, **F64)
    weights = torch.randn_like(y_ref)
    loss_ref, loss = ((y_ref * weights).sum() + h_ref.sum(), (y * weights).sum() + h.sum())
    torch.testing.assert_close(torch.autograd.grad(loss, [x, h0], retain_graph=True),
                               torch.autograd.grad(loss_ref, [x, h0], retain_graph=True), **F64)
    loss_ref.backward()
    loss.backward()
    n = 5
    for layer in range(2):
        for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
            g = {k: getattr(ref, k + suffix).grad for k in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            mine = {k: getattr(ours, k + suffix).grad for k in
                    ("weight_ih", "weight_hh", "bias", "bias_hn")}
            torch.testing.assert_close(mine["weight_ih"], g["weight_ih"], **F64)
            torch.testing.assert_close(mine["weight_hh"], g["weight_hh"], **F64)
            torch.testing.assert_close(mine["bias"], g["bias_ih"], **F64)
            torch.testing.assert_close(mine["bias"][:2 * n], g["bias_hh"][:2 * n], **F64)
            torch.testing.assert_close(mine["bias_hn"], g["bias_hh"][2 * n:], **F64)


@pytest.mark.parametrize("name", VARIANTS)
def test_gradcheck_bidirectional_module(name):
    """Both directions through Recurrent on the cpu backend (reversal per sequence length), h0,
    every parameter and lengths."""
    torch.manual_seed(0)
    rnn = Recurrent(2, 3, bidirectional=True, variant=name, backend="cpu", init="normal",
                    init_std=0.5).double()
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 1, 3])
    names, params = zip(*rnn.named_parameters())

    def fn(x, h0, *params):
        return torch.func.functional_call(rnn, dict(zip(names, params)), (x, h0),
                                          {"lengths": lengths})

    assert torch.autograd.gradcheck(fn, (x, h0, *params), atol=1e-7, rtol=1e-5)


def test_auto_runs_the_gru_on_the_cpu_backend():
    for name in VARIANTS:
        assert kernels.resolve_backend("auto", "cpu", name) == "cpu"
    x, params, h0 = make_inputs("gru+lbr", T=4, B=2, M=3, N=4)
    a = kernels.family_sequence(parse_variant("gru+lbr"), x, params, (h0,), backend="auto")
    b = kernels.family_sequence(parse_variant("gru+lbr"), x, params, (h0,), backend="reference")
    torch.testing.assert_close(a[0], b[0], **F64)


def test_bad_dtypes_and_devices_are_one_clear_error():
    v = parse_variant("gru")
    x, params, h0 = make_inputs("gru", 3, 2, 2, 3, dtype=torch.float32)
    with pytest.raises(cpu.CpuInputError, match="float32 or float64, not torch.float16"):
        gru_cpu.gru_sequence(v, x.half(), {k: p.half() for k, p in params.items()}, (h0.half(),))
    with pytest.raises(cpu.CpuInputError, match="every tensor on the CPU in torch.float64, got "
                                                "torch.float32 on cpu"):
        gru_cpu.gru_sequence(v, x.double(), params, (h0,))
    with pytest.raises(cpu.CpuInputError, match="got torch.float32 on meta"):
        gru_cpu.gru_sequence(v, x, params, (h0.to("meta"),))
    rnn = Recurrent(2, 3, variant="gru+lbr", backend="cpu").half()
    with pytest.raises(cpu.CpuInputError, match="float32 or float64"):
        rnn(torch.zeros(3, 1, 2, dtype=torch.float16))


def test_operands_of_the_wrong_size_are_an_error_not_a_crash():
    """The C++ side checks the state and the lengths before it reads them."""
    v = parse_variant("gru+lbr")
    x, params, h0 = make_inputs("gru+lbr", 3, 2, 2, 3)
    with pytest.raises(RuntimeError, match=r"each initial state must be \(B, N\) = \(2, 3\)"):
        gru_cpu.gru_sequence(v, x, params, (h0[:1],))
    with pytest.raises(RuntimeError, match="one length per sequence of the batch .2."):
        gru_cpu.gru_sequence(v, x, params, (h0,), torch.tensor([3]))
    with pytest.raises(RuntimeError, match="GRU parameter shapes"):
        gru_cpu.gru_sequence(v, x, {**params, "bias": params["bias"][:-1]}, (h0,))
