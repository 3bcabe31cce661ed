"""The report of a fabricated sweep with known structure: sections, files, findings, CLI."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from click.testing import CliRunner

from lstm_odyssey.analysis.findings import (
    NOT_TESTABLE,
    REPRODUCED,
    UNDERPOWERED,
    FindingVerdict,
)
from lstm_odyssey.analysis.importance import Forest
from lstm_odyssey.analysis.report import analyze, build_report, write_report
from lstm_odyssey.analysis.synthetic import write_synthetic_study
from lstm_odyssey.analysis.views import gate_note, vanilla_effects_view
from lstm_odyssey.cli import cli

pytestmark = pytest.mark.slow

SECTIONS = ("overview", "variants", "ranking", "significance", "plan", "paired", "seeds",
            "budget", "cap", "fig3", "importance", "fig4", "fig6", "curves", "evidence",
            "protocol")


def test_report_has_every_section_and_file(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page and f'href="#{sid}"' in page
    assert page.count('<img src="data:image/png;base64,') == 3 + 1 + 3 + 3 + 3 + 3  # + budget
    assert "synthetic" in page and "Welch" in page and "src=\"http" not in page
    # the answer comes first: findings and the matrix before any detail section
    assert page.index('id="answer"') < page.index("<section") and "matrix" in page
    assert "not complete" not in page  # every planned trial finished: no provisional warning
    assert "mean_params_top10" not in page and "welch_p" not in page  # human column names
    md = (report_dir / "report.md").read_text()
    assert "run to the epoch cap" in md  # the variant tables, in both formats
    for heading in ("## Overview", "## Variants\n", "## Variant vs vanilla",
                    "## Hyperparameter importance", "## Does the epoch cap decide a verdict?",
                    "## Findings of the paper against ours", "## Ranking of the variants"):
        assert heading in md
    assert md.index("## Findings of the paper against ours") < md.index("## Overview")
    for csv in ("trials", "variants", "significance", "significance_left_out", "cap_sensitivity",
                "importance", "importance_pooled", "ped_anova", "findings", "overview",
                "paired", "findings_decisive", "budget", "budget_separation", "ranks",
                "cap_headline"):
        assert (report_dir / f"{csv}.csv").stat().st_size > 100
    # the same sections, in the same order, in both documents
    titles = [line.removeprefix("## ") for line in md.splitlines() if line.startswith("## ")]
    assert titles[2:] == [t for t in (re.findall(r'<section id="[^"]+"><h2>([^<]+)</h2>', page))]
    # one Holm family per task, named the same in the CSV and the report
    paired = (report_dir / "paired.csv").read_text()
    assert "timit-synth: 8 comparisons against V" in paired
    assert "Holm family &#x27;timit-synth: 8 comparisons against V&#x27;" in page
    assert "documented defaults" in md and "exploratory" in md
    assert "welch_p" in (report_dir / "significance.csv").read_text()  # CSVs: machine names
    pngs = sorted((report_dir / "figures").glob("*.png"))
    assert len(pngs) == 16
    assert all(p.with_suffix(".svg").stat().st_size > 1000 for p in pngs)
    for p in pngs:  # no blank figure, even where no browser exists
        rgb = plt.imread(p)[..., :3]
        assert (rgb.min(axis=-1) < 0.9).mean() > 0.02, p.name


def test_the_same_storage_gives_the_same_report(synthetic_storage: str, report_dir: Path,
                                                tmp_path: Path) -> None:
    """A committed report can be checked by regenerating it: a second analysis of the same
    storage writes every file byte for byte the same (no date of writing, seeded forests,
    SVG ids from a fixed salt), and the report dates its data by the last finished trial."""
    again = tmp_path / "again"
    write_report(analyze(synthetic_storage, n_trees=24), again)
    files = sorted(p.relative_to(report_dir) for p in report_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    differ = [str(f) for f in files if (report_dir / f).read_bytes() != (again / f).read_bytes()]
    assert differ == []
    assert "last trial finished 20" in (again / "report.md").read_text()


def test_known_structure_is_recovered(analysis) -> None:
    """The generator makes NFG and NOAF much worse everywhere, the learning rate dominant and
    momentum irrelevant; the analysis must find that."""
    cmp = analysis.comparison.set_index(["task", "variant"])
    for task in ("timit-synth", "iam-synth", "jsb-synth"):
        for v in ("NFG", "NOAF"):
            assert cmp.loc[(task, v), "verdict"] == "worse"
            assert cmp.loc[(task, v), "ci_low"] > 0
    imp = analysis.importance[analysis.importance["variant"] == "V"]
    main = imp[(imp.target == "test metric") & (imp.effect.isin(
        ["hidden_size", "learning_rate", "one_minus_momentum", "input_noise"]))]
    for _, g in main.groupby("task"):
        assert g.set_index("effect")["mean"].idxmax() == "learning_rate"
    t = imp[(imp.target == "training time") & (imp.effect.isin(["hidden_size", "learning_rate"]))]
    for _, g in t.groupby("task"):
        assert g.set_index("effect")["mean"].idxmax() == "hidden_size"
    f = analysis.findings.set_index("#")
    assert len(f) == 11
    assert set(f["verdict"]) <= set(FindingVerdict)
    # NFG and NOAF worse on all three tasks: significant, so three trials per arm suffice
    assert f.loc[2, "evidence"].count("→ worse") == 6 and f.loc[2, "verdict"] == REPRODUCED
    assert "iam-synth (for IAM)" in f.loc[2, "reason"]
    # "no variant better" rests on n.s. cells of 3 trials per arm: underpowered
    assert f.loc[1, "verdict"] == UNDERPOWERED and "(n = 3)" in f.loc[1, "reason"]
    assert f.loc[11, "verdict"] == NOT_TESTABLE  # synthetic data is not the paper's corpora
    assert all(len(e) > 20 for e in f["evidence"])
    assert all(t.learn.learned for t in analysis.tasks)
    # every variant has its own forest on its 30 distinct configurations
    per_variant = analysis.importance[analysis.importance["target"] == "test metric"]
    assert per_variant.groupby(["task", "variant"]).ngroups == 27
    assert (per_variant["n_configs"] == 30).all()
    pooled = analysis.pooled.set_index(["task", "effect"])
    assert (pooled["n_configs"] == 270).all()
    assert pooled.loc[("timit-synth", "variant"), "mean"] > 0.05  # NFG, NOAF, ... differ
    ped = analysis.ped[analysis.ped["variant"] == "V"]
    assert len(ped) == 12 and ped["importance"].between(0, 1).all()


def test_importance_tables_name_each_forests_fit_and_gate_the_time_forest(analysis) -> None:
    """A share of variance is shown with its forest's fit, and a training-time forest that
    fails the gate is marked as no evidence for findings 7–9 even where the metric forest
    passes (here: jsb-synth's time forest cut to 10 configurations)."""
    view = vanilla_effects_view(analysis, "jsb-synth")
    t = next(t for t in analysis.tasks if t.task == "jsb-synth")
    metric, time, log_time = view.columns[1:]
    assert log_time.startswith("log training time, % of variance (OOB R² ")
    assert metric == (f"test metric, % of variance (OOB R² {t.metric_fanova.oob_r2:.2f}, "
                      f"{t.metric_fanova.n_configs} configurations)")
    assert time.startswith("training time, % of variance (OOB R² ")
    assert t.label not in gate_note(analysis)  # jsb-synth's forests pass the gate

    def note(times: bool = True, **forests: Forest) -> str:
        u = replace(t, **forests)
        return gate_note(replace(analysis, tasks=[u if v is t else v for v in analysis.tasks]),
                         times)

    cut = note(time_fanova=Forest(t.time_fanova.fanova, n_configs=10))
    assert cut.startswith("Training times not evidence for findings 7–9 (shown for inspection "
                          "only): ") and "findings 6–10" not in cut
    assert (f"{t.label}: training-time forest on 10 distinct vanilla configurations, "
            f"OOB R² {t.time_fanova.oob_r2:.2f} (needs ≥ 30 and ≥ 0.5)") in cut
    # Fig. 6 (interactions of the metric) shows no times: no time note there
    assert t.label not in note(False, time_fanova=Forest(t.time_fanova.fanova, n_configs=10))
    # a failing metric forest takes the task out of findings 6–10; its time forest is not
    # listed again
    cut = note(metric_fanova=Forest(t.metric_fanova.fanova, n_configs=10),
               time_fanova=Forest(t.time_fanova.fanova, n_configs=10))
    assert cut.startswith("Not evidence for findings 6–10 (shown for inspection only): ")
    assert f"{t.label}: metric forest on 10" in cut
    assert f"{t.label}: training-time forest" not in cut


def test_smoke_sized_study_does_not_crash(tmp_path: Path) -> None:
    storage = str(tmp_path / "smoke.log")
    write_synthetic_study(storage, tasks=("jsb-synth",), variants=("V", "NFG", "CIFG"),
                          n_trials=3)
    html = build_report(storage, tmp_path / "out", n_trees=8)
    page = html.read_text()
    assert "too few trials" in page
    assert '<div id="answer">' in page


def test_live_sweep_with_failures_and_empty_tasks(tmp_path: Path) -> None:
    """A report of a sweep in progress: a running trial, a variant whose every trial failed,
    a task with nothing finished. Nothing crashes and nothing untestable gets a verdict."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from lstm_odyssey.analysis.report import analyze, summary, summary_text
    from lstm_odyssey.analysis.synthetic import SPACE
    from lstm_odyssey.records.study import SCHEMA_VERSION, STUDY_ATTR
    from lstm_odyssey.sweep import schema

    store = JournalStorage(JournalFileBackend(str(tmp_path / "live.log")))
    write_synthetic_study(store, tasks=("jsb-synth",), variants=("V", "NP"), n_trials=5)

    def new(task: str, variant: str, source: str = "synthetic") -> optuna.Study:
        s = optuna.create_study(study_name=schema.study_name("synthetic", task, variant),
                                storage=store)
        s.set_user_attr(STUDY_ATTR, {
            "study": "synthetic", "task": task, "variant": variant, "source": source,
            "data": "-", "metric": "frame_error_pct" if task == "t" else "nll_per_step",
            "protocol": {}, "schema": SCHEMA_VERSION, "trials": 5})
        return s

    nfg = new("jsb-synth", "NFG")
    for i in range(3):
        nfg.add_trial(optuna.trial.create_trial(
            params={"hidden_size": 50, "learning_rate": 1e-3, "one_minus_momentum": 0.1,
                    "input_noise": 0.1}, distributions=SPACE, state=optuna.trial.TrialState.FAIL,
            user_attrs={"status": "failed", "failure_reason": "boom", "config_id": i}))
    optuna.load_study(study_name="synthetic/jsb-synth/V", storage=store).ask()  # running
    new("t", "V", source="real").ask()

    a = analyze(str(tmp_path / "live.log"), n_trees=8)
    v = a.variants.set_index(["task", "variant"])
    assert v.loc[("jsb-synth", "V"), "running"] == 1
    assert v.loc[("jsb-synth", "V"), "failure_rate"] == 0  # running is not failed
    assert v.loc[("jsb-synth", "NFG"), "failure_rate"] == 1
    assert math.isnan(v.loc[("t", "V"), "failure_rate"])
    f = a.findings.set_index("#")
    assert (f["verdict"] == NOT_TESTABLE).all(), f
    page = write_report(a, tmp_path / "out").read_text()
    assert "too few trials" in page and "no trials with an outcome" in page
    # 20 planned (5 per study), 13 ended (V's and NP's 5 each, NFG's 3 failed): the report
    # leads with the warning that its verdicts are provisional, in every format
    warning = "The study is not complete (7 of its 20 planned trials still to run)"
    assert page.index(warning) < page.index('id="answer"')
    assert warning in (tmp_path / "out" / "report.md").read_text()
    assert summary(a)["finished"] == 13 and summary(a)["planned"] == 20
    assert summary_text(a).startswith(f"13 of 20 planned trials finished\n{warning}")


def test_fixed_hyperparameters_are_left_out(tmp_path: Path) -> None:
    """A study that fixes momentum and input noise (single-value distributions): the fANOVA
    covers the searched two, the findings about the fixed ones are not testable."""
    import numpy as np
    import optuna

    from lstm_odyssey.analysis.report import analyze
    from lstm_odyssey.records.study import SCHEMA_VERSION, STUDY_ATTR
    from lstm_odyssey.sweep import schema

    dists = {
        schema.HIDDEN_SIZE: optuna.distributions.IntDistribution(20, 200, log=True),
        schema.LEARNING_RATE: optuna.distributions.FloatDistribution(1e-6, 1e-2, log=True),
        schema.ONE_MINUS_MOMENTUM: optuna.distributions.FloatDistribution(0.1, 0.1, log=True),
        schema.INPUT_NOISE: optuna.distributions.FloatDistribution(0.0, 0.0),
    }
    rng = np.random.default_rng(0)
    study = optuna.create_study(study_name="s/jsb/V", storage=f"sqlite:///{tmp_path / 'f.db'}")
    study.set_user_attr(STUDY_ATTR, {
        "study": "s", "task": "jsb", "variant": "V", "source": "real", "data": "-",
        "metric": "nll_per_step", "protocol": {}, "schema": SCHEMA_VERSION})
    trials = []
    for i in range(40):
        h, lr = int(rng.integers(20, 201)), float(10 ** rng.uniform(-6, -2))
        y = 8.5 + (np.log10(lr) + 3) ** 2 + 20 / h
        trials.append(optuna.trial.create_trial(
            params={schema.HIDDEN_SIZE: h, schema.LEARNING_RATE: lr,
                    schema.ONE_MINUS_MOMENTUM: 0.1, schema.INPUT_NOISE: 0.0},
            distributions=dists, value=y, user_attrs={
                "status": "complete", "config_id": i, "valid_metric": y, "test_metric": y,
                "wall_time_s": float(h), "n_parameters": 100 * h, "baseline_metric": 20.0}))
    study.add_trials(trials)
    a = analyze(f"sqlite:///{tmp_path / 'f.db'}", n_trees=8)
    assert set(a.importance["effect"]) == {schema.HIDDEN_SIZE, schema.LEARNING_RATE,
                                           f"{schema.HIDDEN_SIZE} × {schema.LEARNING_RATE}",
                                           "higher order (rest)"}
    f = a.findings.set_index("#")
    assert f.loc[8, "verdict"] == NOT_TESTABLE and "not searched" in f.loc[8, "reason"]
    assert f.loc[9, "verdict"] == NOT_TESTABLE
    # the learning rate dominates by construction, but the finding names three datasets
    assert f.loc[6, "verdict"] == NOT_TESTABLE and "no task for TIMIT, IAM" in f.loc[6, "reason"]
    assert "jsb (JSB): learning rate" in f.loc[6, "evidence"]
    assert write_report(a, tmp_path / "out").exists()


def test_cli_report_and_analyze(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rep"
    small = str(tmp_path / "small.log")
    write_synthetic_study(small, tasks=("jsb-synth",), variants=("V", "NP"), n_trials=8)
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


def test_more_than_ten_variants_put_the_variants_in_rows(tmp_path: Path) -> None:
    """The task × variant matrix never gets wider than the page: with 11 variants the
    variants are its rows and the tasks its columns."""
    from lstm_odyssey.analysis.render import MAX_MATRIX_COLUMNS, _matrix_html
    from lstm_odyssey.analysis.sections import welch_matrix
    from lstm_odyssey.variants import PRESET_NAMES

    storage = str(tmp_path / "many.log")
    variants = (*PRESET_NAMES, "cifg+np", "nig+nog")
    write_synthetic_study(storage, tasks=("jsb-synth", "timit-synth"), variants=variants,
                          n_trials=10)
    table = _matrix_html(welch_matrix(analyze(storage, n_trees=4)))
    assert len(variants) > MAX_MATRIX_COLUMNS
    head, body = table.split("</thead>")
    assert head.count("<th>") == 1 + 2 and "<th>variant</th>" in head
    assert body.count("<tr>") == len(variants) and "<th>nig+nog</th>" in body


def test_protocol_settings_read_as_words_with_units() -> None:
    from lstm_odyssey.analysis.views import _setting

    assert [_setting(k) for k in ("time_budget_s", "max_epochs", "patience")] == [
        "time budget (s)", "max epochs", "patience"]


def test_an_interrupted_report_leaves_the_previous_one_whole(analysis, tmp_path: Path,
                                                              monkeypatch) -> None:
    """The report is written beside its folder and swapped in: a write that fails half-way
    (here: after the CSVs and report.html, at report.md) leaves the old report untouched and
    no partial files in it."""
    from lstm_odyssey.analysis import report

    out = tmp_path / "report"
    write_report(analysis, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "report.html").write_text("the previous report")
    before[Path("report.html")] = b"the previous report"

    def broken(model) -> str:
        raise KeyboardInterrupt
    monkeypatch.setattr(report, "to_markdown", broken)
    with pytest.raises(KeyboardInterrupt):
        write_report(analysis, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary folder left


def test_tables_name_the_cell_family_only_when_a_study_mixes_families(tmp_path: Path) -> None:
    """A study of several families gets a 'cell family' column beside every variant name; a
    study of LSTM variants alone reads as before (its committed reports stay identical)."""
    from lstm_odyssey.analysis.model import Table
    from lstm_odyssey.analysis.sections import FAMILY_COLUMN, make_figures, report_model

    def tables(variants: tuple[str, ...], name: str) -> list:
        storage = str(tmp_path / f"{name}.log")
        write_synthetic_study(storage, tasks=("jsb-synth",), variants=variants, n_trials=10)
        a = analyze(storage, n_trees=4)
        report = report_model(a, make_figures(a, tmp_path / name))
        return [b.frame for s in report.all_sections for b in s.blocks
                if isinstance(b, Table) and "variant" in b.frame]

    mixed = tables(("V", "NP", "gru+lbr", "mingru"), "mixed")
    assert mixed and all(FAMILY_COLUMN in f for f in mixed)
    variants = next(f for f in mixed if set(f["variant"]) >= {"V", "gru+lbr", "mingru"})
    families = dict(zip(variants["variant"], variants[FAMILY_COLUMN]))
    assert families["V"] == families["NP"] == "lstm"
    assert families["gru+lbr"] == "gru" and families["mingru"] == "mingru"
    cols = list(variants.columns)
    assert cols.index(FAMILY_COLUMN) == cols.index("variant") + 1
    assert not any(FAMILY_COLUMN in f for f in tables(("V", "NP", "NFG"), "lstm"))
