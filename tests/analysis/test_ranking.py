"""The ranking of the variants beside the paper and the PTB reproduction's order
NP ≈ V ≈ CIFG ≫ NFG, NOAF, NOG: on hand-made comparison rows (ties, a missing outcome, a task
that did not learn) and on the fabricated study with the paper's structure."""

from __future__ import annotations

import math

import pandas as pd

from lstm_odyssey.analysis.findings import TaskAnalysis
from lstm_odyssey.analysis.ranking import ptb_check, ranking
from lstm_odyssey.analysis.stats import Learnability
from lstm_odyssey.analysis.views import ranking_view

REF_MEAN = 10.0


def _comparison(means: dict[str, float], verdicts: dict[str, str], powered: bool = True,
                task: str = "t") -> pd.DataFrame:
    """Rows as :func:`.stats.compare_variants` writes them (only the columns ranking reads)."""
    return pd.DataFrame([{
        "task": task, "variant": v, "n_top": 10 if math.isfinite(m) else 0, "mean_top": m,
        "n_top_ref": 10, "mean_top_ref": REF_MEAN, "diff": m - REF_MEAN,
        "verdict": verdicts.get(v, "n.s."), "powered": powered} for v, m in means.items()])


def _task(learned: bool = True, metric: str = "frame_error_pct") -> TaskAnalysis:
    top = 20.0 if learned else 99.0
    return TaskAnalysis("t", metric, "synthetic", Learnability("t", 100.0, top, 10), None, None)


PTB_LIKE = {"NP": 10.1, "CIFG": 9.9, "NFG": 14.0, "NOAF": 15.0, "NOG": 12.0, "FGR": 10.5}
PTB_VERDICTS = {"NFG": "worse", "NOAF": "worse", "NOG": "worse"}


def test_variants_are_ranked_best_first_with_vanilla_and_ties_share_a_rank() -> None:
    r = ranking(_comparison({"NP": 9.0, "CIFG": 10.0, "NFG": 12.0, "NOG": math.nan}, {}), "t")
    assert list(r["variant"]) == ["NP", "V", "CIFG", "NFG", "NOG"]  # tie: the paper's order
    assert list(r["rank"][:4]) == [1, 2, 2, 4] and r["rank"].isna().iloc[4]
    assert r.set_index("variant").loc["V", "verdict"] == "reference"
    assert ranking(_comparison({"NP": 9.0}, {}), "other task").empty


def test_the_ptb_order_holds_in_rank_and_in_the_tests() -> None:
    line = ptb_check(ranking(_comparison(PTB_LIKE, PTB_VERDICTS), "t"), _task())
    assert line.startswith("holds in rank (NP 3, V 2, CIFG 1, NFG 6, NOAF 7, NOG 5)")
    assert line.endswith("holds in the tests (5 of 5)")


def test_a_bottom_variant_ahead_of_a_top_one_breaks_the_rank_order() -> None:
    means = {**PTB_LIKE, "NOG": 9.5}
    line = ptb_check(ranking(_comparison(means, {**PTB_VERDICTS, "NOG": "n.s."}), "t"), _task())
    assert "not in rank: NOG (rank 1) is not behind NP (rank 4)" in line
    assert line.endswith("in the tests 4 of 5 as the order says (NOG: n.s.)")


def test_an_unpowered_no_difference_is_not_counted_as_the_order() -> None:
    line = ptb_check(ranking(_comparison(PTB_LIKE, PTB_VERDICTS, powered=False), "t"), _task())
    assert "3 of 5 as the order says (NP: n.s., underpowered; CIFG: n.s., underpowered)" in line


def test_missing_variants_and_unlearned_tasks_are_not_testable() -> None:
    without_nog = {k: v for k, v in PTB_LIKE.items() if k != "NOG"}
    assert ptb_check(ranking(_comparison(without_nog, {}), "t"), _task()) == \
        "not testable: no best-10 % mean for NOG"
    nan_nfg = {**PTB_LIKE, "NFG": math.nan}
    assert "no best-10 % mean for NFG" in ptb_check(ranking(_comparison(nan_nfg, {}), "t"),
                                                    _task())
    line = ptb_check(ranking(_comparison(PTB_LIKE, PTB_VERDICTS), "t"), _task(learned=False))
    assert line.startswith("not testable: t did not learn")


def test_the_view_names_the_papers_finding_for_the_tasks_dataset() -> None:
    means = {**PTB_LIKE, "NIG": 11.0, "NP+CIFG": 10.2}
    cmp = _comparison(means, PTB_VERDICTS)
    jsb = ranking_view(ranking(cmp, "t"), _task(metric="nll_per_step"))
    paper = jsb.set_index("variant")["paper (JSB)"]
    assert paper["NOG"] == paper["NIG"] == "not worse"  # finding 3: not on JSB
    assert paper["NFG"] == "worse" and paper["FGR"] == "worse" and paper["NP"] == \
        "no significant difference"
    assert paper["V"] == "reference" and paper["NP+CIFG"] == "–"  # the paper ran no combinations
    timit = ranking_view(ranking(cmp, "t"), _task()).set_index("variant")
    assert timit.loc["NOG", "paper (TIMIT)"] == "worse" and timit.loc["FGR", "paper (TIMIT)"] \
        == "not better"
    assert timit.loc["NOG", "PTB reproduction"] == "behind (≫)" and \
        timit.loc["V", "PTB reproduction"] == "ahead (≈ V)" and \
        timit.loc["NIG", "PTB reproduction"] == "–"
    assert timit.loc["NP", "best-10 % mean (n)"] == "10.1 (10)"


def test_on_the_papers_structure_the_order_holds_where_the_paper_has_it(analysis) -> None:
    """The fabricated study plants the paper's findings: NOG is worse on the speech and
    handwriting tasks (so the PTB order holds in rank there) and equal on JSB."""
    lines = {t.task: ptb_check(ranking(analysis.comparison, t.task), t) for t in analysis.tasks}
    assert lines["timit-synth"].startswith("holds in rank")
    assert lines["iam-synth"].startswith("holds in rank")
    assert "NOG: n.s." in lines["jsb-synth"]
