"""Metrics and losses against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from lstm_odyssey.tasks import Split
from lstm_odyssey.train.data import SequenceSet
from lstm_odyssey.train.losses import (
    TaskDataError,
    check_ctc_lengths,
    ctc_min_length,
    sequence_loss,
)
from lstm_odyssey.train.metrics import (
    best_path_decode,
    cer_pct,
    edit_distance,
    metric_counts,
    metric_value,
    trivial_baseline,
)

from .tiny_tasks import ctc_task, music_task, speech_task


def _batch(loss, inputs, targets):
    data = SequenceSet(Split(inputs, targets), loss)
    return data.batch(np.arange(len(inputs)))


def test_best_path_decode_merges_repeats_and_drops_blanks():
    assert best_path_decode([0, 1, 1, 0, 1, 2, 2, 0, 0, 3]) == [1, 1, 2, 3]
    assert best_path_decode([0, 0, 0]) == []
    assert best_path_decode([2, 2, 2]) == [2]


def test_edit_distance_and_cer_on_known_strings():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([], [4, 5]) == 2
    # (3 + 1) errors over (7 + 3) reference characters
    assert cer_pct(["kitten", "abc"], ["sitting", "abd"]) == pytest.approx(40.0)


def test_cer_from_logits():
    # frames decode to [1, 2] for a reference [1, 2, 2]: one deletion over 3 characters;
    # the second sequence decodes to [3] for [3]: no error. CER = 1/4.
    paths = [[1, 1, 0, 2, 2], [0, 3, 3, 0, 0]]
    logits = torch.stack([torch.nn.functional.one_hot(torch.tensor(p), 4).float()
                          for p in paths])
    x = [np.zeros((5, 1), np.float32), np.zeros((3, 1), np.float32)]
    batch = _batch("ctc", x, [np.array([1, 2, 2]), np.array([3])])
    total, count = metric_counts("ctc", logits, batch)
    assert (total, count) == (1.0, 4)
    assert metric_value("ctc", total, count) == pytest.approx(25.0)


def test_frame_error_ignores_padding():
    x = [np.zeros((4, 1), np.float32), np.zeros((2, 1), np.float32)]
    batch = _batch("framewise_ce", x, [np.array([0, 1, 2, 1]), np.array([2, 2])])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 0, 0]])  # 2 wrong of 6; the padded 0s do not count
    logits = torch.nn.functional.one_hot(pred, 3).float()
    total, count = metric_counts("framewise_ce", logits, batch)
    assert metric_value("framewise_ce", total, count) == pytest.approx(100 * 2 / 6)


def test_nll_per_step_known_bernoulli():
    # Two notes, p = (0.8, 0.8); targets (1, 0) at each step: NLL per step = −ln .8 − ln .2.
    logit = math.log(0.8 / 0.2)
    x = [np.zeros((3, 2), np.float32), np.zeros((1, 2), np.float32)]
    y = [np.tile([1.0, 0.0], (3, 1)).astype(np.float32), np.array([[1.0, 0.0]], np.float32)]
    batch = _batch("bernoulli", x, y)
    logits = torch.full((2, 3, 2), logit)
    total, count = metric_counts("bernoulli", logits, batch)
    assert count == 4
    assert metric_value("bernoulli", total, count) == pytest.approx(-math.log(0.8) - math.log(0.2))
    # p = 0.5 everywhere: 88 notes cost 88·ln 2 nats per step
    batch = _batch("bernoulli", [np.zeros((5, 88), np.float32)], [np.ones((5, 88), np.float32)])
    total, count = metric_counts("bernoulli", torch.zeros(1, 5, 88), batch)
    assert metric_value("bernoulli", total, count) == pytest.approx(88 * math.log(2))


@pytest.mark.parametrize("make", [music_task, speech_task, ctc_task])
def test_batched_loss_equals_sum_of_sequence_losses(make):
    task = make(sizes=(5, 1, 1))
    data = SequenceSet(task.train, task.loss)
    torch.manual_seed(0)
    full = data.batch(np.arange(5))
    logits = torch.randn(*full.inputs.shape[:2], task.num_classes)
    alone = sum(
        sequence_loss(task.loss, logits[i:i + 1, : full.lengths[i]], data.batch(np.array([i])))
        for i in range(5)
    )
    assert sequence_loss(task.loss, logits, full).item() == pytest.approx(alone.item(), rel=1e-5)


def test_ctc_length_check():
    assert ctc_min_length([1, 1, 2]) == 4
    task = ctc_task(sizes=(3, 1, 1))
    check_ctc_lengths(task)
    task.valid.inputs[0] = task.valid.inputs[0][:1]
    with pytest.raises(TaskDataError, match="valid"):
        check_ctc_lengths(task)


def test_trivial_baselines():
    music = music_task(notes=4)
    rate = np.concatenate(music.train.targets).mean(0)
    y = np.concatenate(music.valid.targets)
    nll = -(y * np.log(rate) + (1 - y) * np.log(1 - rate)).sum() / len(y)
    assert trivial_baseline(music) == pytest.approx(nll, rel=1e-5)

    speech = speech_task()
    majority = np.bincount(np.concatenate(speech.train.targets)).argmax()
    labels = np.concatenate(speech.valid.targets)
    assert trivial_baseline(speech) == pytest.approx(100 * np.mean(labels != majority))

    assert trivial_baseline(ctc_task()) == pytest.approx(100.0)
