"""The [analysis] table: defaults, parsing, one-line errors with "did you mean"."""

from __future__ import annotations

import pytest

from lstm_odyssey.analysis.paired import Pairing
from lstm_odyssey.analysis.preregistration import (
    DEFAULT_MARGINS,
    AnalysisError,
    Preregistration,
    TestKind,
    parse_analysis,
)
from lstm_odyssey.errors import UserError

TASKS = ["jsb", "timit-synth", "handwriting-synth"]


def test_defaults_for_the_papers_tasks():
    p = parse_analysis({}, "s.toml", TASKS)
    assert dict(p.margins) == {"jsb": 0.05, "timit-synth": 1.0, "handwriting-synth": 1.0}
    assert (p.alpha, p.power, p.reference, p.pairing, p.fraction) == (0.05, 0.8, "V",
                                                                      Pairing.ALL, 0.1)
    assert p.tests == frozenset(TestKind)
    assert p == Preregistration(margins={t: DEFAULT_MARGINS[t] for t in TASKS})


def test_a_full_table():
    p = parse_analysis({"alpha": 0.01, "power": 0.9, "reference": "NP", "fraction": 1,
                        "tests": ["paired", "equivalence"], "pairing": "either-top",
                        "margin": {"jsb": 0.1, "mine": 2}},
                       "s.toml", ["jsb", "mine"], variants=["V", "NP"])
    assert dict(p.margins) == {"jsb": 0.1, "mine": 2.0}
    assert (p.alpha, p.power, p.reference, p.fraction) == (0.01, 0.9, "NP", 1.0)
    assert p.tests == {TestKind.PAIRED, TestKind.EQUIVALENCE}
    assert p.pairing == Pairing.EITHER_TOP
    assert p.margin("mine") == 2.0
    with pytest.raises(TypeError):
        p.margins["jsb"] = 1.0          # the pre-registration is read-only


@pytest.mark.parametrize(("table", "tasks", "message"), [
    ({"alpah": 0.05}, TASKS, "unknown key 'analysis.alpah'; did you mean 'analysis.alpha'?"),
    ({"margin": {"jbs": 0.1}}, TASKS,
     "unknown key 'analysis.margin.jbs'; did you mean 'analysis.margin.jsb'?"),
    ({"margin": 0.1}, TASKS, "'analysis.margin' must be a table"),
    ({}, ["jsb", "mine"], ("task 'mine' has no default equivalence margin; add "
                           "[analysis.margin] mine = <difference in its metric's units>")),
    ({"margin": {"jsb": 0}}, TASKS, "'analysis.margin.jsb' = 0 must be a number > 0"),
    ({"margin": {"jsb": float("nan")}}, TASKS, "'analysis.margin.jsb' = nan must be"),
    ({"alpha": 0.7}, TASKS, "'analysis.alpha' = 0.7 must be a number in (0, 0.5)"),
    ({"alpha": True}, TASKS, "'analysis.alpha' = True must be a number"),
    ({"power": 1}, TASKS, "'analysis.power' = 1 must be a number in (0, 1)"),
    ({"fraction": 0}, TASKS, "'analysis.fraction' = 0 must be a number in (0, 1]"),
    ({"tests": "paired"}, TASKS, "'analysis.tests' = 'paired' must be a non-empty list"),
    ({"tests": ["equivalance"]}, TASKS,
     "'analysis.tests' = 'equivalance' is not known; did you mean 'equivalence'?"),
    ({"pairing": "al"}, TASKS, "'analysis.pairing' = 'al' is not known; did you mean 'all'?"),
    ({"reference": ""}, TASKS, "'analysis.reference' = '' must be a variant name"),
])
def test_bad_tables_are_one_line_errors(table, tasks, message):
    with pytest.raises(AnalysisError) as e:
        parse_analysis(table, "study.toml", tasks)
    text = str(e.value)
    assert text.startswith("study.toml: ") and message in text and "\n" not in text
    assert isinstance(e.value, UserError) and isinstance(e.value, ValueError)


def test_reference_must_be_a_variant_of_the_study():
    with pytest.raises(AnalysisError, match="'analysis.reference' = 'v' is not a variant of "
                                            "the study; did you mean 'V'"):
        parse_analysis({"reference": "v"}, "s.toml", TASKS, variants=["V", "NP"])


def test_margin_of_an_unknown_task_names_the_fix():
    with pytest.raises(AnalysisError, match=r"task 'other' has no equivalence margin; state one "
                                            r"as \[analysis.margin\] other = "):
        Preregistration().margin("other")
