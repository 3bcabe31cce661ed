"""The cpu backend's fused ops (the LSTM's and the GRU's) as custom operators:
torch.library.opcheck (schema, fake kernel, autograd registration, AOT dispatch), gradcheck
through the operator, the eager path against the operator, torch.compile(fullgraph=True) and
torch.export of ``LSTM`` and ``Recurrent`` (GRU) against eager.

Compiled cases use the ``aot_eager`` backend (the real AOT autograd trace, forward and
backward, without generating code) but for one case compiled by inductor, which generates and
builds C++ (several seconds on two cores)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch._dynamo
from torch import nn

from lstm_odyssey import LSTM, kernels
from lstm_odyssey.families import parse_variant
from lstm_odyssey.kernels import cpu, gru_cpu
from lstm_odyssey.nn import Recurrent
from lstm_odyssey.variants import CellSpec
from tests.kernels.helpers import make_inputs, outputs_and_grads

pytestmark = pytest.mark.skipif(
    "cpu" not in kernels.available_backends("cpu"), reason="the C++ kernels cannot be built here"
)
OP = cpu.LSTM_SEQUENCE
VARIANTS = ["V", "NP", "CIFG", "FGR", "NOG"]
DTYPES = [torch.float32, torch.float64]


def op_path(spec, x, W, R, b, p, Rg, h0, c0, lengths):
    """``cpu.lstm_sequence`` through the dispatcher: the operator and its registered autograd."""
    save = any(t is not None and t.requires_grad for t in (x, W, R, b, p, Rg, h0, c0))
    return OP.forward_op(x, W, R, b, p, Rg, h0, c0, lengths, switches=cpu.switches(spec),
                         save=save)[:3]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", VARIANTS)
def test_opcheck_forward(name, dtype):
    """With autograd (save=True) and without it (save=False: no activations, inputs that need
    no gradient), with and without lengths."""
    spec = CellSpec.parse(name)
    inputs = make_inputs(spec, T=4, B=3, M=2, N=3, dtype=dtype)
    detached = [None if t is None else t.detach() for t in inputs]
    for lengths in (None, torch.tensor([4, 1, 3])):
        for save, args in ((True, inputs), (False, detached)):
            torch.library.opcheck(OP.forward_op, (*args, lengths),
                                  {"switches": cpu.switches(spec), "save": save})


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["V", "FGR"])
def test_opcheck_backward(name, dtype):
    spec = CellSpec.parse(name)
    x, W, R, b, p, Rg, h0, c0 = (None if t is None else t.detach()
                                 for t in make_inputs(spec, T=4, B=3, M=2, N=3, dtype=dtype))
    lengths = torch.tensor([4, 1, 3])
    y, h_n, c_n, S, C = OP.forward_op(x, W, R, b, p, Rg, h0, c0, lengths,
                                      switches=cpu.switches(spec), save=True)
    for need_dx in (True, False):
        torch.library.opcheck(
            OP.backward_op,
            (torch.randn_like(y), torch.randn_like(h_n), torch.randn_like(c_n), x, W, R, p, Rg,
             lengths, S, C),
            {"switches": cpu.switches(spec), "need_dx": need_dx})


@pytest.mark.parametrize("name", VARIANTS)
def test_gradcheck_through_the_operator(name):
    """The registered autograd formula against finite differences, float64, with lengths."""
    spec = CellSpec.parse(name)
    assert _gradcheck(lambda *full: op_path(spec, *full, torch.tensor([4, 1, 3])),
                      make_inputs(spec, T=4, B=3, M=2, N=3))


def _gradcheck(path, inputs) -> bool:
    """gradcheck of ``path(*inputs)`` in every input that is not None."""
    present = [i for i, t in enumerate(inputs) if t is not None]

    def fn(*ts):
        full = list(inputs)
        for i, t in zip(present, ts):
            full[i] = t
        return path(*full)

    return torch.autograd.gradcheck(fn, [inputs[i] for i in present], atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("name", VARIANTS)
def test_eager_path_is_the_operator(name):
    """The eager path (no dispatcher) gives the operator's outputs and gradients bit for bit,
    with and without lengths, and without autograd."""
    spec = CellSpec.parse(name)
    inputs = make_inputs(spec, T=5, B=3, M=2, N=4, dtype=torch.float32)
    for lengths in (None, torch.tensor([5, 2, 4])):
        eager = outputs_and_grads(cpu.lstm_sequence, spec, inputs, lengths)
        op = outputs_and_grads(op_path, spec, inputs, lengths)
        for a, b in zip(eager[0] + eager[1], op[0] + op[1]):
            assert torch.equal(a, b)
    with torch.no_grad():
        for a, b in zip(cpu.lstm_sequence(spec, *inputs, None), op_path(spec, *inputs, None)):
            assert torch.equal(a, b)


def test_backward_of_an_unsaved_forward_is_refused():
    spec = CellSpec.parse("V")
    x, W, R, b, p, Rg, h0, c0 = make_inputs(spec, T=3, B=1, M=2, N=3)
    y = OP.forward_op(x, W, R, b, p, Rg, h0, c0, None, switches=cpu.switches(spec),
                      save=False)[0]
    with pytest.raises(ValueError, match="save=False kept no activations"):
        y.sum().backward()


GRU = gru_cpu.GRU_SEQUENCE
GRU_VARIANTS = ["gru", "gru+lbr"]


def gru_inputs(name, T, B, M, N, dtype=torch.float64):
    """``[x, W, R, b, bias_hn (None without lbr), h0]``, random, all requiring grad."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return (torch.randn(*shape, generator=g, dtype=dtype) * 0.5).requires_grad_()

    bias_hn = rand(N) if name == "gru+lbr" else None
    return [rand(T, B, M), rand(3 * N, M), rand(3 * N, N), rand(3 * N), bias_hn, rand(B, N)]


def gru_op_path(name, x, W, R, b, bias_hn, h0, lengths):
    """``gru_cpu.gru_sequence`` through the dispatcher, as ``(y, h_n)``."""
    return GRU.forward_op(x, W, R, b, bias_hn, h0, lengths,
                          lbr=parse_variant(name).spec.linear_before_reset, save=True)[:2]


def gru_eager_path(name, x, W, R, b, bias_hn, h0, lengths):
    params = {"weight_ih": W, "weight_hh": R, "bias": b, "bias_hn": bias_hn}
    y, (h_n,) = gru_cpu.gru_sequence(parse_variant(name), x, params, (h0,), lengths)
    return y, h_n


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", GRU_VARIANTS)
def test_opcheck_gru(name, dtype):
    """Forward with and without autograd, with and without lengths, and the backward."""
    lbr = parse_variant(name).spec.linear_before_reset
    inputs = gru_inputs(name, T=4, B=3, M=2, N=3, dtype=dtype)
    detached = [None if t is None else t.detach() for t in inputs]
    for lengths in (None, torch.tensor([4, 1, 3])):
        for save, args in ((True, inputs), (False, detached)):
            torch.library.opcheck(GRU.forward_op, (*args, lengths), {"lbr": lbr, "save": save})
        x, W, R, _, _, _ = detached
        y, h_n, S = GRU.forward_op(*detached, lengths, lbr=lbr, save=True)
        for need_dx in (True, False):
            torch.library.opcheck(
                GRU.backward_op,
                (torch.randn_like(y), torch.randn_like(h_n), x, W, R, lengths, S),
                {"lbr": lbr, "need_dx": need_dx})


@pytest.mark.parametrize("name", GRU_VARIANTS)
def test_gru_gradcheck_through_the_operator(name):
    assert _gradcheck(lambda *full: gru_op_path(name, *full, torch.tensor([4, 1, 3])),
                      gru_inputs(name, T=4, B=3, M=2, N=3))


@pytest.mark.parametrize("name", GRU_VARIANTS)
def test_gru_eager_path_is_the_operator(name):
    inputs = gru_inputs(name, T=5, B=3, M=2, N=4, dtype=torch.float32)
    present = [t for t in inputs if t is not None]
    for lengths in (None, torch.tensor([5, 2, 4])):
        results = []
        for path in (gru_eager_path, gru_op_path):
            y, h_n = path(name, *inputs, lengths)
            loss = (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum() + h_n.sum()
            results.append([y, h_n, *torch.autograd.grad(loss, present)])
        for a, b in zip(*results):
            assert torch.equal(a, b)


# -- torch.compile and torch.export of the module -------------------------------------------------

@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _run(module, args, grad=True):
    """Outputs and (with ``grad``) every parameter's gradient of a fixed weighting of them."""
    module.zero_grad()
    y, (h, c) = module(*args)
    outs = [y, h, c]
    if not grad:
        return outs
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    loss.backward()
    return [o.detach() for o in outs] + [p.grad.clone() for p in module.parameters()]


def _assert_same(got, want, exact):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        if exact:
            assert torch.equal(a, b)
        else:
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", VARIANTS)
def test_compile_fullgraph_equals_eager(name, fresh_dynamo):
    """One graph (fullgraph=True raises at a graph break), forward and backward equal to eager:
    two layers, both directions, padded sequences of different lengths, float64."""
    torch.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, variant=name).double()
    args = (torch.randn(5, 3, 3, dtype=torch.float64), None, torch.tensor([5, 2, 4]))
    want = _run(lstm, args)
    got = _run(torch.compile(lstm, fullgraph=True, backend="aot_eager"), args)
    _assert_same(got, want, exact=False)


@pytest.mark.parametrize("kwargs,args", [
    ({}, lambda: (torch.randn(4, 2, 3),)),
    ({"batch_first": True}, lambda: (torch.randn(2, 4, 3),)),
    ({}, lambda: (torch.randn(4, 3),)),
    ({}, lambda: (torch.randn(4, 2, 3), (torch.randn(1, 2, 4), torch.randn(1, 2, 4)))),
    ({"bias": False, "num_layers": 2, "dropout": 0.5}, lambda: (torch.randn(4, 2, 3),)),
], ids=["default", "batch_first", "unbatched", "hx", "no-bias-dropout-eval"])
def test_compile_fullgraph_common_paths(kwargs, args, fresh_dynamo):
    torch.manual_seed(0)
    lstm = LSTM(3, 4, **kwargs).eval()
    inputs = args()
    _assert_same(_run(torch.compile(lstm, fullgraph=True, backend="aot_eager"), inputs),
                 _run(lstm, inputs), exact=False)


def test_compile_without_autograd(fresh_dynamo):
    """Under no_grad the graph calls the operator without saving activations."""
    torch.manual_seed(0)
    lstm = LSTM(3, 4, variant="NP", bidirectional=True)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        _assert_same(_run(torch.compile(lstm, fullgraph=True, backend="aot_eager"), (x,), False),
                     _run(lstm, (x,), False), exact=False)


def test_compile_checks_lengths_as_it_runs(fresh_dynamo):
    lstm = torch.compile(LSTM(3, 4), fullgraph=True, backend="aot_eager")
    x = torch.randn(5, 2, 3)
    lstm(x, lengths=torch.tensor([5, 3]))
    with pytest.raises(RuntimeError, match=r"lengths must lie in \[1, T\]"):
        lstm(x, lengths=torch.tensor([6, 3]))


def test_compile_as_the_first_use_of_the_kernels():
    """In a fresh process, a compiled module's first run loads (or builds) the kernels that
    tracing could not."""
    script = (
        "import torch\n"
        "from lstm_odyssey import LSTM\n"
        "from lstm_odyssey.kernels import build\n"
        "lstm, x = LSTM(3, 4), torch.randn(5, 2, 3)\n"
        "y = torch.compile(lstm, fullgraph=True, backend='aot_eager')(x)[0]\n"
        "assert build._loaded is not None and torch.equal(y, lstm(x)[0])\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_compile_inductor_equals_eager(fresh_dynamo):
    """The default backend (inductor, generated C++ around the operator), float32, FGR."""
    torch.manual_seed(0)
    lstm = LSTM(3, 4, variant="FGR")
    args = (torch.randn(5, 2, 3),)
    _assert_same(_run(torch.compile(lstm, fullgraph=True), args), _run(lstm, args), exact=False)


class _Wrapped(nn.Module):
    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x, lengths):
        y, (h, c) = self.lstm(x, lengths=lengths)
        return y, h, c


@pytest.mark.parametrize("name", ["V", "CIFG", "FGR"])
def test_export_equals_eager(name):
    """The exported program (bidirectional, lengths, dynamic T and B) gives the eager outputs,
    on the example and on inputs of another shape; exported under no_grad too."""
    torch.manual_seed(0)
    module = _Wrapped(LSTM(3, 4, bidirectional=True, variant=name))
    x, lengths = torch.randn(5, 2, 3), torch.tensor([5, 3])
    T, B = torch.export.Dim("T", min=2), torch.export.Dim("B", min=2)
    program = torch.export.export(module, (x, lengths),
                                  dynamic_shapes=({0: T, 1: B}, {0: B}))
    ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "lstm_odyssey.lstm_sequence.default" in ops
    x2, lengths2 = torch.randn(7, 3, 3), torch.tensor([7, 2, 6])
    for args in ((x, lengths), (x2, lengths2)):
        _assert_same(program.module()(*args), module(*args), exact=True)
    with torch.no_grad():
        program = torch.export.export(module, (x, lengths))
        _assert_same(program.module()(x, lengths), module(x, lengths), exact=True)


@pytest.mark.parametrize("name", GRU_VARIANTS)
def test_compile_gru_fullgraph_equals_eager(name, fresh_dynamo):
    """``Recurrent`` on the GRU's operator: two layers, both directions, lengths, float64."""
    torch.manual_seed(0)
    gru = Recurrent(3, 4, num_layers=2, bidirectional=True, variant=name).double()
    args = (torch.randn(5, 3, 3, dtype=torch.float64), None, torch.tensor([5, 2, 4]))

    def run(module):
        gru.zero_grad()
        y, h = module(*args)
        ((y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum()
         + h.sum()).backward()
        return [y.detach(), h.detach()] + [p.grad.clone() for p in gru.parameters()]

    want = run(gru)
    _assert_same(run(torch.compile(gru, fullgraph=True, backend="aot_eager")), want, exact=False)


def test_export_gru_equals_eager():
    torch.manual_seed(0)
    gru = Recurrent(3, 4, bidirectional=True, variant="gru+lbr")
    x, lengths = torch.randn(5, 2, 3), torch.tensor([5, 3])
    program = torch.export.export(gru, (x, None, lengths))
    ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "lstm_odyssey.gru_sequence.default" in ops
    _assert_same(program.module()(x, None, lengths), gru(x, None, lengths), exact=True)
