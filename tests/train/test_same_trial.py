"""The pieces replaced for training throughput leave a trial's meaning unchanged:
a trial run with the new piece equals the trial run with the old one (torch's CTC loss, the
per-tensor optimiser), within float32 rounding."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from lstm_odyssey import kernels
from lstm_odyssey.train import TrainConfig, data, loop, run
from lstm_odyssey.train.metrics import metric_counts
from lstm_odyssey.train.model import SequenceModel

from .test_optim import PerTensorNesterov
from .tiny_tasks import ctc_task, music_task, speech_task

# float32 training over a few epochs: the losses may differ in the last digits, which the
# updates then carry along; metrics (counts of errors) are identical at this size.
RTOL = 1e-4


def _trial(task, **overrides):
    config = {"task": task.name, "variant": "V", "hidden_size": 8, "learning_rate": 1.0,
              "momentum": 0.9, "input_noise": 0.2, "max_epochs": 5, "patience": 15,
              "seed": 3, **overrides}
    record = run(TrainConfig(**config), task=task)
    history = [{k: v for k, v in h.items() if k != "time_s"} for h in record["history"]]
    return history, record["test_metric"], record["test_loss"]


def _assert_same_trial(new, old):
    (h_new, metric_new, loss_new), (h_old, metric_old, loss_old) = new, old
    assert len(h_new) == len(h_old)
    for a, b in zip(h_new, h_old):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=RTOL), (key, a, b)
    assert metric_new == pytest.approx(metric_old, rel=RTOL)
    assert loss_new == pytest.approx(loss_old, rel=RTOL)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_ctc_trial_equals_the_trial_with_torch_ctc(monkeypatch, batch_size):
    task = ctc_task(sizes=(24, 8, 8))  # learns: the CER falls from ~100 % towards 0
    new = _trial(task, batch_size=batch_size)
    monkeypatch.setattr(kernels.ctc, "ctc_loss", F.ctc_loss)
    monkeypatch.setattr(SequenceModel, "fused_step", lambda self, *args: None)  # F.ctc_loss
    old = _trial(task, batch_size=batch_size)
    _assert_same_trial(new, old)
    assert new != _trial(task, batch_size=batch_size, seed=4)  # the comparison can fail


@pytest.mark.parametrize("make", [music_task, speech_task, ctc_task])
def test_trial_equals_the_trial_with_the_per_tensor_optimiser(monkeypatch, make):
    task = make(sizes=(24, 8, 8))
    new = _trial(task)
    monkeypatch.setattr(loop, "NesterovSGD", PerTensorNesterov)
    _assert_same_trial(new, _trial(task))


@pytest.mark.parametrize("make", [music_task, speech_task, ctc_task])
def test_trial_equals_the_trial_without_the_shortcuts(monkeypatch, make):
    """Batches of one built once and marked unpadded (no lengths check, no mask), the
    metric taken from the loss (music) or from the argmax classes the fused step computed
    (speech, handwriting), no division by a batch size of 1: bit-identical trials."""
    task = make(sizes=(24, 8, 8))
    new = _trial(task, input_noise=0.3)

    def padded_batch(self, indices):  # the general path, lengths and mask included
        xs, ys = [self.inputs[i] for i in indices], [self.targets[i] for i in indices]
        pad = data.IGNORE_INDEX if self.loss == "framewise_ce" else 0
        return data.Batch(pad_sequence(xs, batch_first=True), torch.tensor([len(x) for x in xs]),
                          pad_sequence(ys, batch_first=True, padding_value=pad),
                          torch.tensor([len(y) for y in ys]), padded=True)

    monkeypatch.setattr(data.SequenceSet, "batch", padded_batch)
    monkeypatch.setattr(loop, "metric_counts",
                        lambda kind, logits, batch, loss=None, frames=None:
                        metric_counts(kind, logits, batch))
    assert _trial(task, input_noise=0.3) == new


@pytest.mark.parametrize("variant", ["V", "FGR", "gru", "gru+lbr"])
@pytest.mark.parametrize("make", [music_task, speech_task, ctc_task])
def test_trial_equals_the_trial_through_autograd(monkeypatch, make, variant):
    """The one-call training step (SequenceModel.fused_step) against the module path under
    autograd: bit-identical trials (the same operations on the same operands)."""
    task = make(sizes=(24, 8, 8))
    calls = []
    fused_step = SequenceModel.fused_step

    def counted(self, *args):
        calls.append(1)
        return fused_step(self, *args)

    monkeypatch.setattr(SequenceModel, "fused_step", counted)
    new = _trial(task, variant=variant)
    assert len(calls) >= 5 * 24  # every update of the five epochs took it
    monkeypatch.setattr(SequenceModel, "fused_step", lambda self, *args: None)
    assert _trial(task, variant=variant) == new
