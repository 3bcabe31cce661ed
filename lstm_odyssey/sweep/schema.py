"""How sweeps are laid out in an Optuna storage — the contract between sweep and analysis.

* One Optuna study per (study file, task, variant), named ``study_name(study, task, variant)``
  = ``"<study>/<task>/<VARIANT>"`` with the canonical variant name (``CellSpec.name``).
  Its ``user_attrs[STUDY_ATTR]`` is a dict with the keys of ``STUDY_KEYS``.
* Every trial's params use the names of ``PARAMS`` (the paper's search space; ``momentum`` is
  searched as ``one_minus_momentum`` log-uniform in [0.01, 1]); its ``value`` is the validation
  metric at the best epoch (lower is better for every task).
* Every trial's ``user_attrs`` hold the training record under the keys of ``TRIAL_KEYS``.
  A diverged or failed run is an Optuna FAIL trial whose ``status`` says ``diverged`` or
  ``failed`` and whose ``failure_reason`` says why; it keeps whatever history it had.
* Added by the sweep (extensions, nothing above changed): a trial whose worker stopped before it
  finished (SIGKILL, Ctrl-C, a lost machine) is a FAIL trial with ``status`` = ``LOST``; its
  configuration was re-queued as a new trial with the same ``config_id`` (whose
  ``user_attrs["retry_of"]`` is the lost trial's number). Analyses should drop LOST trials: they
  are not results. A trial stopped by an exploratory pruner is PRUNED with ``status`` =
  ``"pruned"``. The embedded storage of a study is ``results/<study>/JOURNAL_FILE``.
"""

from __future__ import annotations

from optuna.trial import TrialState

STUDY_ATTR = "lstm_odyssey"
SCHEMA_VERSION = 1

# Searched hyperparameters (trial.params names).
HIDDEN_SIZE = "hidden_size"
LEARNING_RATE = "learning_rate"
ONE_MINUS_MOMENTUM = "one_minus_momentum"
INPUT_NOISE = "input_noise"
PARAMS = (HIDDEN_SIZE, LEARNING_RATE, ONE_MINUS_MOMENTUM, INPUT_NOISE)
LOG_PARAMS = (HIDDEN_SIZE, LEARNING_RATE, ONE_MINUS_MOMENTUM)

# Study-level attributes: study file name, task name, canonical variant, data source
# ("synthetic" or "real"), a one-line description of the data, metric name
# ("frame_error_pct" | "cer_pct" | "nll_per_step"), and the protocol dict (max_epochs, patience,
# batch_size, ...).
STUDY_KEYS = ("study", "task", "variant", "source", "data", "metric", "protocol", "schema",
              # added by the sweep: planned trials, study seed, "none" | "median" | "hyperband"
              # (anything but "none" is an exploratory study, not the paper's protocol), and the
              # plan (seed, space, protocol, data) that the stored configurations came from.
              "trials", "seed", "pruner", "plan")

# Trial-level record (user_attrs). history is a list of per-epoch dicts with the keys
# epoch, train_loss, train_metric, valid_loss, valid_metric, time_s.
TRIAL_KEYS = (
    "config_id",      # index of the planned configuration, shared by all variants of a task
    "seed",           # training seed
    "momentum",       # 1 - one_minus_momentum, for readability
    "status",         # "complete" | "diverged" | "failed" | "time_limit"
    "failure_reason",  # "" when complete
    "valid_metric",   # best validation metric (= trial value)
    "test_metric",    # test metric at the best validation epoch
    "train_metric",   # training metric at the best validation epoch
    "best_epoch",     # 1-based
    "epochs",         # epochs run
    "wall_time_s",    # total training wall time
    "cpu_time_s",     # CPU time of the training process (absent in older records): with one
                      # thread per worker, the core time a trial cost on a shared machine
    "n_parameters",   # trainable parameters of the network
    "history",        # per-epoch records
    "versions",       # {"lstm_odyssey": ..., "torch": ..., "optuna": ..., "python": ...}
    "baseline_metric",  # the trivial predictor's validation metric (absent in older records)
)


# Extra trial user_attrs written by the sweep: the worker that ran it ({"host", "pid",
# "started"}) and, for a re-queued configuration, the number of the LOST trial it replaces.
SWEEP_TRIAL_KEYS = ("worker", "retry_of")
LOST = "lost"
PRUNED = "pruned"
RESULT_STATUSES = ("complete", "time_limit")  # told COMPLETE
FAIL_STATUSES = ("failed", "diverged")        # told FAIL
JOURNAL_FILE = "journal.log"


def study_name(study: str, task: str, variant: str) -> str:
    """The Optuna study name of one (study file, task, variant) search."""
    return f"{study}/{task}/{variant}"


def trial_status(state: TrialState, recorded: object) -> str:
    """The status a trial counts as: the one definition used by recovery, ``status`` and the
    analysis. A recorded status is trusted only with the Optuna state a worker tells with it
    (``RESULT_STATUSES`` with COMPLETE, ``FAIL_STATUSES`` with FAIL, ``pruned`` with PRUNED).
    A worker writes its record, status included, before ``tell()``; one that dies in between
    leaves a trial that the reaper fails while its record says ``complete``: that trial is
    ``lost`` (its configuration was re-queued), not a result. Unfinished trials are
    ``running`` or ``waiting``."""
    if state == TrialState.COMPLETE:
        return recorded if recorded in RESULT_STATUSES else "complete"
    if state == TrialState.FAIL:
        return recorded if recorded in FAIL_STATUSES else LOST
    if state == TrialState.PRUNED:
        return PRUNED
    return state.name.lower()
