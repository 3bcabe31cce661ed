"""The C++ cpu backend against the reference oracle: gradcheck, float64/float32 agreement,
peephole gradients, lengths, inference mode and the memory bound."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_odyssey import kernels
from lstm_odyssey.kernels import cpu, reference
from lstm_odyssey.kernels.benchmark import _saved_bytes
from lstm_odyssey.variants import CellSpec

from .helpers import SPECS, make_inputs, outputs_and_grads, rel_err

pytestmark = pytest.mark.skipif(
    "cpu" not in kernels.available_backends("cpu"), reason="the C++ kernels cannot be built here"
)
LENGTHS = torch.tensor([4, 2, 0, 3])  # unsorted, one empty sequence, one shorter than T


@pytest.mark.parametrize("name", list(SPECS))
def test_gradcheck_float64(name):
    """Hand-written BPTT against finite differences: every input incl. h0, c0, with lengths."""
    spec = SPECS[name]
    inputs = make_inputs(spec, T=4, B=4, M=3, N=3)
    present = [i for i, t in enumerate(inputs) if t is not None]

    def fn(*ts):
        full = list(inputs)
        for i, t in zip(present, ts):
            full[i] = t
        return cpu.lstm_sequence(spec, *full, LENGTHS)

    assert torch.autograd.gradcheck(fn, [inputs[i] for i in present], atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_matches_reference_float64(name, lengths):
    """Outputs and all gradients equal the reference to float64 rounding."""
    spec = SPECS[name]
    inputs = make_inputs(spec, T=5, B=4, M=3, N=7)  # N=7: vector tails on every row
    ref_out, ref_grad = outputs_and_grads(reference.lstm_sequence, spec, inputs, lengths)
    out, grad = outputs_and_grads(cpu.lstm_sequence, spec, inputs, lengths)
    for a, b in zip(out + grad, ref_out + ref_grad):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["V", "NIG", "NFG", "NOG", "CIFG", "FGR", "NIG+NOAF+FGR"])
def test_peephole_gradients(name):
    """Each peephole vector's gradient, separately (a term added twice would pass a loose
    end-to-end test): dp_i, dp_f read c_{t-1}, dp_o reads the new c_t."""
    spec = SPECS[name]
    n = 5
    inputs = make_inputs(spec, T=6, B=3, M=2, N=n, scale=0.8)
    _, ref_grad = outputs_and_grads(reference.lstm_sequence, spec, inputs, LENGTHS[:3])
    _, grad = outputs_and_grads(cpu.lstm_sequence, spec, inputs, LENGTHS[:3])
    ip = 4  # x, W, R, b come before p
    for k, gate in enumerate(spec.peephole_gates):
        ours, ref = grad[ip][k * n:(k + 1) * n], ref_grad[ip][k * n:(k + 1) * n]
        assert ref.abs().max() > 1e-3, f"p_{gate} gradient is trivially small"
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-12), f"dp_{gate} differs"


@pytest.mark.parametrize("M", [1, 4, 8, 9])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_input_weight_gradient_for_few_and_many_features(M, dtype):
    """dW = dPreᵀ·X has its own loop for M ≤ 8 input features (handwriting's 4) and BLAS above:
    both equal the reference (float64 to rounding, float32 within 1e-5 normwise)."""
    spec = SPECS["V"]
    inputs = make_inputs(spec, T=40, B=2, M=M, N=19, dtype=dtype)  # K·N = 76: vector tails
    lengths = torch.tensor([40, 23])
    _, ref_grad = outputs_and_grads(reference.lstm_sequence, spec, inputs, lengths)
    _, grad = outputs_and_grads(cpu.lstm_sequence, spec, inputs, lengths)
    iw = 1  # x comes before W
    if dtype == torch.float64:
        assert torch.allclose(grad[iw], ref_grad[iw], rtol=1e-10, atol=1e-12)
    else:
        assert rel_err(grad[iw], ref_grad[iw]) <= 1e-5


SLOW = pytest.mark.slow
SHAPES = [(60, 1, 88, 100), pytest.param((300, 1, 39, 100), marks=SLOW),
          pytest.param((100, 32, 39, 200), marks=SLOW)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ["V", "NP", "FGR"])
def test_float32_agrees_with_reference_at_benchmark_shapes(name, shape):
    """float32 outputs and gradients within 1e-4 (normwise relative) of the float32 reference."""
    spec = SPECS[name]
    T, B, M, N = shape
    inputs = make_inputs(spec, T, B, M, N, dtype=torch.float32, scale=0.1)
    lengths = torch.randint(1, T + 1, (B,), generator=torch.Generator().manual_seed(3))
    ref_out, ref_grad = outputs_and_grads(reference.lstm_sequence, spec, inputs, lengths)
    out, grad = outputs_and_grads(cpu.lstm_sequence, spec, inputs, lengths)
    for a, b in zip(out + grad, ref_out + ref_grad):
        assert rel_err(a, b) <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["V", "CIFG"])
def test_float32_agrees_with_reference_at_the_large_shape(name):
    """(T, B, M, N) = (100, 64, 512, 512), the benchmark's largest shape."""
    spec = SPECS[name]
    inputs = make_inputs(spec, 100, 64, 512, 512, dtype=torch.float32, scale=0.05)
    ref_out, ref_grad = outputs_and_grads(reference.lstm_sequence, spec, inputs, None)
    out, grad = outputs_and_grads(cpu.lstm_sequence, spec, inputs, None)
    for a, b in zip(out + grad, ref_out + ref_grad):
        assert rel_err(a, b) <= 1e-4


@pytest.mark.parametrize("name", ["V", "NOG", "CIFG+NP", "FGR"])
def test_inference_keeps_two_steps_and_matches_training_mode(name):
    spec = SPECS[name]
    inputs = make_inputs(spec, T=9, B=4, M=3, N=5)
    train = cpu.lstm_sequence(spec, *inputs, LENGTHS)
    with torch.no_grad():
        infer = cpu.lstm_sequence(spec, *inputs, LENGTHS)
    assert not infer[0].requires_grad
    for a, b in zip(infer, train):
        assert torch.equal(a, b.detach())


@pytest.mark.parametrize("name", ["V", "NIG", "CIFG+NP", "FGR"])
def test_memory_saved_for_backward_within_bound(name):
    """(K + 2)·(T + 1)·B·N values beyond inputs and parameters; the reference saves more."""
    spec = SPECS[name]
    T, B, N = 50, 3, 16
    inputs = make_inputs(spec, T, B, 8, N, dtype=torch.float32)
    present = [t for t in inputs if t is not None]
    bound = (len(spec.blocks) + 2) * (T + 1) * B * N * 4
    ours = _saved_bytes(lambda: cpu.lstm_sequence(spec, *inputs, None), present)
    ref = _saved_bytes(lambda: reference.lstm_sequence(spec, *inputs, None), present)
    assert ours <= bound < ref


def test_np_equals_torch_lstm():
    """NP is torch.nn.LSTM up to gate order (torch: i f g o; ours: i f o z) and the split bias."""
    torch.manual_seed(0)
    T, B, M, N = 7, 3, 4, 5
    lstm = nn.LSTM(M, N).double()
    x = torch.randn(T, B, M, dtype=torch.float64)
    h0, c0 = torch.randn(2, 1, B, N, dtype=torch.float64)
    i, f, g, o = (slice(k * N, (k + 1) * N) for k in range(4))
    order = lambda w: torch.cat([w[i], w[f], w[o], w[g]])
    W, R = order(lstm.weight_ih_l0), order(lstm.weight_hh_l0)
    b = order(lstm.bias_ih_l0 + lstm.bias_hh_l0)
    y, h, c = cpu.lstm_sequence(CellSpec.parse("NP"), x, W, R, b, None, None, h0[0], c0[0])
    y_t, (h_t, c_t) = lstm(x, (h0, c0))
    assert torch.allclose(y, y_t) and torch.allclose(h, h_t[0]) and torch.allclose(c, c_t[0])
    gy = torch.randn_like(y)
    gW = torch.autograd.grad((y * gy).sum(), W)[0]
    gW_t = torch.autograd.grad((y_t * gy).sum(), lstm.weight_ih_l0)[0]
    assert torch.allclose(gW, order(gW_t))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("B", [1, 5], ids=["small-batch", "blas"])
@pytest.mark.parametrize("N", [1, 3, 5, 9, 13, 17, 33])
def test_every_vector_remainder(N, B, dtype):
    """Hidden sizes that leave every possible partial vector in the recurrent product and the
    pointwise passes, on the small-batch path (B < 4) and the BLAS path."""
    f64 = dtype == torch.float64
    tol = {"rtol": 1e-10, "atol": 1e-12} if f64 else {"rtol": 1e-4, "atol": 1e-5}
    for name in ("NIG", "FGR"):
        spec = SPECS[name]
        inputs = make_inputs(spec, T=3, B=B, M=2, N=N, dtype=dtype)
        ref_out, ref_grad = outputs_and_grads(reference.lstm_sequence, spec, inputs, None)
        out, grad = outputs_and_grads(cpu.lstm_sequence, spec, inputs, None)
        for a, b in zip(out + grad, ref_out + ref_grad):
            assert torch.allclose(a, b, **tol), name


def test_unsupported_dtypes_are_user_errors():
    spec = SPECS["V"]
    inputs = make_inputs(spec, 3, 2, 2, 3, dtype=torch.float32)
    with pytest.raises(cpu.CpuInputError, match="float32 or float64"):
        cpu.lstm_sequence(spec, *(t.half() if t is not None else None for t in inputs), None)
    inputs[0] = inputs[0].double()
    with pytest.raises(cpu.CpuInputError, match="every tensor on the CPU"):
        cpu.lstm_sequence(spec, *inputs, None)


@pytest.mark.parametrize(("index", "shape", "message"), [
    (3, (11,), "b must have 12 entries"),                  # b: one row short
    (4, (8,), "p must have 9 entries"),                    # p: one peephole short
    (6, (1, 3), r"each initial state must be \(B, N\) = \(2, 3\)"),  # h0 for one sequence
    (7, (2, 2), r"each initial state must be \(B, N\)"),  # c0 too narrow
    (0, (3, 2, 5), "x must be .* M the columns of W"),     # x with other columns than W
])
def test_operands_of_the_wrong_size_are_an_error_not_a_crash(index, shape, message):
    """The C++ side checks every operand whose size it reads through a pointer."""
    spec = CellSpec()  # vanilla: 4 gate blocks, 3 peepholes
    inputs = [t.detach() if t is not None else None for t in make_inputs(spec, 3, 2, 2, 3)]
    inputs[index] = torch.zeros(shape, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=message):
        cpu.lstm_sequence(spec, *inputs, None)
    inputs = [t.detach() if t is not None else None for t in make_inputs(spec, 3, 2, 2, 3)]
    with pytest.raises(RuntimeError, match="one length per sequence of the batch .2."):
        cpu.lstm_sequence(spec, *inputs, torch.tensor([3, 3, 3]))


@pytest.mark.parametrize("name", ["V", "FGR"])
def test_gradcheck_bidirectional_module(name):
    """Both directions through the module (reversal per sequence length), h0/c0 and lengths."""
    from lstm_odyssey import LSTM

    torch.manual_seed(0)
    lstm = LSTM(2, 3, bidirectional=True, variant=name, backend="cpu", init="normal",
                init_std=0.5).double()
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 1, 3])

    def fn(x, h0, c0, *params):
        out, (h, c) = torch.func.functional_call(
            lstm, dict(zip(names, params)), (x, (h0, c0)), {"lengths": lengths})
        return out, h, c

    names, params = zip(*lstm.named_parameters())
    assert torch.autograd.gradcheck(fn, (x, h0, c0, *params), atol=1e-7, rtol=1e-5)
