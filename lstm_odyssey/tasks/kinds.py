"""Task kinds, sources and what a task stands for: the torch-free facts every layer reads.

A task's *kind* fixes the layout of its targets, the network's readout and output layer, the
loss, the metric and the trivial baseline. :class:`TaskKind` is the table of kinds: each member
carries its :class:`KindSpec` (the facts the data, the study files and the analysis need);
:mod:`lstm_odyssey.train.kinds` registers one loss implementation per member (its loss, metric
and trivial predictor, in torch). Adding a kind is a member here plus its implementation there.

==================  =========================  ==================  ======================
kind                targets of one sequence     readout             metric (lower better)
==================  =========================  ==================  ======================
``bernoulli``       ``[T, C]`` in {0, 1}        every step          NLL per step (nats)
``framewise_ce``    int ``[T]`` in 0..C−1       every step          frame error (%)
``ctc``             int ``[L]`` in 1..C−1       every step          character error (%)
``framewise_mse``   float ``[T, K]``            every step          RMSE
``sequence_ce``     int ``[1]`` in 0..C−1       the final state     sequence error (%)
==================  =========================  ==================  ======================

C (or K) is the task's output size, the units of the output layer (CTC: the labels plus the
blank at 0).

A task also says where its data come from (:class:`Source`) and, if anything, which of the
paper's datasets it stands for (:class:`StandsFor`): the analysis compares a task with the
paper only when it declares one, and with the paper's numbers only when its data are that
dataset itself.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from ..errors import UserError


class KindError(UserError, ValueError):
    """An unknown task kind, source or paper dataset."""


class Targets(enum.StrEnum):
    """The layout of one sequence's targets."""

    STEP_MULTIHOT = "0/1 per step and output"     # [T, C]
    STEP_CLASS = "a class per step"               # [T]
    LABELS = "a label sequence"                   # [L], any L ≤ what CTC can align
    STEP_VALUES = "real values per step"          # [T, K]
    SEQUENCE_CLASS = "a class per sequence"       # [1]


class Readout(enum.StrEnum):
    """Which LSTM outputs feed the output layer."""

    STEP = "every step"           # logits (B, T, C)
    FINAL = "the final state"     # logits (B, 1, C): the last step (unidirectional), or both
                                  # directions' final states (bidirectional)


class PaperDataset(enum.StrEnum):
    """The paper's three datasets."""

    TIMIT = "TIMIT"
    IAM = "IAM"
    JSB = "JSB"


@dataclass(frozen=True)
class KindSpec:
    """What a kind fixes besides its loss (which :mod:`lstm_odyssey.train.kinds` holds)."""

    label: str                  # how reports name the kind
    metric: str                 # the metric's machine name (records, CSVs)
    metric_label: str           # the metric for people, with its unit
    targets: Targets
    readout: Readout
    bidirectional: bool         # the default network
    output_size: str            # what the output size counts, for people
    paper_dataset: PaperDataset | None = None  # the paper's dataset of this kind, if any
    min_label: int = 0          # the smallest valid target class (CTC: 1, 0 is the blank)


class TaskKind(enum.StrEnum):
    """The task kinds. A member is its name (a ``str``, so JSON and TOML store it as such)
    and carries its :class:`KindSpec` as ``.spec``."""

    spec: KindSpec

    def __new__(cls, value: str, spec: KindSpec) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.spec = spec
        return member

    BERNOULLI = "bernoulli", KindSpec(
        "multi-label per step (Bernoulli)", "nll_per_step", "NLL per time step",
        Targets.STEP_MULTIHOT, Readout.STEP, False, "outputs (notes) per step",
        PaperDataset.JSB)
    FRAMEWISE_CE = "framewise_ce", KindSpec(
        "framewise classification", "frame_error_pct", "frame error (%)", Targets.STEP_CLASS,
        Readout.STEP, True, "classes", PaperDataset.TIMIT)
    CTC = "ctc", KindSpec(
        "sequence labelling (CTC)", "cer_pct", "character error rate (%)", Targets.LABELS,
        Readout.STEP, True, "labels plus the blank (output 0)", PaperDataset.IAM, min_label=1)
    FRAMEWISE_MSE = "framewise_mse", KindSpec(
        "framewise regression", "rmse", "RMSE", Targets.STEP_VALUES, Readout.STEP, False,
        "target values per step")
    SEQUENCE_CE = "sequence_ce", KindSpec(
        "sequence classification", "sequence_error_pct", "sequence error (%)",
        Targets.SEQUENCE_CLASS, Readout.FINAL, False, "classes")

    @property
    def metric(self) -> str:
        """The kind's metric (lower is better)."""
        return self.spec.metric

    @property
    def classes(self) -> bool:
        """Targets are class indices (framewise, CTC, sequence), not 0/1 or real values."""
        return self.spec.targets in (Targets.STEP_CLASS, Targets.LABELS, Targets.SEQUENCE_CLASS)

    @property
    def per_step(self) -> bool:
        """Targets are aligned with the inputs, one row per step."""
        return self.spec.targets in (Targets.STEP_MULTIHOT, Targets.STEP_CLASS,
                                     Targets.STEP_VALUES)

    @classmethod
    def parse(cls, value: str | TaskKind) -> TaskKind:
        """The kind called ``value``; unknown names raise :class:`KindError`."""
        try:
            return cls(value)
        except ValueError:
            raise KindError(f"unknown task kind {value!r}; use one of "
                            f"{', '.join(cls)}") from None


def ctc_min_length(labels: Sequence[int]) -> int:
    """Fewest frames a CTC path for ``labels`` needs: one per label plus a blank between
    each pair of equal neighbours."""
    return len(labels) + sum(a == b for a, b in itertools.pairwise(labels))


METRICS: dict[str, str] = {k.value: k.metric for k in TaskKind}  # kind name -> metric
KIND_OF_METRIC: dict[str, TaskKind] = {k.metric: k for k in TaskKind}


def metric_label(metric: str) -> str:
    """A metric's name with its unit, for people (the name itself when unknown)."""
    kind = KIND_OF_METRIC.get(metric)
    return kind.spec.metric_label if kind else metric


class Source(enum.StrEnum):
    """Where a task's data come from."""

    GENERATED = "generated"               # made by a program (synthesised, rendered)
    FREE_CORPUS = "free corpus"           # real data anyone may download or install
    USER_FILES = "user files"             # the user's own files, in the dataset format
    LICENSED_CORPUS = "licensed corpus"   # real data under a licence the user must obtain

    @classmethod
    def parse(cls, value: str | Source) -> Source:
        try:
            return cls(value)
        except ValueError:
            raise KindError(f"unknown source {value!r}; use one of "
                            f"{', '.join(repr(s.value) for s in cls)}") from None


# What earlier versions stored as a task's source: "synthetic" for the free defaults, "real"
# for the paper's corpora read from the user's copy. Studies that stored them stay readable.
LEGACY_SOURCES = ("synthetic", "real")


@dataclass(frozen=True)
class StandsFor:
    """The paper dataset a task stands for; ``same_data``: the task's data are that dataset
    itself (so its numbers are comparable with the paper's), else a stand-in."""

    dataset: PaperDataset
    same_data: bool = False

    @property
    def label(self) -> str:
        """``"TIMIT"`` (the dataset itself) or ``"for TIMIT"`` (a stand-in)."""
        return self.dataset.value if self.same_data else f"for {self.dataset.value}"

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset.value, "same_data": self.same_data}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> StandsFor | None:
        if not isinstance(d, Mapping) or not d:
            return None
        return cls(PaperDataset(d["dataset"]), bool(d.get("same_data", False)))

    @classmethod
    def parse(cls, dataset: str, same_data: bool = False) -> StandsFor:
        try:
            return cls(PaperDataset(dataset), same_data)
        except ValueError:
            raise KindError(f"unknown paper dataset {dataset!r}; use one of "
                            f"{', '.join(PaperDataset)} (or leave 'stands_for' out)") from None


@dataclass(frozen=True)
class Role:
    """How the analysis reads a task: its kind (None when unknown) and what it stands for."""

    kind: TaskKind | None
    stands_for: StandsFor | None

    @classmethod
    def of(cls, kind: str | None, stands_for: Mapping[str, Any] | None, metric: str | None,
           source: str | None) -> Role:
        """The role of a stored task. Records that name their ``kind`` say what they stand
        for (nothing when ``stands_for`` is empty). Earlier records (no ``kind``) were all the
        built-in tasks: they stand for the paper dataset of their metric, the dataset itself
        when their source was ``"real"``."""
        if isinstance(kind, str) and kind in METRICS:
            return cls(TaskKind(kind), StandsFor.from_dict(stands_for))
        legacy = KIND_OF_METRIC.get(metric or "")
        dataset = legacy.spec.paper_dataset if legacy else None
        return cls(legacy, None if dataset is None else StandsFor(dataset, source == "real"))

    def label(self, task: str) -> str:
        """The task's name for people: with the paper dataset it stands for, else with its
        kind (``"jsb (for JSB)"``, ``"timit (TIMIT)"``, ``"sensors (framewise regression)"``)."""
        if self.stands_for is not None:
            return f"{task} ({self.stands_for.label})"
        return f"{task} ({self.kind.spec.label})" if self.kind else task
