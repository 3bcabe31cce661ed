"""How sweeps are laid out in an Optuna storage (the records themselves:
:mod:`lstm_odyssey.records`).

* One Optuna study per (study file, task, variant), named ``study_name(study, task, variant)``
  = ``"<study>/<task>/<VARIANT>"`` with the canonical variant name (``CellSpec.name``), whose
  user_attrs hold a :class:`~lstm_odyssey.records.StudyMeta`.
* Every trial's params use the names of ``PARAMS`` (the paper's search space; ``momentum`` is
  searched as ``one_minus_momentum`` log-uniform in [0.01, 1]); its ``value`` is the validation
  metric at the best epoch (lower is better for every task).
* Every trial's ``user_attrs`` hold its :class:`~lstm_odyssey.records.TrialRecord`. A diverged
  or failed run is an Optuna FAIL trial whose status says so and whose ``failure_reason`` says
  why; it keeps whatever history it had. A trial stopped by an exploratory pruner is PRUNED.
* Added by the sweep: ``user_attrs["worker"]`` (``{"host", "pid", "started"}``: who ran it) and,
  for a re-queued configuration, ``user_attrs["retry_of"]``. A trial whose worker stopped before
  it finished (SIGKILL, Ctrl-C, a lost machine) is a FAIL trial with status ``lost``; its
  configuration was re-queued as a new trial with the same ``config_id``. Analyses drop lost
  trials: they are not results.
"""

from __future__ import annotations

from optuna.trial import FrozenTrial, TrialState

from ..records import FAILURES, RESULTS, Status, TrialRecord

# Searched hyperparameters (trial.params names).
HIDDEN_SIZE = "hidden_size"
LEARNING_RATE = "learning_rate"
ONE_MINUS_MOMENTUM = "one_minus_momentum"
INPUT_NOISE = "input_noise"
PARAMS = (HIDDEN_SIZE, LEARNING_RATE, ONE_MINUS_MOMENTUM, INPUT_NOISE)


def study_name(study: str, task: str, variant: str) -> str:
    """The Optuna study name of one (study file, task, variant) search."""
    return f"{study}/{task}/{variant}"


def trial_status(state: TrialState, recorded: object) -> Status:
    """The status a trial counts as: the one definition used by recovery, ``status`` and the
    analysis. A recorded status is trusted only with the Optuna state a worker tells with it
    (a result with COMPLETE, a failure with FAIL, ``pruned`` with PRUNED). A worker writes its
    record, status included, before ``tell()``; one that dies in between leaves a trial that
    the reaper fails while its record says ``complete``: that trial is ``lost`` (its
    configuration was re-queued), not a result. Unfinished trials are ``running`` or
    ``waiting``."""
    status = Status(recorded) if recorded in tuple(Status) else None
    if state == TrialState.COMPLETE:
        return status if status in RESULTS else Status.COMPLETE
    if state == TrialState.FAIL:
        return status if status in FAILURES else Status.LOST
    if state == TrialState.PRUNED:
        return Status.PRUNED
    return Status(state.name.lower())


def status_of(trial: FrozenTrial) -> Status:
    """What a stored trial counts as (:func:`trial_status` of its state and record)."""
    return trial_status(trial.state, TrialRecord.from_user_attrs(trial.user_attrs).status)
