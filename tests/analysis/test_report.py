"""The report of a fabricated sweep with known structure: sections, files, findings, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lstm_odyssey.analysis.findings import NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED
from lstm_odyssey.analysis.report import build_report
from lstm_odyssey.analysis.synthetic import write_synthetic_study
from lstm_odyssey.cli import cli

pytestmark = pytest.mark.slow

SECTIONS = ("overview", "protocol", "variants", "significance", "fig3", "importance", "fig4",
            "fig6", "curves", "findings")


def test_report_has_every_section_and_file(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page and f'href="#{sid}"' in page
    assert page.count('<img src="data:image/png;base64,') == 2 + 1 + 2 + 2 + 2
    assert "synthetic" in page and "Welch" in page and "src=\"http" not in page
    md = (report_dir / "report.md").read_text()
    for heading in ("## Overview", "## Variant vs vanilla", "## Hyperparameter importance",
                    "## Findings of the paper against ours"):
        assert heading in md
    for csv in ("trials", "variants", "significance", "importance", "findings"):
        assert (report_dir / f"{csv}.csv").stat().st_size > 100
    pngs = sorted((report_dir / "figures").glob("*.png"))
    assert len(pngs) == 9
    assert all(p.with_suffix(".svg").exists() for p in pngs)


def test_known_structure_is_recovered(analysis) -> None:
    """The generator makes NFG and NOAF much worse everywhere, the learning rate dominant and
    momentum irrelevant; the analysis must find that."""
    cmp = analysis.comparison.set_index(["task", "variant"])
    for task in ("timit-synth", "jsb-synth"):
        for v in ("NFG", "NOAF"):
            assert cmp.loc[(task, v), "verdict"] == "worse"
            assert cmp.loc[(task, v), "ci_low"] > 0
    imp = analysis.importance
    main = imp[(imp.target == "test metric") & (imp.effect.isin(
        ["hidden_size", "learning_rate", "one_minus_momentum", "input_noise"]))]
    for _, g in main.groupby("task"):
        assert g.set_index("effect")["mean"].idxmax() == "learning_rate"
    t = imp[(imp.target == "training time") & (imp.effect.isin(["hidden_size", "learning_rate"]))]
    for _, g in t.groupby("task"):
        assert g.set_index("effect")["mean"].idxmax() == "hidden_size"
    f = analysis.findings.set_index("#")
    assert len(f) == 11 and set(f["verdict"]) <= {REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE}
    assert f.loc[2, "verdict"] == REPRODUCED  # NFG and NOAF worse on every task
    assert f.loc[6, "verdict"] == REPRODUCED  # learning rate most important
    assert f.loc[11, "verdict"] == NOT_TESTABLE  # synthetic data is not the paper's corpora
    assert all(len(e) > 20 for e in f["evidence"])


def test_smoke_sized_study_does_not_crash(tmp_path: Path) -> None:
    storage = str(tmp_path / "smoke.log")
    write_synthetic_study(storage, tasks=("jsb-synth",), variants=("V", "NFG", "CIFG"),
                          n_trials=3)
    html = build_report(storage, tmp_path / "out", n_trees=8)
    page = html.read_text()
    assert "too few trials" in page
    assert '<section id="findings">' in page


def test_cli_report_and_analyze(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rep"
    small = str(tmp_path / "small.log")
    write_synthetic_study(small, tasks=("jsb-synth",), variants=("V", "NP"), n_trials=4)
    res = runner.invoke(cli, ["report", "--storage", small, "-o", str(out), "--trees", "8"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out / "report.html") and (out / "report.html").exists()
    res = runner.invoke(cli, ["analyze", "--storage", small, "--trees", "8",
                              "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert {"significance", "importance", "findings"} <= set(obj)
    assert len(obj["significance"]) == 1
    res = runner.invoke(cli, ["analyze", "--storage", small, "--trees", "8"])
    assert "Welch" in res.output and "learning_rate" in res.output


def test_cli_storage_mistake_is_one_line(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "lstm_odyssey", "report", "--storage",
                        str(tmp_path / "nope.log"), "-o", str(tmp_path / "o")],
                       check=False, capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    assert "Traceback" not in p.stderr
