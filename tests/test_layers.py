"""The architecture holds: every import between parts of the package follows an arrow of the
README's "How it is built" diagram (the one place the arrows are kept), and the commands that
read a sweep never load torch or the model code."""

import ast
import importlib
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lstm_odyssey"
ANYONE = {"errors", ""}  # every part may import the errors and the package root ("")


def diagram_arrows(readme: str) -> set[tuple[str, str]]:
    """(lower, higher) pairs drawn in the indented block under "## How it is built":
    ``a ─▶ b ─▶ c`` draws a→b and b→c, ``a ─▶ b, c`` draws a→b and a→c."""
    section = readme.split("## How it is built", 1)[1]
    block = re.match(r"\s*\n((?: {4}.*\n)+)", section)
    assert block, "no indented diagram under '## How it is built'"
    arrows = set()
    for line in block.group(1).splitlines():
        stages = [[p.strip() for p in s.split(",")] for s in line.split("─▶")]
        for lower, higher in itertools.pairwise(stages):
            arrows.update((a, b) for a in lower for b in higher)
    return arrows


ARROWS = diagram_arrows((ROOT / "README.md").read_text())


def _part(module: str) -> str:
    return module.split(".")[0]


def _imports(path: Path) -> set[str]:
    """Parts of lstm_odyssey a file imports anywhere (module or function level, relative or
    absolute); "" is the package root."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    here = list(rel.parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and (node.module + ".").startswith("lstm_odyssey."):
                target = node.module.removeprefix("lstm_odyssey").removeprefix(".")
            else:
                continue
            if target:
                found.add(_part(target))
            else:  # "from .. import x": x is a part, or a name of the package root
                found.update(a.name if (PACKAGE / a.name).exists()
                             or (PACKAGE / f"{a.name}.py").exists() else "" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(_part(a.name.removeprefix("lstm_odyssey.")) for a in node.names
                         if a.name.startswith("lstm_odyssey."))
    return found


def _part_imports() -> dict[tuple[str, str], list[str]]:
    """(imported part, importing part) -> the files with that import; the package root's
    ``__init__`` (the public surface, imported lazily) is left out."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel == Path("__init__.py"):
            continue
        own = _part(".".join(rel.with_suffix("").parts))
        for other in _imports(path) - {own}:
            found.setdefault((other, own), []).append(str(rel))
    return found


def test_every_import_follows_an_arrow_of_the_readme_diagram():
    wrong = {pair: files for pair, files in _part_imports().items()
             if pair[0] not in ANYONE and pair not in ARROWS}
    assert not wrong, [f"{f} imports {a}: no arrow {a} ─▶ {b}" for (a, b), fs in wrong.items()
                       for f in fs]


def test_the_diagram_draws_every_part_and_only_arrows_that_are_imports():
    parts = {_part(".".join(p.relative_to(PACKAGE).with_suffix("").parts))
             for p in PACKAGE.rglob("*.py")} - {"__init__", *ANYONE}
    drawn = {p for arrow in ARROWS for p in arrow}
    assert drawn == parts
    assert ARROWS <= set(_part_imports()), ARROWS - set(_part_imports())


def test_the_diagram_reader_reads_chains_and_lists():
    text = "## How it is built\n\n    a ─▶ b ─▶ c\n    a ─▶ c, d\n\nprose ─▶ no\n"
    assert diagram_arrows(text) == {("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")}


def test_the_analysis_does_not_load_torch():
    code = ("import sys, pkgutil, importlib, lstm_odyssey.analysis as a\n"
            "for m in pkgutil.iter_modules(a.__path__):\n"
            "    importlib.import_module(f'{a.__name__}.{m.name}')\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


MODEL_CODE = ("torch", "lstm_odyssey.nn", "lstm_odyssey.kernels")


@pytest.fixture(scope="module")
def sweep_files(tmp_path_factory) -> Path:
    """A fabricated sweep's journal and a study file of the same name that points at it."""
    tmp = tmp_path_factory.mktemp("layers")
    _cli(tmp, "synthetic-study", "--storage", str(tmp / "journal.log"), "--trials", "6")
    (tmp / "study.toml").write_text(
        f'name = "synthetic"\ntrials = 2\nvariants = ["V"]\n[storage]\n'
        f'url = "{tmp / "journal.log"}"\n[tasks.jsb]\nsize = 8\n')
    return tmp


def _cli(cwd: Path, *args: str) -> set[str]:
    """Run ``python -X importtime -m lstm_odyssey ARGS``; the modules it imported."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "lstm_odyssey", *args],
                         cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines()
            if line.startswith("import time:")}


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ("status", "study.toml"),
    ("analyze", "--storage", "journal.log", "--trees", "5"),
    ("report", "study.toml", "--trees", "5", "-o", "report"),
], ids=["status", "analyze", "report"])
def test_reading_a_sweep_loads_no_model_code(sweep_files, args):
    loaded = _cli(sweep_files, *args)
    assert "lstm_odyssey.cli" in loaded  # the import list was read
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in MODEL_CODE))
    assert not heavy, heavy


@pytest.mark.parametrize("package", ["lstm_odyssey", "lstm_odyssey.analysis", "lstm_odyssey.nn",
                                     "lstm_odyssey.tasks", "lstm_odyssey.train"])
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, missing


def test_the_analysis_exports_the_whole_analysis_and_the_report():
    from lstm_odyssey import analysis
    from lstm_odyssey.analysis import report

    assert analysis.analyze is report.analyze and analysis.build_report is report.build_report
