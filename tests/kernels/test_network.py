"""The one-call training step (kernels/network.py, csrc/network_cpu.cpp) against the module path
it replaces: SequenceModel + the loss kind under autograd, for every LSTM preset and both GRU
variants. In float32 on the cpu backend the loss, logits and every gradient are the same bits;
in float64 they equal the reference backend's autograd gradients (an oracle independent of the
C++ kernels) to rounding."""

from __future__ import annotations

import pytest
import torch

from lstm_odyssey import kernels
from lstm_odyssey.kernels import cpu, network
from lstm_odyssey.train.data import Batch
from lstm_odyssey.train.kinds import loss_kind
from lstm_odyssey.train.model import SequenceModel

from .helpers import SPECS

pytestmark = pytest.mark.skipif(
    "cpu" not in kernels.available_backends("cpu"), reason="the C++ kernels cannot be built here"
)
LOSSES = ["bernoulli", "framewise_ce", "ctc"]
VARIANTS = {**SPECS, "gru": "gru", "gru+lbr": "gru+lbr"}  # test id → the variant


def _problem(loss: str, bidirectional: bool, variant, dtype, backend: str = "cpu",
             T: int = 13, M: int = 3, N: int = 5, C: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SequenceModel(M, N, C, bidirectional, variant, backend, init_std=0.5).to(dtype)
    x = torch.randn(1, T, M, generator=g, dtype=dtype)
    if loss == "bernoulli":
        y = (torch.rand(1, T, C, generator=g) < 0.3).to(dtype)
    elif loss == "framewise_ce":
        y = torch.randint(0, C, (1, T), generator=g)
    else:
        y = torch.tensor([[1, 3, 3, 2]])  # a repeated label: CTC needs a blank between them
    return model, x, Batch(x, torch.tensor([T]), y, torch.tensor([y.shape[1]]), padded=False)


def _autograd(model: SequenceModel, x, batch: Batch, loss: str):
    model.zero_grad()
    logits = model(x, None)
    value = loss_kind(loss).loss(logits, batch)
    value.backward()
    return value.detach(), logits.detach(), [p.grad.clone() for p in model.parameters()]


def _fused(model: SequenceModel, x, batch: Batch, loss: str):
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)  # the step overwrites, never accumulates
    value, logits, frames = model.fused_step(x, batch.targets, loss)
    if loss == "bernoulli":
        assert frames is None
    else:  # the argmax class per step, for the metric
        assert torch.equal(frames, logits.argmax(-1))
    return value, logits, [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_float32_same_bits_as_autograd(name, bidirectional, loss):
    model, x, batch = _problem(loss, bidirectional, VARIANTS[name], torch.float32)
    value, logits, grads = _autograd(model, x, batch, loss)
    f_value, f_logits, f_grads = _fused(model, x, batch, loss)
    assert torch.equal(f_value, value) and torch.equal(f_logits, logits)
    for (pname, _), a, b in zip(model.named_parameters(), f_grads, grads, strict=True):
        assert torch.equal(a, b), pname


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_float64_equals_the_reference_backend(name, bidirectional, loss):
    """Against autograd through the reference backend's equations (kernels/reference.py)."""
    model, x, batch = _problem(loss, bidirectional, VARIANTS[name], torch.float64)
    fused = _fused(model, x, batch, loss)
    model.lstm.backend = "reference"
    assert model.fused_step(x, batch.targets, loss) is None  # only the cpu backend fuses
    value, logits, grads = _autograd(model, x, batch, loss)
    torch.testing.assert_close(fused[0], value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fused[1], logits, rtol=1e-12, atol=1e-12)
    for (pname, _), a, b in zip(model.named_parameters(), fused[2], grads, strict=True):
        assert b.abs().max() > 1e-6, f"{pname}: gradient trivially small"
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=pname)


def test_argmax_frames_follow_torch_on_ties_and_nan():
    """The first of equal maxima, a NaN above everything (torch.argmax)."""
    model, x, batch = _problem("framewise_ce", False, "V", torch.float32, T=4, C=3)
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.tensor([0.0, 1.0, 1.0]))
    assert model.fused_step(x, batch.targets, "framewise_ce")[2].tolist() == [[1, 1, 1, 1]]
    with torch.no_grad():
        model.output.bias.copy_(torch.tensor([2.0, 1.0, float("nan")]))
    assert model.fused_step(x, batch.targets, "framewise_ce")[2].tolist() == [[2, 2, 2, 2]]


def test_gradients_are_created_when_missing():
    model, x, batch = _problem("ctc", True, "V", torch.float32)
    for p in model.parameters():
        p.grad = None
    model.fused_step(x, batch.targets, "ctc")
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("bad, error, match", [
    ({"loss": "mse"}, network.NetworkStepError, "unknown loss 'mse'"),
    ({"x": torch.zeros(0, 3)}, network.NetworkStepError, "T ≥ 1"),
    ({"x": torch.zeros(4, 3, dtype=torch.float64)}, network.NetworkStepError,
     "in x's dtype Double, got Float"),
    ({"x": torch.zeros(4, 3, dtype=torch.int64)}, cpu.CpuInputError, "float32 or float64"),
])
def test_bad_arguments_are_one_clear_error(bad, error, match):
    model, x, batch = _problem("ctc", False, "V", torch.float32)
    args = {"x": x[0], "loss": "ctc"} | bad
    directions = [model.lstm.direction_params(0, 0)]
    with pytest.raises(error, match=match):
        network.network_step(model.lstm.spec, args["x"], directions,
                             (model.output.weight, model.output.bias), args["loss"],
                             batch.targets[0])


def test_bad_gru_arguments_are_one_clear_error():
    model, x, batch = _problem("ctc", False, "gru+lbr", torch.float32)
    directions = [model.lstm.direction_params(0, 0)]
    output = (model.output.weight, model.output.bias)
    with pytest.raises(network.NetworkStepError, match="in x's dtype Double, got Float"):
        network.gru_network_step(model.lstm.variant.spec, x[0].double(), directions, output,
                                 "ctc", batch.targets[0])
    with pytest.raises(network.NetworkStepError, match="unknown loss 'mse'"):
        network.gru_network_step(model.lstm.variant.spec, x[0], directions, output, "mse",
                                 batch.targets[0])


def test_other_families_have_no_fused_step():
    model, x, batch = _problem("bernoulli", False, "mingru", torch.float32)
    assert model.fused_step(x, batch.targets, "bernoulli") is None
