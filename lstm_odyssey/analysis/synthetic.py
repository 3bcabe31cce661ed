"""Fabricated sweeps with a known structure, written as a sweep writes them
(:mod:`lstm_odyssey.records`) — for tests and demos of the analysis without training.

Per task the test metric of a trial is (x = log10 learning rate, h = hidden size, ν = input
noise, μ = −log10(1 − momentum) ∈ [0, 2])::

    metric = base + offset[variant] + a·((x − x*(h))/2)² + b·20/h + c·ν + m·μ/2 + ε,
    x*(h) = x* + k·log10(h/63),   ε ~ N(0, σ²)

or, with a well width w > 0, a·(1 − exp(−((x − x*(h))/w)²)) in place of the learning rate's bowl
(a narrow basin: within 10 % of the range from the best only for |x − x*| ≲ w/3)

and its training time is ``t0·(h/100)^1.5·(1 + ν)``. By default m = k = 0 (momentum has no
effect, nothing interacts) and the variant offsets follow docs/paper.md §Findings (NFG and
NOAF worse
everywhere; NIG, NOG, NIAF worse on the speech and handwriting tasks; FGR worse on JSB; CIFG
and NP unchanged), so a correct analysis reproduces those findings. Every trial records the
task's trivial baseline as ``baseline_metric``. Trials with ``x > x* + 1.2`` diverge before
their first validation (Optuna FAIL, status ``diverged``, no metrics).

Planted truths for tests (:func:`write_synthetic_study`): pass :class:`SyntheticTask` objects
(e.g. ``dataclasses.replace(TASKS["jsb-synth"], lr_amp=0)``), variants that *explode* (a
finished run with a metric 10⁶ × the baseline wherever x > x* + 0.25, like NOAF's blow-ups) and
variants that *diverge* with a probability (after one epoch, keeping that epoch's poor metric).
Each trial draws from its own random stream (seed, task, variant, configuration), so planting
something in one variant leaves every other variant's trials unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import optuna

from ..errors import UserError
from ..families import count_parameters
from ..records import EPOCH_KEYS, Status, StorageURL, StudyMeta, TrialRecord
from ..sweep import schema
from ..sweep.space import PAPER_SPACE
from ..variants import PRESET_NAMES


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
    baseline: float        # the trivial predictor's validation metric
    momentum_amp: float = 0.0      # m
    interaction_amp: float = 0.0   # k: how far the best learning rate moves with h
    lr_width: float = 0.0          # w: a Gaussian well instead of the bowl when > 0


TASKS: dict[str, SyntheticTask] = {
    t.name: t
    for t in (
        SyntheticTask("timit-synth", "frame_error_pct", 39, 61, True, 30.0, -3.0, 6.0, 6.0, 3.0,
                      0.8, 3600.0, {"NFG": 6.0, "NOAF": 8.0, "NIG": 3.0, "NOG": 3.0,
                                    "NIAF": 3.0}, baseline=85.0),
        SyntheticTask("iam-synth", "cer_pct", 4, 82, True, 12.0, -3.5, 12.0, 24.0, 6.0, 1.0,
                      7200.0, {"NFG": 15.0, "NOAF": 20.0, "NIG": 8.0, "NOG": 6.0,
                               "NIAF": 7.0}, baseline=100.0),
        SyntheticTask("jsb-synth", "nll_per_step", 88, 88, False, 8.5, -2.5, 1.2, 0.6, 0.4, 0.08,
                      300.0, {"NFG": 0.8, "NOAF": 1.0, "FGR": 0.3}, baseline=11.0),
    )
}

SPACE = {name: dim.distribution() for name, dim in PAPER_SPACE.items()}
VERSIONS = {"lstm_odyssey": "synthetic", "torch": "-", "optuna": optuna.__version__,
            "python": "-"}


def _draw(rng: np.random.Generator, low: float, high: float, log: bool,
          integer: bool) -> float:
    """One value of a range of the paper's space: integers ``round(exp(U(ln low, ln high)))``,
    log-scaled reals ``10^U(log10 low, log10 high)``, others ``U(low, high)`` (the draws
    fabricated studies were first written with, not the sweep's :meth:`Dim.draw`, so that a
    seed keeps giving the same study)."""
    if integer:
        return round(math.exp(rng.uniform(math.log(low), math.log(high))))
    if log:
        return 10 ** rng.uniform(math.log10(low), math.log10(high))
    return rng.uniform(low, high)


def _sample_configs(rng: np.random.Generator, n: int) -> list[dict[str, float]]:
    """The paper's search space, sampled once per task (a paired design across variants)."""
    return [{name: _draw(rng, d.low, d.high, d.log, d.integer) for name, d in PAPER_SPACE.items()}
            for _ in range(n)]


def _history(rng: np.random.Generator, best: float, start: float, epochs: int,
             best_epoch: int, epoch_time: float) -> list[dict[str, float]]:
    hist = []
    for e in range(1, epochs + 1):
        k = min(e, best_epoch)
        valid = best + (start - best) * math.exp(-4.0 * k / best_epoch) + (e > best_epoch) * (
            0.002 * abs(best) * (e - best_epoch))
        valid = best if e == best_epoch else max(valid, best * (1 + 1e-6) + 1e-9)
        train = valid * 0.9
        hist.append(dict(zip(EPOCH_KEYS, (e, train, train, valid, valid, epoch_time),
                             strict=True)))
    return hist


EXPLODED = 1e6  # an exploded run's metric, in multiples of the baseline


def _trial(task: SyntheticTask, variant: str, cid: int, cfg: dict[str, float],
           rng: np.random.Generator, patience: int, explode: bool,
           diverge: float) -> optuna.trial.FrozenTrial:
    x = math.log10(cfg[schema.LEARNING_RATE])
    h = cfg[schema.HIDDEN_SIZE]
    nu = cfg[schema.INPUT_NOISE]
    mu = -math.log10(cfg[schema.ONE_MINUS_MOMENTUM])
    x_best = task.lr_opt + task.interaction_amp * math.log10(h / 63)
    lr_term = (1 - math.exp(-(((x - x_best) / task.lr_width) ** 2)) if task.lr_width > 0
               else ((x - x_best) / 2) ** 2)
    clean = (task.base + task.worse.get(variant, 0.0) + task.lr_amp * lr_term
             + task.hidden_amp * 20 / h + task.noise_amp * nu
             + task.momentum_amp * mu / 2)
    test = clean + rng.normal(0, task.sigma)
    valid = clean + rng.normal(0, task.sigma)
    epochs = int(rng.integers(patience + 5, 4 * patience))
    best_epoch = epochs - patience
    n_params = count_parameters(variant, task.input_size, h, bidirectional=task.bidirectional)
    n_params += ((2 if task.bidirectional else 1) * h + 1) * task.output_size
    wall = task.time_s * (h / 100) ** 1.5 * (1 + nu) * rng.lognormal(0, 0.1)
    start, full = valid * 2 + 5, epochs
    # planted behaviours: an exploded run finishes with a huge metric; a diverging one stops
    # after its first epoch (keeping that epoch's metrics); the default divergence comes
    # before any validation
    if explode and x > task.lr_opt + 0.25:
        valid = test = task.baseline * EXPLODED
    late = bool(rng.random() < diverge)
    early = not late and x > task.lr_opt + 1.2
    history = [] if early else _history(rng, valid, start, epochs, best_epoch, wall / epochs)
    if late:
        history = history[:1]
        valid = test = history[0][EPOCH_KEYS[4]]  # the first epoch's validation metric
        epochs = best_epoch = 1
    if early:
        epochs, best_epoch = 3, None
    diverged = early or late
    record = TrialRecord(
        config_id=cid, seed=cid, momentum=1 - cfg[schema.ONE_MINUS_MOMENTUM],
        status=Status.DIVERGED if diverged else Status.COMPLETE,
        failure_reason=f"loss became NaN at epoch {epochs}" if diverged else "",
        valid_metric=None if early else valid, test_metric=None if early else test,
        train_metric=None if early else valid * 0.9,
        best_epoch=best_epoch, epochs=epochs,
        wall_time_s=wall * epochs / full,
        n_parameters=n_params, history=history, versions=VERSIONS,
        baseline_metric=task.baseline,
    )
    return optuna.trial.create_trial(
        params=cfg, distributions=SPACE, value=None if diverged else valid,
        state=optuna.trial.TrialState.FAIL if diverged else optuna.trial.TrialState.COMPLETE,
        user_attrs=record.to_user_attrs(),
    )


SOURCE = "synthetic"  # the source of every fabricated study


def write_synthetic_study(
    storage: str | optuna.storages.BaseStorage,
    study: str = "synthetic",
    tasks: tuple[str | SyntheticTask, ...] = tuple(TASKS),
    variants: tuple[str, ...] = PRESET_NAMES,
    n_trials: int = 40,
    seed: int = 0,
    patience: int = 15,
    explode: tuple[str, ...] = (),
    diverge: dict[str, float] | None = None,
) -> None:
    """Write one Optuna study per (task, variant) with ``n_trials`` fabricated trials each, all
    variants of a task sharing the same configurations (``config_id``). ``tasks`` are names of
    :data:`TASKS` or :class:`SyntheticTask` objects; ``explode`` and ``diverge`` (variant →
    probability) plant the behaviours of the module docstring. ``storage`` is an RDB URL, a
    journal file path (fastest) or an Optuna storage object."""
    unknown = [v for v in (*explode, *(diverge or {})) if v not in variants]
    if unknown:
        raise UserError(f"variant {unknown[0]!r} is planted but not in the study's variants "
                        f"({', '.join(variants)}); pick one of those")
    if isinstance(storage, str):  # one-line StorageError when it cannot be opened
        storage = StorageURL.parse(storage).open(create=True)
    real = [s.study_name for s in storage.get_all_studies()
            if (m := StudyMeta.from_user_attrs(s.user_attrs)) is None or m.source != SOURCE]
    if real:  # fabricated trials beside real ones would enter their reports
        raise UserError(f"the storage holds a study that is not fabricated ({real[0]!r}); "
                        "write the synthetic study into a storage of its own")
    for ti, given in enumerate(tasks):
        if isinstance(given, str) and given not in TASKS:
            raise UserError(f"unknown synthetic task {given!r}; pick one of {', '.join(TASKS)}")
        task = TASKS[given] if isinstance(given, str) else given
        configs = _sample_configs(np.random.default_rng([seed, ti]), n_trials)
        for variant in variants:
            name = schema.study_name(study, task.name, variant)
            try:
                ostudy = optuna.create_study(study_name=name, storage=storage,
                                             direction="minimize")
            except optuna.exceptions.DuplicatedStudyError:
                raise UserError(f"the storage already holds study {name!r}; write the "
                                "synthetic study into a new storage") from None
            meta = StudyMeta(
                study=study, task=task.name, variant=variant, source=SOURCE,
                data="fabricated trials (lstm_odyssey.analysis.synthetic), no training",
                metric=task.metric,
                protocol={"max_epochs": 150, "patience": patience, "batch_size": 1,
                          "n_trials": n_trials},
                trials=n_trials)
            for key, value in meta.to_user_attrs().items():
                ostudy.set_user_attr(key, value)
            vi = PRESET_NAMES.index(variant) if variant in PRESET_NAMES else len(PRESET_NAMES)
            ostudy.add_trials([
                _trial(task, variant, cid, cfg, np.random.default_rng([seed, ti, vi, cid]),
                       patience, variant in explode, (diverge or {}).get(variant, 0.0))
                for cid, cfg in enumerate(configs)])
