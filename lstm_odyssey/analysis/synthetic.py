"""Fabricated sweeps with a known structure, written in the storage format of
:mod:`lstm_odyssey.sweep.schema` — for tests and demos of the analysis without training.

Per task the test metric of a trial is (x = log10 learning rate, h = hidden size, ν = input
noise; momentum has no effect and nothing interacts)::

    metric = base + offset[variant] + a·((x − x*)/2)² + b·(20/h)^½ + c·ν + ε,   ε ~ N(0, σ²)

and its training time is ``t0·(h/100)^1.5·(1 + ν)``. The variant offsets follow PAPER.md §7
(NFG and NOAF worse everywhere; NIG, NOG, NIAF worse on the speech and handwriting tasks; FGR
worse on JSB; CIFG and NP unchanged), so a correct analysis reproduces those findings. Trials
with ``x > x_div`` and momentum above 0.9 diverge (Optuna FAIL, status ``diverged``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import optuna

from ..errors import UserError
from ..sweep import schema
from ..sweep.storage import open_storage
from ..variants import PRESET_NAMES, count_parameters


@dataclass(frozen=True)
class SyntheticTask:
    """The generating function of one fabricated task (see the module docstring)."""

    name: str
    metric: str
    input_size: int
    output_size: int
    bidirectional: bool
    base: float
    lr_opt: float          # x*, log10 of the best learning rate
    lr_amp: float          # a
    hidden_amp: float      # b
    noise_amp: float       # c
    sigma: float           # σ
    time_s: float          # t0
    worse: dict[str, float]  # variant offsets (positive = worse)


TASKS: dict[str, SyntheticTask] = {
    t.name: t
    for t in (
        SyntheticTask("timit-synth", "frame_error_pct", 39, 61, True, 30.0, -3.0, 6.0, 6.0, 3.0,
                      0.8, 3600.0, {"NFG": 6.0, "NOAF": 8.0, "NIG": 3.0, "NOG": 3.0,
                                    "NIAF": 3.0}),
        SyntheticTask("iam-synth", "cer_pct", 4, 82, True, 12.0, -3.5, 12.0, 8.0, 6.0, 1.5,
                      7200.0, {"NFG": 15.0, "NOAF": 20.0, "NIG": 8.0, "NOG": 6.0,
                               "NIAF": 7.0}),
        SyntheticTask("jsb-synth", "nll_per_step", 88, 88, False, 8.5, -2.5, 1.2, 0.6, 0.4, 0.08,
                      300.0, {"NFG": 0.8, "NOAF": 1.0, "FGR": 0.3}),
    )
}

SPACE = {
    schema.HIDDEN_SIZE: optuna.distributions.IntDistribution(20, 200, log=True),
    schema.LEARNING_RATE: optuna.distributions.FloatDistribution(1e-6, 1e-2, log=True),
    schema.ONE_MINUS_MOMENTUM: optuna.distributions.FloatDistribution(0.01, 1.0, log=True),
    schema.INPUT_NOISE: optuna.distributions.FloatDistribution(0.0, 1.0),
}
VERSIONS = {"lstm_odyssey": "synthetic", "torch": "-", "optuna": optuna.__version__,
            "python": "-"}


def _sample_configs(rng: np.random.Generator, n: int) -> list[dict[str, float]]:
    """The paper's search space, sampled once per task (a paired design across variants)."""
    return [
        {
            schema.HIDDEN_SIZE: round(math.exp(rng.uniform(math.log(20), math.log(200)))),
            schema.LEARNING_RATE: 10 ** rng.uniform(-6, -2),
            schema.ONE_MINUS_MOMENTUM: 10 ** rng.uniform(-2, 0),
            schema.INPUT_NOISE: rng.uniform(0, 1),
        }
        for _ in range(n)
    ]


def _history(rng: np.random.Generator, best: float, start: float, epochs: int,
             best_epoch: int, epoch_time: float) -> list[dict[str, float]]:
    hist = []
    for e in range(1, epochs + 1):
        k = min(e, best_epoch)
        valid = best + (start - best) * math.exp(-4.0 * k / best_epoch) + (e > best_epoch) * (
            0.002 * abs(best) * (e - best_epoch))
        valid = best if e == best_epoch else max(valid, best * (1 + 1e-6) + 1e-9)
        train = valid * 0.9
        hist.append({"epoch": e, "train_loss": train, "train_metric": train,
                     "valid_loss": valid, "valid_metric": valid, "time_s": epoch_time})
    return hist


def _trial(task: SyntheticTask, variant: str, cid: int, cfg: dict[str, float],
           rng: np.random.Generator, patience: int) -> optuna.trial.FrozenTrial:
    x = math.log10(cfg[schema.LEARNING_RATE])
    h = cfg[schema.HIDDEN_SIZE]
    nu = cfg[schema.INPUT_NOISE]
    clean = (task.base + task.worse.get(variant, 0.0) + task.lr_amp * ((x - task.lr_opt) / 2) ** 2
             + task.hidden_amp * math.sqrt(20 / h) + task.noise_amp * nu)
    test = clean + rng.normal(0, task.sigma)
    valid = clean + rng.normal(0, task.sigma)
    epochs = int(rng.integers(patience + 5, 4 * patience))
    best_epoch = epochs - patience
    n_params = count_parameters(variant, task.input_size, h, bidirectional=task.bidirectional)
    n_params += ((2 if task.bidirectional else 1) * h + 1) * task.output_size
    wall = task.time_s * (h / 100) ** 1.5 * (1 + nu) * rng.lognormal(0, 0.1)
    diverged = x > task.lr_opt + 0.8 and cfg[schema.ONE_MINUS_MOMENTUM] < 0.1
    attrs = {
        "config_id": cid, "seed": cid, "momentum": 1 - cfg[schema.ONE_MINUS_MOMENTUM],
        "status": "diverged" if diverged else "complete",
        "failure_reason": "loss became NaN at epoch 3" if diverged else "",
        "valid_metric": None if diverged else valid, "test_metric": None if diverged else test,
        "train_metric": None if diverged else valid * 0.9,
        "best_epoch": None if diverged else best_epoch, "epochs": 3 if diverged else epochs,
        "wall_time_s": wall * (3 / epochs if diverged else 1.0), "n_parameters": n_params,
        "history": [] if diverged else _history(rng, valid, valid * 2 + 5, epochs, best_epoch,
                                                wall / epochs),
        "versions": VERSIONS,
    }
    return optuna.trial.create_trial(
        params=cfg, distributions=SPACE, value=None if diverged else valid,
        state=optuna.trial.TrialState.FAIL if diverged else optuna.trial.TrialState.COMPLETE,
        user_attrs=attrs,
    )


def write_synthetic_study(
    storage: str | optuna.storages.BaseStorage,
    study: str = "synthetic",
    tasks: tuple[str, ...] = tuple(TASKS),
    variants: tuple[str, ...] = PRESET_NAMES,
    n_trials: int = 40,
    seed: int = 0,
    patience: int = 15,
) -> None:
    """Write one Optuna study per (task, variant) with ``n_trials`` fabricated trials each, all
    variants of a task sharing the same configurations (``config_id``). ``storage`` is an RDB
    URL, a journal file path (fastest) or an Optuna storage object."""
    if isinstance(storage, str):
        storage = open_storage(storage)  # one-line StorageError when it cannot be opened
    rng = np.random.default_rng(seed)
    for tname in tasks:
        task = TASKS[tname]
        configs = _sample_configs(rng, n_trials)
        for variant in variants:
            name = schema.study_name(study, tname, variant)
            try:
                ostudy = optuna.create_study(study_name=name, storage=storage,
                                             direction="minimize")
            except optuna.exceptions.DuplicatedStudyError:
                raise UserError(f"the storage already holds study {name!r}; write the "
                                "synthetic study into a new storage") from None
            ostudy.set_user_attr(schema.STUDY_ATTR, {
                "study": study, "task": tname, "variant": variant, "source": "synthetic",
                "data": "fabricated trials (lstm_odyssey.analysis.synthetic), no training",
                "metric": task.metric,
                "protocol": {"max_epochs": 150, "patience": patience, "batch_size": 1,
                             "n_trials": n_trials},
                "schema": schema.SCHEMA_VERSION,
            })
            ostudy.add_trials([_trial(task, variant, cid, cfg, rng, patience)
                               for cid, cfg in enumerate(configs)])
