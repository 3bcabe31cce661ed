"""The build-kernels and bench kernels commands."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lstm_odyssey.cli import cli


def test_build_kernels_reports_what_it_built():
    result = CliRunner().invoke(cli, ["build-kernels"])
    assert result.exit_code == 0, result.output
    assert "cpu kernels lstm_odyssey_cpu_" in result.output and "-O3" in result.output


def test_bench_kernels_json_has_every_candidate_and_ratios():
    result = CliRunner().invoke(
        cli, ["bench", "kernels", "--shape", "6,2,3,4", "--variant", "V", "--variant", "cifg",
              "--repeats", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {(r["variant"], r["backend"]): r for r in data["rows"]}
    assert set(rows) == {("NP", "vendor"), ("V", "cpu"), ("V", "reference"), ("CIFG", "cpu"),
                         ("CIFG", "reference")}
    assert rows[("NP", "vendor")]["vs_vendor"] == 1.0
    assert rows[("CIFG", "cpu")]["vs_reference"] > 0 and rows[("CIFG", "cpu")]["vs_vanilla"] > 0
    assert rows[("V", "cpu")]["saved_bytes"] <= rows[("V", "cpu")]["bound_bytes"]
    assert data["environment"]["threads"] == 1


def test_bench_kernels_table_and_bad_shape():
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "kernels", "--shape", "4,1,2,3", "--variant", "NP",
                                 "--repeats", "1", "--no-reference"])
    assert result.exit_code == 0, result.output
    assert "| 4, 1, 2, 3 | NP | cpu |" in result.output
    bad = runner.invoke(cli, ["bench", "kernels", "--shape", "4,1"], standalone_mode=False)
    assert "T,B,M,N" in str(bad.exception)
