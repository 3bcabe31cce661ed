"""The report as one model: sections of typed blocks, which every view renders
(:mod:`.render`: HTML, Markdown and the CSVs) with the same sections in the same order.

A :class:`Report` has a status line, an optional warning, the *answer* (the sections of the
first screen) and the detail sections; each :class:`Section` is a list of blocks —
:class:`Text`, :class:`Bullets`, :class:`Table` (a table for people, naming the CSV that holds
its numbers with machine column names), :class:`Figure`, :class:`Matrix` (the task × variant
answer), :class:`Verdict` (a verdict with its reason) — and names the CSVs behind it. The
CSVs themselves are :attr:`Report.csvs`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


class Tone(enum.StrEnum):
    """How a line of text reads: plain, a side note, or a warning."""

    PLAIN = "plain"
    NOTE = "note"
    WARN = "warn"


@dataclass(frozen=True)
class Text:
    text: str
    tone: Tone = Tone.PLAIN


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section (a task's name and its metric)."""

    text: str
    sub: str = ""


@dataclass(frozen=True, eq=False)
class Table:
    """A table for people (human column names with units); ``css`` a class of the HTML
    table (e.g. "findings")."""

    frame: pd.DataFrame
    css: str = ""


@dataclass(frozen=True)
class Figure:
    path: Path   # a PNG, with an SVG beside it


@dataclass(frozen=True)
class Cell:
    """One cell of the :class:`Matrix`: its text, a tone (the verdict's CSS class), a tooltip
    and the strength of its colour in [0, 1] (the effect against its margin)."""

    text: str
    tone: str
    tip: str = ""
    strength: float = 1.0


@dataclass(frozen=True)
class MatrixRow:
    label: str
    unit: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Matrix:
    columns: tuple[str, ...]
    rows: tuple[MatrixRow, ...]
    legend: tuple[tuple[str, str], ...]   # (tone, words) of each colour
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """A verdict word (coloured by its tone) with its reason; ``label`` says whose verdict."""

    verdict: str
    reason: str
    label: str = ""
    tone: Tone = Tone.PLAIN


Block = Text | Bullets | Heading | Table | Figure | Matrix | Verdict


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    csvs: tuple[str, ...] = ()   # the CSV files (of Report.csvs) that hold its numbers


@dataclass
class Report:
    title: str
    status: str
    warning: str
    answer: list[Section]
    sections: list[Section]
    csvs: dict[str, pd.DataFrame]

    @property
    def all_sections(self) -> list[Section]:
        return [*self.answer, *self.sections]
