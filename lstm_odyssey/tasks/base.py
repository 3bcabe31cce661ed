"""The Task API: what training needs to know about a dataset.

A task is three splits of variable-length sequences plus the facts that fix the network and
the loss (docs/paper.md §Tasks): its kind (:class:`~.kinds.TaskKind`, which owns the target
layout, readout, loss, metric and trivial baseline), the input size M and the output size C.

==================  ================================  =======================================
kind                targets of one sequence           metric
==================  ================================  =======================================
``framewise_ce``    int64 ``[T]`` class per frame     ``frame_error_pct`` (% of frames)
``ctc``             int64 ``[L]`` labels 1..C-1       ``cer_pct`` (edit distance / chars)
``bernoulli``       float32 ``[T, C]`` in {0, 1}      ``nll_per_step`` (nats, summed over the
                                                      C outputs, per step)
``framewise_mse``   float32 ``[T, C]``                ``rmse`` (root mean squared error)
``sequence_ce``     int64 ``[1]`` class per sequence  ``sequence_error_pct`` (% of sequences)
==================  ================================  =======================================

Inputs are float32 ``[T, M]``, already normalised with statistics of the training split.
For CTC, output index 0 is the blank and ``num_classes`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kinds import METRICS, StandsFor, TaskKind

__all__ = ["METRICS", "Split", "Task"]


@dataclass
class Split:
    """One split: parallel lists of input arrays and target arrays."""

    inputs: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class Task:
    """A prepared dataset with the network shape and loss the paper used for it.

    ``loss`` is the task's kind (a :class:`~.kinds.TaskKind`; its name is accepted and
    converted). ``source`` is a :class:`~.kinds.Source` value (where the data come from);
    ``stands_for`` the paper dataset the task stands for, if any."""

    name: str                      # e.g. "jsb", "timit-synth", or the user's dataset name
    source: str                    # a Source value: "generated", "free corpus", ...
    description: str               # one line: what the data is and where it came from
    train: Split
    valid: Split
    test: Split
    input_size: int                # M
    num_classes: int               # output units C (CTC: including the blank at 0)
    loss: TaskKind                 # the task kind
    bidirectional: bool            # the paper's network: True for speech and handwriting
    class_names: list[str] = field(default_factory=list)
    stands_for: StandsFor | None = None

    def __post_init__(self) -> None:
        self.loss = TaskKind.parse(self.loss)

    @property
    def kind(self) -> TaskKind:
        """The task's kind (the same object as ``loss``)."""
        return self.loss

    @property
    def metric(self) -> str:
        """Name of the task's metric; lower is better."""
        return self.loss.metric
