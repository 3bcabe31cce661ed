"""Names for people: hyperparameters and metrics as the report's text, tables and figures call
them (the CSVs keep the machine names)."""

from __future__ import annotations

from ..families import family_of
from ..sweep import schema
from ..tasks import kinds
from ..variants import SpecError

OWN_CELL = "own cell"  # the family of a stored variant whose user cell is not loaded

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


def cell_family(variant: str) -> str:
    """The cell family of a stored variant's name (``"lstm"`` for ``"NP"``, ``"gru"`` for
    ``"gru+lbr"``), or :data:`OWN_CELL` for a user's cell (the analysis does not import it)."""
    try:
        return family_of(variant)
    except SpecError:
        return OWN_CELL
