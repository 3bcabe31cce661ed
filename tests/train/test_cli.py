"""The ``lstm-odyssey train`` command."""

import json
import subprocess
import sys

import pytest

CLI = [sys.executable, "-c", "from lstm_odyssey.cli import main; main()", "train"]


def test_bad_option_is_one_line_error():
    out = subprocess.run(CLI + ["--task", "jsb", "--hidden", "10", "--lr", "1e-2",
                                "--momentum", "1.5"], capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: momentum=1.5 is invalid; use a value in [0, 1)"]


@pytest.mark.slow
def test_json_record_on_jsb():
    out = subprocess.run(CLI + ["--task", "jsb", "--hidden", "10", "--lr", "1e-2",
                                "--momentum", "0.9", "--max-epochs", "1", "--batch-size", "8",
                                "--variant", "nog", "--json"],
                         capture_output=True, text=True, check=True)
    record = json.loads(out.stdout)
    assert record["task"] == "jsb" and record["variant"] == "NOG"
    assert record["status"] == "complete" and record["epochs"] == 1
    assert record["config"]["batch_size"] == 8 and record["config"]["threads"] == 1
