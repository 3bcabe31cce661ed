"""What a study states about its analysis before its trials run: the ``[analysis]`` table.

A study file may carry::

    [analysis]
    alpha = 0.05                 # level of every test (two-sided difference, each TOST side)
    power = 0.8                  # the power the sample-size answers are computed for
    reference = "V"              # the variant every other one is compared with
    tests = ["paired", "equivalence", "one-sided", "welch", "log-time"]   # see TestKind
    pairing = "all"              # which configurations enter a paired comparison (Pairing)
    fraction = 0.1               # the "best 10 %" of the Welch rule and of pairing "either-top"

    [analysis.margin]            # absolute equivalence margin per task, in the metric's units
    jsb = 0.05
    my-task = 0.3                # a task without a default must state one

Every key is optional for the paper's tasks; :func:`parse_analysis` checks the table and gives
a :class:`Preregistration`. What is computed later and not named here is exploratory.

**The default margins** (:data:`DEFAULT_MARGINS`), read off the project's study of record
(odyssey-free-2: 100 configurations per variant on jsb, 60 on the synthetic tasks). A margin is
the largest mean difference a researcher choosing an LSTM variant would still call "the same";
it must sit above the noise a rerun makes and below the effects the paper reports.

* **jsb, 0.05 nats per step.** Noise: the median epoch-to-epoch change of a vanilla run's
  validation NLL is 0.027 nats (90th percentile 0.071), the SD of vanilla's best-10 % test NLL
  0.073, and on vanilla's best quarter of configurations the median |Δ| of NP and CIFG (one
  structural change each, judged equal by the paper) is 0.048–0.056. Effects: the variants
  the paper finds worse on JSB differ from vanilla by ≥ 0.099 nats on the best 10 % here
  (NFG 0.099, FGR 0.105, NOAF 0.65), and the paper's best-10 % range spans 0.4 nats
  (8.4–8.8). 0.05 is half the smallest of those effects and above one epoch's wobble.
* **timit-synth, 1.0 frame-error point.** Noise: epoch-to-epoch change median 0.28 points (90th
  percentile 0.71), median |valid − test| over all trials 1.0, SD of vanilla's best-10 % test
  error 1.4; median |Δ| of NP / CIFG on vanilla's best quarter 0.23 / 0.59. Effects: the
  variants the paper finds worse on TIMIT differ by ≥ 2.0 points on the best 10 % here (NIG
  2.0, NIAF 2.3, NOG 2.7, NFG 16, NOAF 34): one point is half the smallest.
* **handwriting-synth, 1.0 CER point.** Noise: epoch-to-epoch change median 0.19 points (90th
  percentile 0.55), SD of vanilla's best-10 % test CER 0.92. Effects: the variants the paper
  finds worse on IAM differ by ≥ 2.3 points on the best 10 % here (NOG 2.3, NIAF 2.7, NIG 3.5,
  NFG 73, NOAF 79); vanilla's best-10 % mean is 3.8 %, so one point is a quarter of the error
  itself — a user would notice more, and hardly less.
* A task without a default (a user's own) has no natural unit here: its margin must be stated.

**α = 0.05** is the paper's level; **power 0.8** the usual planning target (Cohen).
**Pairing "all"**: see :class:`.paired.Pairing`.
"""

from __future__ import annotations

import difflib
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import UserError, unknown_key
from .paired import Pairing

DEFAULT_MARGINS: Mapping[str, float] = MappingProxyType({
    "jsb": 0.05,
    "timit-synth": 1.0,
    "handwriting-synth": 1.0,
})
DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8
DEFAULT_REFERENCE = "V"
DEFAULT_FRACTION = 0.1


class TestKind(enum.StrEnum):
    """The tests a study can pre-register; each is one family of claims."""

    PAIRED = "paired"            # difference: Wilcoxon signed-rank on the per-configuration Δ
    EQUIVALENCE = "equivalence"  # TOST of the mean Δ against ±margin
    ONE_SIDED = "one-sided"      # "none better" (H1: Δ < 0) and "no gain" (Δ > −margin)
    WELCH = "welch"              # the paper's rule: Welch's t on each arm's best fraction
    LOG_TIME = "log-time"        # findings 7-9 on training time: forest on log CPU time, ranks

    __test__ = False             # not a pytest class, despite the name


class AnalysisError(UserError, ValueError):
    """An ``[analysis]`` table with a bad key or value."""


KEYS = ("alpha", "power", "reference", "tests", "pairing", "fraction", "margin")


@dataclass(frozen=True)
class Preregistration:
    """The analysis a study commits to (module docstring): margins per task in the metric's
    units, the level, the target power, the reference variant, the tests, the pairing of
    configurations and the best fraction of the Welch rule."""

    margins: Mapping[str, float] = field(default_factory=lambda: DEFAULT_MARGINS)
    alpha: float = DEFAULT_ALPHA
    power: float = DEFAULT_POWER
    reference: str = DEFAULT_REFERENCE
    tests: frozenset[TestKind] = frozenset(TestKind)
    pairing: Pairing = Pairing.ALL
    fraction: float = DEFAULT_FRACTION

    def __post_init__(self) -> None:
        object.__setattr__(self, "margins", MappingProxyType(dict(self.margins)))

    def margin(self, task: str) -> float:
        """The task's equivalence margin; a one-line error when it has none."""
        if task not in self.margins:
            raise AnalysisError(f"task '{task}' has no equivalence margin; state one as "
                                f"[analysis.margin] {task} = <difference in its metric's units>")
        return self.margins[task]


def _fail(where: str, message: str) -> AnalysisError:
    return AnalysisError(f"{where}: {message}")


def _check_keys(where: str, table: Any, valid: Sequence[str], prefix: str) -> dict:
    """Like the study file's key check: unknown keys get a "did you mean" from difflib."""
    if not isinstance(table, dict):
        raise _fail(where, f"'{prefix.rstrip('.')}' must be a table")
    for key in table:
        if (problem := unknown_key(key, valid, prefix)) is not None:
            raise _fail(where, problem)
    return table


def _number(where: str, key: str, value: Any, low: float, high: float, what: str,
            closed: bool = False) -> float:
    """A finite number in (low, high), or (low, high] when ``closed``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low < value < high or (closed and value == high)):
        raise _fail(where, f"'analysis.{key}' = {value!r} must be a number {what}")
    return float(value)


def _hint(value: Any, names: Sequence[str]) -> str:
    """A "did you mean" for ``value`` among ``names``, case-insensitive ('v' → 'V')."""
    lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(value).lower(), list(lower), n=1)
    return f"did you mean '{lower[close[0]]}'? " if close else ""


def _choice(where: str, key: str, value: Any, kind: type[enum.StrEnum]) -> enum.StrEnum:
    names = [str(k) for k in kind]
    if isinstance(value, str) and value in names:
        return kind(value)
    hint = _hint(value, names)
    raise _fail(where, f"'{key}' = {value!r} is not known; {hint}use one of {', '.join(names)}")


def _margins(where: str, table: Any, tasks: Sequence[str]) -> dict[str, float]:
    _check_keys(where, table, list(tasks), "analysis.margin.")
    margins = {t: DEFAULT_MARGINS[t] for t in tasks if t in DEFAULT_MARGINS}
    for task, value in table.items():
        margins[task] = _number(where, f"margin.{task}", value, 0.0, math.inf,
                                "> 0 (an absolute difference in the task's metric)")
    missing = [t for t in tasks if t not in margins]
    if missing:
        raise _fail(where, f"task '{missing[0]}' has no default equivalence margin; add "
                           f"[analysis.margin] {missing[0]} = <difference in its metric's units>")
    return margins


def parse_analysis(table: dict, where: str, tasks: list[str],
                   variants: Sequence[str] | None = None) -> Preregistration:
    """The :class:`Preregistration` of an ``[analysis]`` table (``{}`` when the file has
    none) for a study of ``tasks`` (and ``variants``, when given, to check the reference).
    ``where`` (the file) starts every error, which is one line naming the bad key or value."""
    _check_keys(where, table, KEYS, "analysis.")
    alpha = _number(where, "alpha", table.get("alpha", DEFAULT_ALPHA), 0.0, 0.5,
                    "in (0, 0.5), e.g. 0.05")
    power = _number(where, "power", table.get("power", DEFAULT_POWER), 0.0, 1.0,
                    "in (0, 1), e.g. 0.8")
    fraction = _number(where, "fraction", table.get("fraction", DEFAULT_FRACTION), 0.0, 1.0,
                       "in (0, 1], e.g. 0.1", closed=True)
    reference = table.get("reference", DEFAULT_REFERENCE)
    if not isinstance(reference, str) or not reference:
        raise _fail(where, f"'analysis.reference' = {reference!r} must be a variant name, "
                           f"e.g. \"V\"")
    if variants is not None and reference not in variants:
        raise _fail(where, f"'analysis.reference' = {reference!r} is not a variant of the "
                           f"study; {_hint(reference, variants)}use one of "
                           f"{', '.join(variants)}")
    tests = table.get("tests", [str(k) for k in TestKind])
    if not isinstance(tests, list) or not tests:
        raise _fail(where, f"'analysis.tests' = {tests!r} must be a non-empty list, e.g. "
                           f"[{', '.join(repr(str(k)) for k in TestKind)}]")
    kinds = frozenset(_choice(where, "analysis.tests", t, TestKind) for t in tests)
    pairing = _choice(where, "analysis.pairing", table.get("pairing", str(Pairing.ALL)), Pairing)
    return Preregistration(margins=_margins(where, table.get("margin", {}), tasks),
                           alpha=alpha, power=power, reference=reference, tests=kinds,
                           pairing=pairing, fraction=fraction)
