"""benchmarks/gpu_check.py on the CPU: its checks through Triton's interpreter on tiny shapes,
its timing with the CPU clock, its JSON and table, its time guard, and that it fails on a
broken kernel (cells left unwritten, or wrong values)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lstm_odyssey.kernels import benchmark as bench
from lstm_odyssey.kernels import triton_backend as tb
from lstm_odyssey.variants import PRESET_NAMES, CellSpec

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
ALL = {CellSpec.parse(v).name for v in (*PRESET_NAMES, "cifg+np", "nig+noaf+fgr")}
KINDS = {"gradcheck float64", "float64 vs reference", "float32 vs reference"}


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


def test_shell_entry_checks_every_variant_and_times_on_the_cpu(tmp_path):
    """The one-line entry, as a GPU session runs it, but on the CPU through the interpreter,
    where its timer is the CPU clock."""
    out = tmp_path / "check.json"
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHON": sys.executable}
    done = subprocess.run(
        ["sh", "benchmarks/gpu_check.sh", "--device", "cpu", "--shapes", "2,2,3,4",
         "--check-shape", "2,2,2,2", "--repeats", "2", "--fast-gradcheck", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert data["verdict"] == "passed"
    checks = data["checks"]
    assert {(c["variant"], c["kind"]) for c in checks} == {(v, k) for v in ALL for k in KINDS}
    assert all(c["status"] == "passed" for c in checks)
    compared = [c for c in checks if c["kind"] != "gradcheck float64"]
    assert all(c["unwritten"] == 0 and c["rel_err"] <= c["tol"] for c in compared)
    assert {tuple(c["shape"]) for c in compared} == {(2, 2, 2, 2), (2, 2, 3, 4)}
    timings = {(t["variant"], t["backend"]): t for t in data["timings"]}
    assert set(timings) == {("NP", "vendor"), ("V", "triton"), ("NP", "triton"),
                            ("FGR", "triton")}
    for t in timings.values():
        assert t["repeats"] == 2 and t["fwd_ms"] > 0 and t["fwd_bwd_ms"] > t["fwd_ms"] / 10
        assert t["note"] == "not capturable: CUDA graphs need a CUDA device"
        assert t["graph_fwd_ms"] is None
    assert timings[("NP", "vendor")]["vs_vendor"] == 1.0
    env = data["environment"]
    assert env["torch"] == torch.__version__ and env["triton"] and env["package"] == str(
        ROOT / "lstm_odyssey")
    # a GPU machine may have nothing but torch and triton: no train, sweep, analysis or cli
    allowed = ("lstm_odyssey.kernels", "lstm_odyssey.families", "lstm_odyssey.variants",
               "lstm_odyssey.errors")
    assert "lstm_odyssey.kernels.triton_backend" in env["modules"]
    assert [m for m in env["modules"] if m != "lstm_odyssey" and not m.startswith(allowed)] == []
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("| 2, 2, 3, 4 | FGR | triton |")  # the table comes last
    assert "checks: 44 passed, 0 failed, 0 skipped; verdict: passed" in done.stdout


_LAUNCH, _SEQUENCE = tb._launch_shape, tb.lstm_sequence


def _drop_last_program(cells):
    """Programs of 2 cells, one too few: at B·N = 2 no cell is ever written."""
    return ((cells + 1) // 2 - 1,), 2


def _scaled_output(*args):
    """Outputs 0.1 % off."""
    y, h_n, c_n = _SEQUENCE(*args)
    return y * 1.001, h_n, c_n


@pytest.mark.parametrize("broken", ["unwritten", "wrong values"])
def test_a_broken_backend_is_reported_as_failed(broken, monkeypatch, tmp_path, capsys):
    """Unwritten cells stay NaN (they were poisoned) and are counted; outputs 0.1 % off fail
    the tolerance while every gradient stays consistent (gradcheck passes)."""
    if broken == "unwritten":
        monkeypatch.setattr(tb, "_launch_shape", _drop_last_program)
    else:
        monkeypatch.setattr(tb, "lstm_sequence", _scaled_output)
    out = tmp_path / "check.json"
    code = gpu_check.main(["--device", "cpu", "--shapes", "", "--check-shape", "2,2,1,1",
                           "--variants", "V", "--timed", "", "--fast-gradcheck",
                           "--json", str(out)])
    assert code == 1
    data = json.loads(out.read_text())
    assert data["verdict"] == "failed"
    checks = {c["kind"]: c for c in data["checks"]}
    for kind in ("float64 vs reference", "float32 vs reference"):
        assert checks[kind]["status"] == "failed"
        if broken == "unwritten":
            assert checks[kind]["unwritten"] > 0
        else:
            assert checks[kind]["unwritten"] == 0
            assert 1e-4 < checks[kind]["rel_err"] < 1e-2
    gradcheck = "failed" if broken == "unwritten" else "passed"
    assert checks["gradcheck float64"]["status"] == gradcheck
    assert "verdict: failed" in capsys.readouterr().out


def test_poisoned_allocations_are_nan_and_restored():
    fill = torch.utils.deterministic.fill_uninitialized_memory
    with gpu_check.poisoned_allocations():
        assert torch.empty(3).isnan().all()
        assert torch.zeros(2).new_empty(4).isnan().all()
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.utils.deterministic.fill_uninitialized_memory == fill


def test_time_guard_skips_the_rest_and_says_so(tmp_path, capsys):
    out = tmp_path / "check.json"
    code = gpu_check.main(["--device", "cpu", "--shapes", "3,2,3,4", "--json", str(out),
                           "--budget", "1e-9"])
    assert code == 3
    data = json.loads(out.read_text())
    assert data["verdict"] == "skipped" and data["timings"] == []
    assert all(c["status"] == "skipped" and c["note"] == "time budget spent"
               for c in data["checks"])
    assert data["notes"] == ["timing at (3, 2, 3, 4) skipped: time budget of 1e-09 s spent"]
    assert "44 skipped" in capsys.readouterr().out


def test_timing_rounds_stop_when_asked():
    """The guard inside a shape: rounds end early and the medians use what was measured."""
    dev = torch.device("cpu")
    cands = bench.candidates((2, 1, 2, 2), ["V"], ["reference"], dev, torch.float32)
    rounds = []
    times = bench.time_rounds(cands, 5, dev, stop=lambda: rounds.append(1) or len(rounds) > 2)
    assert [len(fb) for fb, _ in times.values()] == [2, 1]  # vendor 2 rounds; reference ≤ 1


@pytest.mark.parametrize(("args", "message"), [
    (["--shapes", "3,2"], "is not T,B,M,N"),
    (["--check-shape", "3,1,2,2"], "needs T ≥ 2 and B ≥ 2"),
    (["--variants", "V,xyz"], "xyz"),
    (["--device", "cuda"], "finds no CUDA GPU"),
    ([], "set TRITON_INTERPRET=1"),
])
def test_bad_options_are_one_line(args, message, tmp_path, capsys, monkeypatch):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    if not args:
        monkeypatch.delenv("TRITON_INTERPRET")
    assert gpu_check.main(["--json", str(tmp_path / "j"), "--device", "cpu", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_crash_while_timing_fails_the_run_and_the_next_shape_runs(monkeypatch, tmp_path):
    candidates = bench.candidates

    def out_of_memory_at_the_first_shape(shape, *args):
        if shape == (2, 1, 1, 2):
            raise RuntimeError("CUDA out of memory. Tried to allocate 9 GiB\ndetails")
        return candidates(shape, *args)

    monkeypatch.setattr(gpu_check.bench, "candidates", out_of_memory_at_the_first_shape)
    out = tmp_path / "check.json"
    code = gpu_check.main(["--device", "cpu", "--shapes", "2,1,1,2;2,1,1,3", "--check-shape",
                           "2,2,1,1", "--variants", "V", "--timed", "V", "--repeats", "1",
                           "--fast-gradcheck", "--json", str(out)])
    assert code == 1
    data = json.loads(out.read_text())
    oom = "RuntimeError: CUDA out of memory. Tried to allocate 9 GiB"
    assert data["errors"] == [f"timing at (2, 1, 1, 2) failed: {oom}"]
    assert {tuple(t["shape"]) for t in data["timings"]} == {(2, 1, 1, 3)}
    assert all(c["status"] == "passed" for c in data["checks"])
