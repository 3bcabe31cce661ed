"""Learning is real: the vanilla LSTM beats the trivial predictor; NFG and NOAF runs complete.

The tiny in-memory tasks run in seconds; the demo-size tasks of ``load_task`` are marked slow
(their data is prepared and cached on first use).
"""

import pytest

from lstm_odyssey.tasks import load_task
from lstm_odyssey.train import TrainConfig, run

from .tiny_tasks import ctc_task, music_task, speech_task


def _run(task, variant="V", **protocol):
    config = TrainConfig(task=task.name, variant=variant, hidden_size=protocol.pop("hidden", 10),
                         momentum=0.9, input_noise=0.0, **protocol)
    return run(config, task=task)


@pytest.mark.parametrize("make, lr, margin", [
    (music_task, 1.0, 2.0),    # NLL per step: baseline ≈ 2.7 nats
    (speech_task, 0.1, 40.0),  # frame error: majority class ≈ 70 %
    (ctc_task, 1.0, 50.0),     # CER: all blank = 100 %
])
def test_tiny_tasks_learn(make, lr, margin):
    task = make()
    record = _run(task, learning_rate=lr, max_epochs=8)
    assert record["status"] == "complete"
    assert record["valid_metric"] < record["baseline_metric"] - margin
    assert record["test_metric"] < record["baseline_metric"] - margin


DEMO = {  # task: (hidden size, learning rate, batch size, epochs, required gain over baseline)
    "jsb": (20, 1e-2, 1, 3, 0.5),            # nats per step, per-note base rates ≈ 10.8
    "timit-synth": (20, 3e-2, 4, 3, 30.0),   # % frame error, majority class ≈ 90 %
    "handwriting-synth": (50, 1e-2, 1, 5, 8.0),  # % CER, all blank = 100 %
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DEMO))
def test_demo_task_vanilla_beats_trivial_baseline(name):
    hidden, lr, batch, epochs, gain = DEMO[name]
    task = load_task(name, size="demo")
    record = _run(task, hidden=hidden, learning_rate=lr, batch_size=batch, max_epochs=epochs)
    assert record["status"] == "complete"
    assert record["valid_metric"] < record["baseline_metric"] - gain
    for variant in ("NFG", "NOAF"):  # unbounded cells: a smaller step keeps one epoch stable
        other = _run(task, variant, hidden=hidden, learning_rate=lr / 10, batch_size=batch,
                     max_epochs=1)
        assert other["status"] == "complete" and other["epochs"] == 1
        assert other["test_metric"] is not None
