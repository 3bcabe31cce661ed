"""NP is exactly torch.nn.LSTM: outputs, final states and every gradient, through every backend."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_odyssey import LSTM, from_torch_lstm

from .helpers import BACKENDS

torch.manual_seed(0)


def _grads_match(ours: LSTM, theirs: nn.LSTM, atol=1e-9):
    n = ours.hidden_size
    rows = torch.cat([torch.arange(k * n, (k + 1) * n) for k in (0, 1, 3, 2)])
    for name, p in theirs.named_parameters():
        if name.startswith("bias_hh"):
            continue
        ours_name = name.replace("bias_ih", "bias")
        g_ours = getattr(ours, ours_name).grad
        torch.testing.assert_close(g_ours, p.grad[rows], atol=atol, rtol=1e-7, msg=name)
        if name.startswith("bias_ih"):  # one bias of ours = the sum of torch's two
            hh = dict(theirs.named_parameters())[name.replace("ih", "hh")]
            torch.testing.assert_close(g_ours, hh.grad[rows], atol=atol, rtol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", ["full", "lengths", "packed", "batch_first"])
def test_np_equals_torch_lstm(backend, bidirectional, mode):
    T, B, M, N = 6, 3, 4, 5
    torch_lstm = nn.LSTM(M, N, num_layers=2, bidirectional=bidirectional,
                         batch_first=(mode == "batch_first")).double()
    ours = from_torch_lstm(torch_lstm, backend=backend)
    assert ours.variant == "NP"
    x = torch.randn(T, B, M, dtype=torch.float64)
    D = 2 if bidirectional else 1
    h0 = torch.randn(2 * D, B, N, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2 * D, B, N, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 4])
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()

    if mode == "full":
        out1, (h1, c1) = torch_lstm(x1, (h0, c0))
        out2, (h2, c2) = ours(x2, (h0, c0))
    elif mode == "batch_first":
        out1, (h1, c1) = torch_lstm(x1.transpose(0, 1), (h0, c0))
        out2, (h2, c2) = ours(x2.transpose(0, 1), (h0, c0))
    elif mode == "lengths":
        packed = pack_padded_sequence(x1, lengths, enforce_sorted=False)
        out1, (h1, c1) = torch_lstm(packed, (h0, c0))
        out1, _ = pad_packed_sequence(out1, total_length=T)
        out2, (h2, c2) = ours(x2, (h0, c0), lengths=lengths)
    else:
        out1, (h1, c1) = torch_lstm(pack_padded_sequence(x1, lengths, enforce_sorted=False),
                                    (h0, c0))
        out2, (h2, c2) = ours(pack_padded_sequence(x2, lengths, enforce_sorted=False), (h0, c0))
        torch.testing.assert_close(out2.batch_sizes, out1.batch_sizes)
        torch.testing.assert_close(out2.sorted_indices, out1.sorted_indices)
        out1, out2 = out1.data, out2.data

    torch.testing.assert_close(out2, out1)
    torch.testing.assert_close(h2, h1)
    torch.testing.assert_close(c2, c1)

    # Gradients through everything: a loss that touches outputs and both final states.
    w = torch.randn_like(out1)
    ((out1 * w).sum() + h1.pow(2).sum() + c1.sum()).backward()
    g1 = [x1.grad, h0.grad.clone(), c0.grad.clone()]
    h0.grad, c0.grad = None, None
    ((out2 * w).sum() + h2.pow(2).sum() + c2.sum()).backward()
    for a, b in zip([x2.grad, h0.grad, c0.grad], g1):
        torch.testing.assert_close(a, b)
    _grads_match(ours, torch_lstm)

def test_round_trip_to_torch_lstm():
    ours = LSTM(3, 4, num_layers=2, bidirectional=True, variant="np", init="normal")
    back = from_torch_lstm(ours.to_torch_lstm())
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), back.named_parameters()):
        assert n1 == n2
        torch.testing.assert_close(p1, p2)


def test_only_np_converts():
    with pytest.raises(ValueError, match="only the NP variant"):
        LSTM(3, 4).to_torch_lstm()
