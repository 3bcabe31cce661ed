"""The training loop: the paper's protocol (docs/paper.md §Training protocol), top to bottom.

    build the task's network, NesterovSGD(lr, momentum)
    for epoch = 1 … max_epochs:
        for each batch (one sequence by default) in a random order:
            x ← x + N(0, input_noise²)            training only
            θ ← NesterovSGD step on the loss of the batch (summed over time, averaged over
                the sequences of the batch)
        evaluate the validation split (no noise)
        keep the weights of the best validation epoch
        stop after `patience` epochs without improvement
    evaluate the test split with the best weights

A NaN/infinite loss ends the run with status ``diverged``, the time budget with ``time_limit``;
both keep the history so far and still report the test metric of the best epoch, if any.

Determinism: the seed fixes the initial weights (``torch.manual_seed``), the order of the
sequences (a NumPy generator) and the input noise (a torch generator). On the CPU two runs with
the same config and thread count give identical numbers; set ``TrainConfig.threads`` (sweeps
use 1) to pin the thread count.
"""

from __future__ import annotations

import copy
import math
import platform
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import __version__, kernels, tasks
from ..records import EPOCH_KEYS, Status, TrialRecord
from ..tasks import Task, TaskKind
from .config import TrainConfig
from .data import Batch, SequenceSet, add_input_noise, evaluation_order, training_order
from .kinds import loss_kind
from .losses import sequence_loss
from .metrics import metric_counts, metric_value, trivial_baseline
from .model import SequenceModel
from .optim import NesterovSGD

OnEpoch = Callable[[int, dict], None]


class EarlyStopping:
    """Tracks the best validation metric; ``should_stop`` after ``patience`` epochs (1-based)
    without a strictly lower value."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = math.inf
        self.best_epoch = 0

    def update(self, epoch: int, value: float) -> bool:
        """Record the validation metric of ``epoch``; True if it is a new best."""
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        return epoch - self.best_epoch >= self.patience


class StopRun(Exception):
    """Ends a run early with a status (diverged, time limit) and a reason."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def train_step(model: SequenceModel, optimizer: NesterovSGD, x: torch.Tensor, batch: Batch,
               kind: TaskKind | str) -> tuple[float, torch.Tensor, torch.Tensor | None]:
    """One update on a batch (inputs ``x``, already noisy); returns (summed loss, logits, the
    argmax class per step if already computed, else None).

    A batch of one unpadded sequence (the paper's protocol) on the cpu backend takes the fused
    step (:meth:`SequenceModel.fused_step`: forward, loss and gradients in one C++ call, the
    same numbers) where the C++ step computes the kind's loss; anything else autograd."""
    out = {"frames": None}
    fused = loss_kind(kind).fused and len(batch) == 1 and not batch.padded

    def closure() -> torch.Tensor:
        if fused:
            step = model.fused_step(x, batch.targets, kind)
            if step is not None:
                loss, out["logits"], out["frames"] = step
                return loss
        optimizer.zero_grad()
        with torch.enable_grad():
            out["logits"] = model(x, batch.step_lengths)
            loss = sequence_loss(kind, out["logits"], batch)
            (loss / len(batch) if len(batch) > 1 else loss).backward()
        return loss

    loss = optimizer.update(closure)
    return loss.item(), out["logits"], out["frames"]


def train_epoch(model: SequenceModel, optimizer: NesterovSGD, data: SequenceSet,
                config: TrainConfig, rng: np.random.Generator, noise: torch.Generator,
                deadline: float) -> tuple[float, float]:
    """One pass over the training split; returns (loss per step, metric) measured on the fly
    (on the noisy inputs, with the weights of the moment)."""
    model.train()
    loss_sum, metric_total, metric_count = 0.0, 0.0, 0
    for update, idx in enumerate(training_order(data.lengths, config.batch_size, rng), 1):
        if time.perf_counter() > deadline:
            raise StopRun(Status.TIME_LIMIT, f"time budget of {config.time_budget_s} s reached")
        batch = data.batch(idx).to(config.device)
        x = add_input_noise(batch.inputs, config.input_noise, noise)
        loss, logits, frames = train_step(model, optimizer, x, batch, data.loss)
        if not math.isfinite(loss):
            raise StopRun(Status.DIVERGED, f"training loss is {loss} at update {update}")
        loss_sum += loss
        total, count = metric_counts(data.loss, logits, batch, loss, frames)
        metric_total, metric_count = metric_total + total, metric_count + count
    return (float(loss_sum / data.kind.units(data.lengths)),
            metric_value(data.loss, metric_total, metric_count))


@torch.no_grad()
def evaluate(model: SequenceModel, data: SequenceSet, config: TrainConfig) -> tuple[float, float]:
    """(loss per step, metric) on a split, without noise, in fixed length-sorted batches."""
    model.eval()
    loss_sum, metric_total, metric_count = 0.0, 0.0, 0
    for idx in evaluation_order(data.lengths, config.eval_batch_size):
        batch = data.batch(idx).to(config.device)
        logits = model(batch.inputs, batch.step_lengths)
        loss = sequence_loss(data.loss, logits, batch).item()
        loss_sum += loss
        total, count = metric_counts(data.loss, logits, batch, loss)
        metric_total, metric_count = metric_total + total, metric_count + count
    return (float(loss_sum / data.kind.units(data.lengths)),
            metric_value(data.loss, metric_total, metric_count))


def package_versions() -> dict[str, str]:
    """Versions that make a record reproducible."""
    try:
        optuna = version("optuna")
    except PackageNotFoundError:
        optuna = ""
    return {"lstm_odyssey": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "optuna": optuna, "python": platform.python_version()}


def run(config: TrainConfig, task: Task | None = None, progress: bool = False,
        on_epoch: OnEpoch | None = None) -> dict:
    """Train one network with the paper's protocol and return its record.

    The record is a :class:`~lstm_odyssey.records.TrialRecord` as a dict
    (:meth:`~lstm_odyssey.records.TrialRecord.to_dict`, what a sweep stores) plus ``test_loss``,
    ``task``, ``source``, ``variant``, ``metric``, ``backend`` and ``config``. ``task`` defaults
    to ``load_task(config.task, config.size, config.path, config.data_seed)``.
    ``on_epoch(epoch, record)`` is called after every epoch with the record so far; an
    exception it raises propagates (a sweep uses this to prune).
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    deadline = start + config.time_budget_s if config.time_budget_s else math.inf
    if config.threads:
        torch.set_num_threads(config.threads)
    if task is None:
        task = tasks.load_task(config.task, size=config.size, path=config.path,
                               seed=config.data_seed)
    loss_kind(task.loss).check(task)
    train, valid, test = (SequenceSet(s, task.loss) for s in (task.train, task.valid, task.test))

    torch.manual_seed(config.seed)
    model = SequenceModel.for_task(task, config.hidden_size, config.variant, config.backend,
                                   config.init_std).to(config.device)
    optimizer = NesterovSGD(model.parameters(), config.learning_rate, config.momentum)
    rng = np.random.default_rng(config.seed)
    noise = torch.Generator().manual_seed(config.seed)

    record = TrialRecord(
        config_id=config.config_id, seed=config.seed, momentum=config.momentum,
        status=Status.COMPLETE, failure_reason="", best_epoch=0, epochs=0, wall_time_s=0.0,
        cpu_time_s=0.0, n_parameters=model.count_parameters(), history=[],
        versions=package_versions(), baseline_metric=trivial_baseline(task))
    facts = {
        "test_loss": None, "task": task.name, "source": task.source, "variant": config.variant,
        "metric": task.metric, "backend": kernels.resolve_backend(
            config.backend, torch.device(config.device).type, config.variant),
        "config": config.to_dict(),
    }
    stopper = EarlyStopping(config.patience)
    best_state = None
    bar = tqdm(total=config.max_epochs, desc=f"{task.name} {config.variant}", unit="epoch",
               disable=not progress, leave=False)
    try:
        for epoch in range(1, config.max_epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_metric = train_epoch(model, optimizer, train, config, rng, noise,
                                                   deadline)
            valid_loss, valid_metric = evaluate(model, valid, config)
            if not math.isfinite(valid_loss):
                raise StopRun(Status.DIVERGED,
                              f"validation loss is {valid_loss} after epoch {epoch}")
            record.history.append(dict(zip(EPOCH_KEYS, (
                epoch, train_loss, train_metric, valid_loss, valid_metric,
                time.perf_counter() - t0), strict=True)))
            record.epochs = epoch
            if stopper.update(epoch, valid_metric):
                best_state = copy.deepcopy(model.state_dict())
                record.best_epoch, record.valid_metric = epoch, valid_metric
                record.train_metric = train_metric
            record.wall_time_s = time.perf_counter() - start
            record.cpu_time_s = time.process_time() - cpu_start
            bar.update()
            bar.set_postfix({f"valid {task.metric}": f"{valid_metric:.4g}",
                             "best": f"{stopper.best:.4g}"})
            if on_epoch is not None:
                on_epoch(epoch, record.to_dict() | facts)
            if stopper.should_stop(epoch):
                break
    except StopRun as stop:
        record = record.ended(stop.status, stop.reason)
    finally:
        bar.close()

    if best_state is not None:
        model.load_state_dict(best_state)
        facts["test_loss"], record.test_metric = evaluate(model, test, config)
    record.wall_time_s = time.perf_counter() - start
    record.cpu_time_s = time.process_time() - cpu_start
    return record.to_dict() | facts
