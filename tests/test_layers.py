"""The architecture of DESIGN.md holds: lower layers never import higher ones, and the analysis
never loads torch."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lstm_odyssey"
# Layer rank of each top-level part of the package (DESIGN.md "Data flow").
RANK = {"errors": 0, "variants": 1, "kernels": 2, "tasks": 2, "nn": 3, "train": 4, "sweep": 5,
        "analysis": 6, "cli": 7, "__main__": 7}


def _part(module: str) -> str:
    return module.split(".")[0]


def _imports(path: Path) -> set[str]:
    """Top-level parts of lstm_odyssey imported by a file (relative or absolute imports)."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    here = list(rel.parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = ".".join([*base, node.module] if node.module else base)
                if not target:  # "from .. import x" at the top: x is the part
                    found.update(a.name for a in node.names)
                else:
                    found.add(_part(target))
            elif node.module and node.module.startswith("lstm_odyssey."):
                found.add(_part(node.module.removeprefix("lstm_odyssey.")))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("lstm_odyssey."):
                    found.add(_part(a.name.removeprefix("lstm_odyssey.")))
    return found


def test_lower_layers_never_import_higher_ones():
    violations = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue  # the package root re-exports the public surface
        own = _part(".".join(rel.with_suffix("").parts))
        for other in _imports(path):
            if other in RANK and other != own and RANK[other] > RANK[own]:
                violations.append(f"{rel} imports {other}")
    assert not violations, violations


def test_the_analysis_does_not_load_torch():
    code = ("import sys, pkgutil, importlib, lstm_odyssey.analysis as a\n"
            "for m in pkgutil.iter_modules(a.__path__): importlib.import_module(f'{a.__name__}.{m.name}')\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
