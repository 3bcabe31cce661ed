"""The built-in cell families against their equations: every family and switch in float64,
outputs and every gradient (torch.autograd.gradcheck), gru+lbr against torch.nn.GRU, the
sLSTM's stabiliser against the unstabilised recursion, parameter counts and dispatch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_odyssey import count_parameters, kernels
from lstm_odyssey.families import FAMILIES, parse_variant
from lstm_odyssey.kernels import reference
from lstm_odyssey.nn import LSTM, Recurrent, from_torch_gru, recurrent
from lstm_odyssey.variants import PRESET_NAMES
from lstm_odyssey.variants import count_parameters as lstm_count

VARIANTS = ["gru", "gru+lbr", "mingru", "minlstm", "slstm", "slstm+expf"]
sig = torch.sigmoid


def paper_step(name: str, g: dict, x: torch.Tensor, state: tuple) -> tuple:
    """One step of ``name`` written from its paper's equations, for one sample (vectors), with
    the paper-notation weights ``g`` (independent of the families' block layout)."""
    def lin(k, h=None):
        s = g[f"W_{k}"] @ x + g[f"b_{k}"]
        return s if h is None else s + g[f"R_{k}"] @ h

    if name.startswith("gru"):
        (h,) = state
        r, z = sig(lin("r", h)), sig(lin("z", h))
        if name == "gru":
            n = torch.tanh(g["W_n"] @ x + g["b_n"] + g["R_n"] @ (r * h))
        else:
            n = torch.tanh(g["W_n"] @ x + g["b_n"] + r * (g["R_n"] @ h + g["bR_n"]))
        return ((1 - z) * n + z * h,)
    if name == "mingru":
        (h,) = state
        z = sig(lin("z"))
        return ((1 - z) * h + z * lin("h"),)
    if name == "minlstm":
        (h,) = state
        f, i = sig(lin("f")), sig(lin("i"))
        return (f / (f + i) * h + i / (f + i) * lin("h"),)
    h, c, n, m = state  # sLSTM, Beck et al. eqs. 8-17
    i_log, f_bar = lin("i", h), lin("f", h)
    f_log = f_bar if name == "slstm+expf" else torch.log(sig(f_bar))
    m_new = torch.maximum(f_log + m, i_log)
    i, f = torch.exp(i_log - m_new), torch.exp(f_log + m - m_new)
    c = f * c + i * torch.tanh(lin("z", h))
    n = f * n + i
    return (sig(lin("o", h)) * c / n, c, n, m_new)


def _module(name: str, m: int = 3, n: int = 4, **kw) -> Recurrent:
    torch.manual_seed(0)
    return Recurrent(m, n, variant=name, init="normal", init_std=0.5, **kw).double()


@pytest.mark.parametrize("name", VARIANTS)
def test_each_family_follows_its_equations(name):
    """Outputs and final state against paper_step, sample by sample, with padded lengths."""
    rnn = _module(name)
    T, B = 5, 3
    x = torch.randn(T, B, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    y, state = rnn(x, lengths=lengths)
    state = state if isinstance(state, tuple) else (state,)
    g = rnn.gate_weights()
    for b in range(B):
        s = tuple(torch.zeros(4, dtype=torch.float64) for _ in rnn.cell.state)
        for t in range(int(lengths[b])):
            s = paper_step(name, g, x[t, b], s)
            torch.testing.assert_close(y[t, b], s[0])
        assert not y[int(lengths[b]):, b].any()
        for got, want in zip(state, s):
            torch.testing.assert_close(got[0, b], want)


@pytest.mark.parametrize("name", VARIANTS)
def test_every_gradient_of_each_family_passes_gradcheck(name):
    """float64 gradcheck of the sequence op: the input, every parameter and the initial
    state (padded batch)."""
    v = parse_variant(name)
    rnn = _module(name, 2, 3)
    params = {k: p.detach().clone().requires_grad_() for k, p in rnn.direction_params().items()}
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    state0 = tuple((0.3 * torch.randn(2, 3 * s.width, dtype=torch.float64)).requires_grad_()
                   for s in rnn.cell.state)
    if name.startswith("slstm"):  # the normaliser n is positive: n_0 > 0 (n_0 = 0 is tested above)
        state0 = (state0[0], state0[1], (state0[2].detach().abs() + 0.5).requires_grad_(),
                  state0[3])
    keys = list(params)
    lengths = torch.tensor([4, 3])

    def f(x, *rest):
        p = dict(zip(keys, rest[:len(keys)]))
        y, s = reference.family_sequence(v, x, p, tuple(rest[len(keys):]), lengths)
        return (y, *s)

    assert torch.autograd.gradcheck(f, (x, *params.values(), *state0))


def test_gru_lbr_equals_torch_gru_both_ways():
    torch.manual_seed(1)
    ref = nn.GRU(3, 5, num_layers=2, bidirectional=True).double()
    ours = from_torch_gru(ref)
    x = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 4, 5, dtype=torch.float64)
    y_ref, h_ref = ref(x, h0)
    y, h = ours(x, h0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(h, h_ref)
    (gx_ref,) = torch.autograd.grad(y_ref.sum() + h_ref.sum(), x)
    (gx,) = torch.autograd.grad(y.sum() + h.sum(), x)
    torch.testing.assert_close(gx, gx_ref)
    back = ours.to_torch_gru()
    torch.testing.assert_close(back(x, h0)[0], y_ref)
    assert ours.count_parameters() == count_parameters("gru+lbr", 3, 5, 2, True)
    with pytest.raises(Exception, match="only gru\\+lbr converts"):
        _module("gru").to_torch_gru()


def test_the_cho_gru_differs_from_torch_gru():
    """The reset before the product is another function (the switch matters)."""
    a, b = _module("gru"), _module("gru+lbr")
    with torch.no_grad():
        for name, p in a.direction_params().items():
            b.direction_params()[name].copy_(p)
        b.bias_hn_l0.zero_()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert not torch.allclose(a(x)[0], b(x)[0])


@pytest.mark.parametrize("name", ["slstm", "slstm+expf"])
def test_the_slstm_stabiliser_cancels(name):
    """h of the stabilised step equals the unstabilised recursion i = exp(ĩ), f = σ(f̃) or
    exp(f̃), c = f c + i z, n = f n + i, h = o c / n."""
    rnn = _module(name)
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    y, _ = rnn(x)
    g = rnn.gate_weights()
    for b in range(2):
        h, c, n = (torch.zeros(4, dtype=torch.float64) for _ in range(3))
        for t in range(8):
            pre = {k: g[f"W_{k}"] @ x[t, b] + g[f"R_{k}"] @ h + g[f"b_{k}"] for k in "ifzo"}
            i = torch.exp(pre["i"])
            f = torch.exp(pre["f"]) if name == "slstm+expf" else sig(pre["f"])
            c = f * c + i * torch.tanh(pre["z"])
            n = f * n + i
            h = sig(pre["o"]) * c / n
            torch.testing.assert_close(y[t, b], h)


def test_parameter_counts_follow_the_documented_formulas():
    M, N = 39, 100
    assert count_parameters("gru", M, N) == 3 * N * (M + N + 1)
    assert count_parameters("gru+lbr", M, N) == 3 * N * (M + N + 1) + N
    assert count_parameters("mingru", M, N) == 2 * N * (M + 1)
    assert count_parameters("minlstm", M, N) == 3 * N * (M + 1)
    assert count_parameters("slstm", M, N) == count_parameters("slstm+expf", M, N) \
        == 4 * N * (M + N + 1)
    for name in VARIANTS:
        rnn = Recurrent(M, N, num_layers=2, bidirectional=True, variant=name)
        assert rnn.count_parameters() == count_parameters(name, M, N, 2, True)


@pytest.mark.parametrize("name", [*PRESET_NAMES, "cifg+np", "nig+nog+fgr", "NP+NOAF"])
def test_the_lstm_family_counts_as_before(name):
    for layers, bidi in ((1, False), (2, True)):
        assert count_parameters(name, 7, 5, layers, bidi) == lstm_count(name, 7, 5, layers, bidi)
    assert parse_variant(name).name == parse_variant(parse_variant(name).name).name


def test_variant_names_round_trip_and_families_are_one_table():
    assert {v: parse_variant(v).name for v in ["GRU+LBR", "minGRU", "sLSTM+expF", "lstm+np"]} \
        == {"GRU+LBR": "gru+lbr", "minGRU": "mingru", "sLSTM+expF": "slstm+expf",
            "lstm+np": "NP"}
    assert list(FAMILIES) == ["lstm", "gru", "mingru", "minlstm", "slstm"]
    with pytest.raises(Exception, match="unknown switch 'x' of the gru family"):
        parse_variant("gru+x")
    with pytest.raises(Exception, match="unknown variant 'grue'.*gru\\+lbr"):
        parse_variant("grue")


def test_dispatch_reads_the_table():
    fused = "cpu" if "cpu" in kernels.available_backends("cpu") else "reference"
    assert kernels.resolve_backend("auto", "cpu", "gru") == fused
    assert kernels.resolve_backend("auto", "cpu", "gru+lbr") == fused
    assert kernels.resolve_backend("auto", "cpu", "mingru") == "reference"
    assert kernels.resolve_backend("auto", "cuda", "slstm") == "reference"
    with pytest.raises(kernels.BackendError, match="'cpu' does not compute the mingru family "
                                                   "\\(mingru\\); it computes lstm, gru"):
        kernels.resolve_backend("cpu", "cpu", "mingru")
    assert isinstance(recurrent(3, 4, "cifg"), LSTM)
    assert isinstance(recurrent(3, 4, "minlstm"), Recurrent)
    with pytest.raises(Exception, match="use lstm_odyssey.LSTM"):
        Recurrent(3, 4, variant="V")


def test_batch_first_unbatched_and_packed_inputs_agree():
    rnn = _module("slstm")
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y, state = rnn(x.transpose(0, 1))
    rnn.batch_first = True
    y_bf, _ = rnn(x)
    torch.testing.assert_close(y_bf.transpose(0, 1), y)
    rnn.batch_first = False
    y_u, s_u = rnn(x.transpose(0, 1)[:, 0])
    torch.testing.assert_close(y_u, y[:, 0])
    torch.testing.assert_close(s_u[1], state[1][:, 0])
    packed = nn.utils.rnn.pack_padded_sequence(x.transpose(0, 1), torch.tensor([5, 3]),
                                               enforce_sorted=False)
    out, _ = rnn(packed)
    padded, _ = nn.utils.rnn.pad_packed_sequence(out)
    torch.testing.assert_close(padded[:, 0], y[:, 0])
