"""The Task API: what training needs to know about a dataset.

A task is three splits of variable-length sequences plus the facts that fix the network and
the loss (docs/paper.md §Tasks):

========================  ============================  ===================================
loss                      targets of one sequence       metric
========================  ============================  ===================================
``"framewise_ce"``        int64 ``[T]`` class per frame  ``"frame_error_pct"`` (% of frames)
``"ctc"``                 int64 ``[L]`` labels 1..C-1    ``"cer_pct"`` (edit distance / chars)
``"bernoulli"``           float32 ``[T, C]`` in {0, 1}   ``"nll_per_step"`` (nats, summed
                                                         over the C outputs, per step)
========================  ============================  ===================================

Inputs are float32 ``[T, M]``, already normalised with statistics of the training split.
For CTC, output index 0 is the blank and ``num_classes`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# the metric of each loss kind (the kinds themselves: lstm_odyssey.train.kinds)
METRICS = {"framewise_ce": "frame_error_pct", "ctc": "cer_pct", "bernoulli": "nll_per_step"}


@dataclass
class Split:
    """One split: parallel lists of input arrays and target arrays."""

    inputs: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class Task:
    """A prepared dataset with the network shape and loss the paper used for it."""

    name: str                      # e.g. "jsb", "timit-synth"
    source: str                    # "synthetic" (free default) or "real" (a user's corpus)
    description: str               # one line: what the data is and where it came from
    train: Split
    valid: Split
    test: Split
    input_size: int                # M
    num_classes: int               # output units (CTC: including the blank at 0)
    loss: str                      # a loss kind, a key of METRICS
    bidirectional: bool            # the paper's network: True for speech and handwriting
    class_names: list[str] = field(default_factory=list)

    @property
    def metric(self) -> str:
        """Name of the task's metric; lower is better."""
        return METRICS[self.loss]
