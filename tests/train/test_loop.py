"""The training loop: early stopping, noise, divergence, time budget, determinism, record."""

import json

import numpy as np
import pytest

from lstm_odyssey import CellSpec
from lstm_odyssey.records import TrialRecord
from lstm_odyssey.train import ConfigError, TrainConfig, run
from lstm_odyssey.train.data import training_order
from lstm_odyssey.train.loop import EarlyStopping

from .tiny_tasks import ctc_task, music_task, speech_task

HISTORY_KEYS = {"epoch", "train_loss", "train_metric", "valid_loss", "valid_metric", "time_s"}


def _config(task, **overrides):
    base = {"task": task.name, "variant": "V", "hidden_size": 8, "learning_rate": 0.1,
            "momentum": 0.9, "input_noise": 0.0, "max_epochs": 3, "patience": 15}
    return TrainConfig(**{**base, **overrides})


def test_early_stopping_on_scripted_curve():
    curve = [5.0, 4.0, 4.5, 3.9, 4.0, 3.9, 4.2, 3.95, 3.0]  # best 3.9 at epoch 4, then 3 misses
    stopper = EarlyStopping(patience=3)
    stopped_at = None
    for epoch, value in enumerate(curve, 1):
        stopper.update(epoch, value)
        if stopper.should_stop(epoch):
            stopped_at = epoch
            break
    assert (stopped_at, stopper.best_epoch, stopper.best) == (7, 4, 3.9)


def test_run_stops_after_patience_without_improvement():
    # lr = 0: the weights never change, so the validation metric never improves after epoch 1
    task = music_task(sizes=(4, 2, 2))
    record = run(_config(task, learning_rate=0.0, max_epochs=20, patience=3), task=task)
    assert record["status"] == "complete"
    assert (record["epochs"], record["best_epoch"]) == (4, 1)
    assert len({h["valid_metric"] for h in record["history"]}) == 1


def test_noise_in_training_only():
    # train == valid data and lr = 0: without noise the training and validation losses agree;
    # with noise only the training loss changes.
    task = speech_task(sizes=(6, 1, 2))
    task.valid = task.train
    clean = run(_config(task, learning_rate=0.0, max_epochs=1, init_std=1.0),
                task=task)["history"][0]
    noisy = run(_config(task, learning_rate=0.0, max_epochs=1, init_std=1.0, input_noise=1.0),
                task=task)["history"][0]
    assert clean["train_loss"] == pytest.approx(clean["valid_loss"], rel=1e-5)
    assert noisy["valid_loss"] == clean["valid_loss"]
    assert abs(noisy["train_loss"] - clean["train_loss"]) > 0.05


def test_divergence_is_a_status_not_an_exception():
    task = ctc_task(sizes=(8, 4, 4))
    record = run(_config(task, learning_rate=1e6, max_epochs=5), task=task)
    assert record["status"] == "diverged"
    assert "nan" in record["failure_reason"] or "inf" in record["failure_reason"]
    json.dumps(record)


def test_time_budget_stops_cleanly():
    task = music_task(sizes=(4, 2, 2))
    record = run(_config(task, time_budget_s=1e-9), task=task)
    assert record["status"] == "time_limit"
    assert record["epochs"] == 0 and record["test_metric"] is None
    assert record["wall_time_s"] < 60


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_same_seed_same_metrics_other_seed_differs(backend):
    task = speech_task(sizes=(8, 4, 4))
    a, b, c = (run(_config(task, seed=s, input_noise=0.3, batch_size=2, backend=backend),
                   task=task)
               for s in (7, 7, 8))
    strip = [{k: v for k, v in h.items() if k != "time_s"} for h in a["history"]]
    assert strip == [{k: v for k, v in h.items() if k != "time_s"} for h in b["history"]]
    assert a["test_metric"] == b["test_metric"]
    assert [h["train_loss"] for h in a["history"]] != [h["train_loss"] for h in c["history"]]


def test_record_has_the_sweep_keys_and_is_json():
    task = music_task(sizes=(4, 2, 2))
    seen = []
    record = run(_config(task, config_id=5, variant="cifg+np", max_epochs=2), task=task,
                 on_epoch=lambda epoch, rec: seen.append((epoch, rec["epochs"])))
    assert set(TrialRecord.stored_keys()) <= set(record)
    assert set(record["history"][0]) == HISTORY_KEYS
    assert record["config_id"] == 5 and record["variant"] == CellSpec.parse("cifg+np").name
    assert record["n_parameters"] == 3 * 8 * (6 + 8 + 1) + 8 * 6 + 6  # LSTM + output layer
    assert seen == [(1, 1), (2, 2)]
    assert record["test_metric"] is not None and record["best_epoch"] in (1, 2)
    assert json.loads(json.dumps(record))["config"]["variant"] == record["variant"]


def test_on_epoch_exception_stops_the_run():
    task = music_task(sizes=(4, 2, 2))

    def prune(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(_config(task), task=task, on_epoch=prune)


def test_minibatch_order_covers_every_sequence_once_with_less_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=103)
    batches = training_order(lengths, 4, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    padding = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)
    shuffled = np.random.default_rng(1).permutation(103)
    naive = sum(lengths[b].max() * len(b) - lengths[b].sum()
                for b in np.array_split(shuffled, 26))
    assert padding < naive / 4


@pytest.mark.parametrize("bad", [{"momentum": 1.0}, {"hidden_size": 0}, {"batch_size": 0},
                                 {"input_noise": -1.0}, {"variant": "nope"}])
def test_bad_config_is_a_user_error(bad):
    task = music_task(sizes=(2, 1, 1))
    with pytest.raises(ValueError, match="nope|momentum|hidden_size|batch_size|input_noise"):
        _config(task, **bad)
    assert issubclass(ConfigError, ValueError)


def test_record_has_the_cpu_time_of_the_run():
    """The core time a trial cost, measurable on a shared machine where wall time is not."""
    task = music_task(sizes=(4, 2, 2))
    record = run(_config(task, max_epochs=2), task=task)
    assert 0 < record["cpu_time_s"] <= record["wall_time_s"] * 4 + 0.1
    json.dumps(record)
