"""Markdown tables for the study commands (``lstm-odyssey study …``, ``calibrate …``): plain
pipe tables, one row per line, so that a README can hold what a command printed.

Hand-written rather than ``DataFrame.to_markdown``: that needs ``tabulate`` and pads every
cell to the column's width, which makes a README's diff of one changed number a diff of the
whole table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

NONE = "–"  # a cell with no number (yet)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown pipe table (cells are written as given: escape a ``|`` in them as ``\\|``)."""
    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def num(x: float | None, fmt: str) -> str:
    """A table cell: ``x`` formatted, or :data:`NONE` where there is no finite number."""
    return format(x, fmt) if x is not None and math.isfinite(x) else NONE
