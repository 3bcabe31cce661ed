"""The C++ CTC loss against torch.nn.functional.ctc_loss (float64) and gradcheck."""

import pytest
import torch
import torch.nn.functional as F

from lstm_odyssey.errors import UserError
from lstm_odyssey.kernels.ctc import ctc_loss


def _problem(seed, B=4, T=14, C=5, repeats=False, dtype=torch.float64):
    """Random logits, random input lengths, random labels (with runs of repeats if asked)
    short enough that every loss is finite."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(T, B, C, generator=g, dtype=dtype)
    input_lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    input_lengths[0] = T
    target_lengths = torch.stack([torch.randint(0, int(t) // 2 + 1, (1,), generator=g)[0]
                                  for t in input_lengths])
    targets = torch.randint(1, C, (B, int(target_lengths.max()) + 1), generator=g)
    if repeats:
        targets[:, 1::2] = targets[:, 0::2][:, : targets[:, 1::2].shape[1]]  # l = a a b b …
    return logits, targets, input_lengths, target_lengths


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("repeats", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_equals_torch_loss_and_gradient(seed, repeats, reduction):
    logits, targets, il, tl = _problem(seed, repeats=repeats)
    results = []
    for fn in (ctc_loss, F.ctc_loss):
        x = logits.clone().requires_grad_()
        loss = fn(F.log_softmax(x, -1), targets, il, tl, blank=0, reduction=reduction)
        loss.sum().backward()
        results.append((loss.detach(), x.grad))
    (ours, g_ours), (theirs, g_theirs) = results
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-9, atol=1e-10)


def test_concatenated_targets_and_other_blank_index():
    logits, targets, il, tl = _problem(7, repeats=True)
    flat = torch.cat([targets[b, : tl[b]] for b in range(len(tl))])
    lp = F.log_softmax(logits, -1)
    # blank = C − 1: relabel so that no label is the blank
    C = lp.shape[2]
    flat_b, padded_b = flat - 1, targets - 1
    torch.testing.assert_close(ctc_loss(lp, flat, il, tl, reduction="none"),
                               F.ctc_loss(lp, flat, il, tl, reduction="none"), rtol=1e-10,
                               atol=1e-10)
    torch.testing.assert_close(
        ctc_loss(lp, padded_b, il, tl, blank=C - 1, reduction="none"),
        F.ctc_loss(lp, flat_b, il, tl, blank=C - 1, reduction="none"), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("repeats", [False, True])
def test_gradcheck_on_log_probs(repeats):
    """The gradient is exact for any log_probs (not only log-softmax outputs)."""
    logits, targets, il, tl = _problem(3, B=3, T=9, C=4, repeats=repeats)
    x = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda lp: ctc_loss(lp, targets, il, tl, reduction="none"),
                                    (x,))
    assert torch.autograd.gradcheck(
        lambda z: ctc_loss(F.log_softmax(z, -1), targets, il, tl, reduction="mean"), (x,))


def test_zero_infinity():
    # 3 frames cannot emit "1 1" (needs a blank between: 3 frames) nor "1 1 1" (5 frames)
    lp = F.log_softmax(torch.randn(3, 2, 3, dtype=torch.float64), -1).requires_grad_()
    targets = torch.tensor([[1, 1, 1], [1, 2, 0]])
    il, tl = torch.tensor([3, 3]), torch.tensor([3, 2])
    assert torch.isinf(ctc_loss(lp, targets, il, tl, reduction="none")[0])
    ours = ctc_loss(lp, targets, il, tl, reduction="none", zero_infinity=True)
    theirs = F.ctc_loss(lp, targets, il, tl, reduction="none", zero_infinity=True)
    torch.testing.assert_close(ours, theirs)
    ours.sum().backward()
    assert torch.all(lp.grad[:, 0] == 0) and torch.any(lp.grad[:, 1] != 0)


def test_float32_as_accurate_as_torch_on_a_long_line():
    """The training setting: one 1000-frame line, float32. Both float32 losses carry the same
    rounding (≈1e-3 absolute in the gradient: α + β − lp + nll cancels terms of size ~nll);
    ours may not be less accurate than F.ctc_loss's, measured against float64."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1000, 1, 80, generator=g)
    targets = torch.randint(1, 80, (1, 60), generator=g)
    il, tl = torch.tensor([1000]), torch.tensor([60])
    out = {}
    for name, fn, dtype in (("ours", ctc_loss, torch.float32),
                            ("torch", F.ctc_loss, torch.float32),
                            ("float64", F.ctc_loss, torch.float64)):
        x = logits.to(dtype, copy=True).requires_grad_()
        loss = fn(F.log_softmax(x, -1), targets, il, tl, reduction="sum")
        loss.backward()
        out[name] = (loss.item(), x.grad.double())
    loss64, grad64 = out["float64"]
    errors = {k: (abs(out[k][0] - loss64), (out[k][1] - grad64).abs().max().item())
              for k in ("ours", "torch")}
    assert errors["ours"][0] <= 1.5 * errors["torch"][0] + 1e-4
    assert errors["ours"][1] <= 1.5 * errors["torch"][1]
    assert errors["ours"][1] < 1e-2


@pytest.mark.parametrize("bad", [
    {"reduction": "max"},
    {"targets": torch.tensor([[1, 9]])},
    {"targets": torch.tensor([[0, 1]])},
    {"blank": 7},
    {"input_lengths": [5]},
])
def test_bad_inputs_are_user_errors(bad):
    args = {"log_probs": torch.zeros(4, 1, 3), "targets": torch.tensor([[1, 2]]),
            "input_lengths": [4], "target_lengths": [2], "blank": 0, "reduction": "sum"}
    with pytest.raises(UserError):
        ctc_loss(**{**args, **bad})
