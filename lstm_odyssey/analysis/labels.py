"""Names for people: hyperparameters and metrics as the report's text, tables and figures call
them (the CSVs keep the machine names)."""

from __future__ import annotations

from ..sweep import schema
from ..tasks import kinds

LABELS = {
    schema.HIDDEN_SIZE: "hidden size",
    schema.LEARNING_RATE: "learning rate",
    schema.ONE_MINUS_MOMENTUM: "1 − momentum",
    schema.INPUT_NOISE: "input noise std",
}
METRIC_LABELS = {k.metric: k.spec.metric_label for k in kinds.TaskKind}  # each kind's own


def param_label(param: str) -> str:
    """A hyperparameter's name for people."""
    return LABELS.get(param, param)


def metric_label(metric: str) -> str:
    """A metric's name with its unit, for people."""
    return METRIC_LABELS.get(metric, metric)
