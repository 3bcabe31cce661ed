"""The modules against independent math, per variant: defining properties, gradients,
variable lengths, parameter access and bad inputs."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from lstm_odyssey import LSTM, LSTMCell, count_parameters
from lstm_odyssey.nn import InputError
from lstm_odyssey.variants import PRESET_NAMES, CellSpec

from .helpers import BACKENDS, paper_step

COMBINATIONS = ["cifg+np", "nog+noaf+fgr"]
ALL_SPECS = list(PRESET_NAMES) + COMBINATIONS


def _paper_sequence(spec, g, x, y, c):
    """Run paper_step over one unbatched sequence x (T, M)."""
    a = {k: torch.zeros_like(c) for k in "ifo"}
    ys = []
    for t in range(x.shape[0]):
        y, c, a = paper_step(spec, g, x[t], y, c, a)
        ys.append(y)
    return torch.stack(ys), y, c


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_SPECS)
def test_module_matches_the_paper_equations(variant, backend):
    """Each variant's defining property (i ≡ 1 for NIG, f = 1 − i for CIFG, y = c ⊙ o for NOAF,
    previous gates fed back for FGR, ...) as written in docs/paper.md, per sample."""
    torch.manual_seed(1)
    lstm = LSTM(3, 4, variant=variant, backend=backend, init="normal", init_std=0.5).double()
    g = lstm.gate_weights()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    c0 = torch.randn(1, 2, 4, dtype=torch.float64)
    out, (h, c) = lstm(x, (h0, c0))
    for b in range(2):
        ys, yT, cT = _paper_sequence(lstm.spec, g, x[:, b], h0[0, b], c0[0, b])
        torch.testing.assert_close(out[:, b], ys)
        torch.testing.assert_close(h[0, b], yT)
        torch.testing.assert_close(c[0, b], cT)


def test_missing_parts_have_no_parameters():
    keys = {v: set(LSTM(3, 4, variant=v).gate_weights()) for v in PRESET_NAMES}
    assert not {"W_i", "R_i", "b_i", "p_i"} & keys["NIG"]
    assert not {"W_f", "R_f", "b_f", "p_f"} & keys["NFG"]
    assert not {"W_f", "R_f", "b_f", "p_f"} & keys["CIFG"]
    assert not {"W_o", "R_o", "b_o", "p_o"} & keys["NOG"]
    assert not {"p_i", "p_f", "p_o"} & keys["NP"]
    assert keys["NIAF"] == keys["NOAF"] == keys["V"]
    fgr_extra = {f"R_{s}{d}" for s in "ifo" for d in "ifo"}
    assert keys["FGR"] == keys["V"] | fgr_extra


@pytest.mark.parametrize("backend", BACKENDS)
def test_fgr_with_zero_gate_recurrence_equals_vanilla(backend):
    torch.manual_seed(2)
    vanilla = LSTM(3, 4, num_layers=2, variant="V", backend=backend)
    fgr = LSTM(3, 4, num_layers=2, variant="FGR", backend=backend)
    for layer in range(2):
        weights = {k: v.detach() for k, v in vanilla.gate_weights(layer).items()}
        fgr.load_gate_weights(weights, layer)
        fgr.load_gate_weights({f"R_{s}{d}": torch.zeros(4, 4) for s in "ifo" for d in "ifo"},
                              layer)
    x = torch.randn(7, 2, 3)
    torch.testing.assert_close(fgr(x)[0], vanilla(x)[0])
    # ... and a non-zero gate recurrence does change the result.
    fgr.load_gate_weights({"R_fi": torch.ones(4, 4)})
    assert not torch.allclose(fgr(x)[0], vanilla(x)[0])


def test_noaf_output_is_cell_times_output_gate():
    torch.manual_seed(3)
    lstm = LSTM(3, 4, variant="NOAF", init="normal", init_std=0.5)
    x = torch.randn(1, 2, 3)  # one step from zero state: c = z ⊙ i, o sees c
    g = lstm.gate_weights()
    out, (_, c) = lstm(x)
    o = torch.sigmoid(x[0] @ g["W_o"].T + g["b_o"] + g["p_o"] * c[0])
    torch.testing.assert_close(out[0], c[0] * o)


def _gradcheck_module(variant, backend, bidirectional=True):
    torch.manual_seed(4)
    lstm = LSTM(3, 2, bidirectional=bidirectional, variant=variant, backend=backend,
                init="normal", init_std=0.5).double()
    D = 2 if bidirectional else 1
    x = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(D, 3, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(D, 3, 2, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in lstm.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in lstm.parameters()]
    lengths = torch.tensor([4, 2, 3])

    def f(x, h0, c0, *params):
        out, (h, c) = functional_call(lstm, dict(zip(names, params)), (x, (h0, c0)),
                                      {"lengths": lengths})
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, h0, c0, *params))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_SPECS)
def test_gradcheck_float64(variant, backend):
    """Gradients through inputs, initial states and every parameter, with lengths and both
    directions."""
    _gradcheck_module(variant, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["V", "FGR", "cifg+np"])
def test_variable_lengths_equal_separate_sequences(variant, backend):
    """A padded batch with lengths = each sequence run alone: zeros past the end, final states
    from each sequence's last step, the backward direction reading each sequence from its end."""
    torch.manual_seed(5)
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, variant=variant, backend=backend).double()
    lengths = [5, 2, 4]
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    out, (h, c) = lstm(x, lengths=torch.tensor(lengths))
    for b, L in enumerate(lengths):
        out_b, (h_b, c_b) = lstm(x[:L, b:b + 1])
        torch.testing.assert_close(out[:L, b:b + 1], out_b)
        assert not out[L:, b].any()
        torch.testing.assert_close(h[:, b:b + 1], h_b)
        torch.testing.assert_close(c[:, b:b + 1], c_b)


def test_module_count_matches_closed_form():
    for v in ALL_SPECS:
        for layers, bi in [(1, False), (2, True)]:
            lstm = LSTM(5, 6, num_layers=layers, bidirectional=bi, variant=v)
            assert lstm.count_parameters() == count_parameters(v, 5, 6, layers, bi)


def test_gate_weights_are_live_views():
    lstm = LSTM(3, 4)
    lstm.load_gate_weights({"p_f": torch.full((4,), 0.25), "W_z": torch.ones(4, 3)})
    assert torch.equal(lstm.peephole_l0[4:8], torch.full((4,), 0.25))
    assert torch.equal(lstm.gate_weights()["W_z"], torch.ones(4, 3))
    with pytest.raises(InputError, match="unknown gate weight"):
        lstm.load_gate_weights({"W_q": torch.ones(4, 3)})
    with pytest.raises(InputError, match="shape"):
        lstm.load_gate_weights({"W_z": torch.ones(3, 3)})


def test_paper_init_and_forget_bias():
    torch.manual_seed(6)
    lstm = LSTM(50, 100, init="normal", init_std=0.1, forget_bias=1.0)
    g = lstm.gate_weights()
    assert abs(g["W_i"].std().item() - 0.1) < 0.01
    assert abs(g["b_f"].mean().item() - 1.0) < 0.05
    assert abs(g["b_i"].mean().item()) < 0.05


@pytest.mark.parametrize("variant", ["V", "FGR", "nig+noaf"])
def test_cell_equals_one_step_of_the_sequence_module(variant):
    torch.manual_seed(7)
    lstm = LSTM(3, 4, variant=variant)
    cell = LSTMCell(3, 4, variant=variant)
    cell.load_gate_weights({k: v.detach() for k, v in lstm.gate_weights().items()})
    x = torch.randn(3, 2, 3)
    out, (_h, c) = lstm(x)
    state = None
    for t in range(3):
        state = cell(x[t], state)
        torch.testing.assert_close(state[0], out[t])
    torch.testing.assert_close(state[1], c[0])
    assert len(state) == (3 if variant == "FGR" else 2)


def test_unbatched_input():
    lstm = LSTM(3, 4, bidirectional=True)
    x = torch.randn(6, 3)
    out, (h, _c) = lstm(x)
    out_b, (_h_b, _) = lstm(x.unsqueeze(1))
    assert out.shape == (6, 8) and h.shape == (2, 4)
    torch.testing.assert_close(out, out_b.squeeze(1))


@pytest.mark.parametrize("call,match", [
    (lambda m: m(torch.randn(5, 2, 4)), "expects 3 features"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[6, 2]), r"lengths must lie in \[1, 5\]"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[0, 2]), "lengths must lie"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[3]), "1 entries for a batch of 2"),
    (lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 4))), "c_0"),
    (lambda m: m(torch.randn(2, 5, 2, 3)), "shape"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[2.5, 3.0]), "lengths must be integers"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5.0, 2.0])), "must be integers"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[True, True]), "must be integers"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=["5", "2"]), "sequence of B integers"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(InputError, match=match):
        call(LSTM(3, 4))


@pytest.mark.parametrize("variant, hx, match", [
    ("V", (torch.zeros(2, 4), torch.zeros(2, 3)), r"c must have shape \(2, 4\)"),
    ("V", (torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 12)), r"hx must be \(h, c\)"),
    ("FGR", (torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 4)), r"a must have shape"),
])
def test_cell_bad_state_raises_clear_errors(variant, hx, match):
    with pytest.raises(InputError, match=match):
        LSTMCell(3, 4, variant=variant)(torch.randn(2, 3), hx)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown variant"):
        LSTM(3, 4, variant="lstm")
    with pytest.raises(ValueError, match="unknown backend"):
        LSTM(3, 4, backend="cuda")
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="init"):
        LSTM(3, 4, init="xavier")


@pytest.mark.parametrize("make, match", [
    (lambda: LSTMCell(3, 0), "hidden_size must be a positive integer, got 0"),
    (lambda: LSTMCell(0, 4), "input_size must be a positive integer, got 0"),
    (lambda: LSTMCell(3, 2.5), "hidden_size must be a positive integer, got 2.5"),
    (lambda: LSTMCell(3, True), "hidden_size must be a positive integer, got True"),
    (lambda: LSTM(3, 2.5), "hidden_size must be a positive integer, got 2.5"),
    (lambda: LSTM(3, "4"), "hidden_size must be a positive integer, got '4'"),
    (lambda: LSTM(3.0, 4), "input_size must be a positive integer, got 3.0"),
    (lambda: LSTM(3, 4, num_layers=0), "num_layers must be a positive integer, got 0"),
    (lambda: LSTM(3, 4, dropout="0.1"), "dropout must be a number"),
])
def test_sizes_are_checked_alike_by_lstm_and_cell(make, match):
    """One check for both modules, a one-line InputError instead of
    ZeroDivisionError or torch's TypeError."""
    with pytest.raises(InputError, match=match) as e:
        make()
    assert "\n" not in str(e.value)


def test_numpy_sizes_and_integer_lengths_are_accepted():
    lstm = LSTM(np.int64(3), np.int64(4))
    assert lstm.hidden_size == 4 and type(lstm.hidden_size) is int
    out, _ = lstm(torch.randn(5, 2, 3), lengths=np.array([5, 2], dtype=np.int32))
    assert out[2:, 1].abs().sum() == 0 and out[:, 0].abs().sum() > 0


def test_spec_instances_are_accepted():
    spec = CellSpec(peepholes=False, coupled_input_forget=True)
    assert LSTM(3, 4, variant=spec).variant == "NP+CIFG"
