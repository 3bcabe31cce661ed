"""The documentation holds together: the site builds in strict mode (a broken link, anchor or API
reference fails it), no product text names a repository file that does not exist, product text
speaks of the product (no ticket numbers, work rounds or session logs), the README's example
runs and the variant table of the docs matches the package."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict"]  # not --quiet: it hides warnings


def _files(*patterns: str) -> list[Path]:
    return sorted({p for pat in patterns for p in ROOT.glob(pat) if p.is_file()})


PACKAGE = _files("lstm_odyssey/**/*.py", "lstm_odyssey/**/*.cpp", "lstm_odyssey/**/*.h")
DOCS = _files("docs/**/*.md", "README.md", "benchmarks/README.md")
RESULTS_TEXT = _files("results/*.md", "results/*/*.md")       # READMEs, calibration notes
SHIPPED_REPORTS = _files("results/*/report/*.md", "results/*/report/*.html")
TESTS = [p for p in _files("tests/**/*.py") if p.name != Path(__file__).name]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([*MKDOCS, "--config-file", str(config), "--site-dir", str(site)],
                          cwd=config.parent, capture_output=True, text=True, timeout=300,
                          env=env, check=False)


# -- the site ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    r = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stdout + r.stderr
    for page in ("paper", "cell", "api/cell", "api/analysis"):
        assert (tmp_path / "site" / page / "index.html").exists(), page
    api = (tmp_path / "site" / "api" / "cell" / "index.html").read_text()
    assert "from_torch_lstm" in api and "count_parameters" in api  # rendered from docstrings


@pytest.mark.slow
@pytest.mark.parametrize(("broken", "named"), [
    ("[x](paper.md#no-such-section)", "no-such-section"),
    ("[x](no-such-page.md)", "no-such-page.md"),
    ("::: lstm_odyssey.no_such_module", "no_such_module"),
])
def test_a_broken_link_or_reference_fails_the_build(tmp_path: Path, broken: str,
                                                    named: str) -> None:
    """Strictness is real: the same site with one broken link, anchor or API reference fails."""
    site = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", site / "docs")
    config = (ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]")
    (site / "mkdocs.yml").write_text(config)
    with (site / "docs" / "getting-started.md").open("a") as f:
        f.write(f"\n{broken}\n")
    r = _build(site / "mkdocs.yml", tmp_path / "out")
    assert r.returncode != 0, "a broken link or reference did not fail the strict build"
    assert named in r.stdout + r.stderr


# -- file names in product text -------------------------------------------------------------------

# a path-like token ending in a repository file's extension; not part of a URL or a longer path
PATH_TOKEN = re.compile(r"(?<![\w./:-])((?:[\w.-]+/)*[\w-]+\.(?:md|py|toml|cpp|h|cfg|sh|yml|txt))"
                        r"(?![\w/-])")
# Names that look like files but are not the repository's: files of a user's corpus, and
# placeholders in usage text.
NOT_REPOSITORY_FILES = {
    "trainset.txt": "IAM-OnDB's task-1 split files, in the user's corpus",
    "testset_v.txt": "IAM-OnDB", "testset_t.txt": "IAM-OnDB", "testset_f.txt": "IAM-OnDB",
    "STUDY.toml": "a placeholder for the user's study file",
    "studies/x.toml": "a placeholder for the user's study file",
    "dataset.toml": "a file of the user's dataset folder (docs/own-data.md)",
    "DIR/dataset.toml": "the same, in usage text",
    "sensors.toml": "the user's study file of the example in docs/own-data.md",
    "music21/corpus/license.txt": "the corpus terms inside the installed music21 package",
}
# Named but not a file of the repository, on purpose (none at present).
KNOWN_MISSING: set[tuple[str, str]] = set()


SKIP_DIRS = {".git", ".venv", "site", "build", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _repository_files() -> set[str]:
    """Every file of the checkout, as paths from the root (without the virtualenv, caches and
    the built site)."""
    found = set()
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found.update((Path(folder) / n).relative_to(ROOT).as_posix() for n in names)
    return found


def _exists(token: str, where: Path, files: set[str]) -> bool:
    """``token`` names a file of the repository: as a path from the root or from the naming
    file's folder, or as the tail of one (``csrc/lstm_cpu.cpp``, ``analysis/cap.py``)."""
    if (ROOT / token).exists() or (where.parent / token).exists():
        return True
    return any(f == token or f.endswith("/" + token) for f in files)


def _text(path: Path) -> str:
    """The file's text without C++ ``#include`` lines (they name the compiler's headers)."""
    return "\n".join(line for line in path.read_text(errors="replace").splitlines()
                     if not line.startswith("#include"))


def _missing(paths: list[Path]) -> list[tuple[str, str]]:
    files = _repository_files()
    return sorted({(_rel(p), t) for p in paths for t in PATH_TOKEN.findall(_text(p))
                   if t not in NOT_REPOSITORY_FILES and not _exists(t, p, files)})


def test_product_text_names_only_files_that_exist() -> None:
    missing = [m for m in _missing(PACKAGE + DOCS + RESULTS_TEXT + SHIPPED_REPORTS)
               if m not in KNOWN_MISSING]
    assert not missing, [f"{where} names {token}, which is not in the repository"
                         for where, token in missing]


def test_known_exceptions_are_still_needed() -> None:
    """Each known exception is one that still occurs: once the shipped report is regenerated,
    its entry must go."""
    found = set(_missing(SHIPPED_REPORTS))
    stale = KNOWN_MISSING - found
    assert not stale, f"remove {sorted(stale)} from KNOWN_MISSING: the file no longer names it"


def test_readme_links_resolve() -> None:
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert local, "the README links into the docs"
    assert not [t for t in local if not (ROOT / t).exists()]


# -- product text speaks of the product ------------------------------------------------------

_WORK_LOG_PATTERNS = (
    r"\bissues?\s+#?\d+",                       # "issue 15", "Issue 17 item 6"
    r"(?:^|[\s(\[])#\d+\b",                     # "#15", "(TF #34171)"; not CSS colours
    r"\btickets?\s+#?\d+",
    r"\b(?:this|previous|last|next|that)\s+round\b",  # "this round", the work's rounds
    r"\bsession\s+log\b",
    r"\b\d{1,2}:\d{2}\s+UTC\b",                 # a timestamped log line
)
WORK_LOG = re.compile("|".join(_WORK_LOG_PATTERNS), re.IGNORECASE)


def _docstrings_and_comments(path: Path) -> str:
    """A test file's docstrings and comments (its code may hold anything, e.g. ``#1`` in data)."""
    source = path.read_text()
    parts = [ast.get_docstring(n) or "" for n in ast.walk(ast.parse(source))
             if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]
    parts += [line.split("#", 1)[1] for line in source.splitlines()
              if line.lstrip().startswith("#")]
    return "\n".join(parts)


def _offences(name: str, text: str) -> list[str]:
    return [f"{name}: {m.group(0).strip()!r}" for m in WORK_LOG.finditer(text)]


def test_product_text_has_no_ticket_numbers_rounds_or_session_logs() -> None:
    offences = [o for p in PACKAGE + DOCS + RESULTS_TEXT for o in _offences(_rel(p), p.read_text())]
    offences += [o for p in TESTS for o in _offences(_rel(p), _docstrings_and_comments(p))]
    assert not offences, offences


def test_the_work_log_pattern_catches_what_it_is_for() -> None:
    caught = ["the two comparisons issue 15 asks for", "Issue 17 item 6: one check",
              "(TF #34171 added a term twice)", "The change of this round alone",
              "## Session log", "- 2026-12-03 08:24 UTC: planned"]
    passed = ["color:#222}", "# 1 − momentum", "rounds in which each candidate runs once",
              "one rounding apart", "round 0 is the warm-up"]
    assert all(WORK_LOG.search(t) for t in caught)
    assert not [t for t in passed if WORK_LOG.search(t)]


# -- the docs match the package ------------------------------------------------------------------

def test_the_variant_table_matches_count_parameters() -> None:
    from lstm_odyssey.variants import PRESETS, count_parameters

    rows = re.findall(r"^\| `(\w+)`(?: / `\w+`)? \|[^|]*\| (\d+) \|$",
                      (ROOT / "docs" / "cell.md").read_text(), re.MULTILINE)
    assert [name for name, _ in rows] == list(PRESETS)
    assert {name: int(n) for name, n in rows} == {v: count_parameters(v, 39, 100)
                                                  for v in PRESETS}


@pytest.mark.slow
def test_the_readme_example_runs() -> None:
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert block and len(block.group(1).splitlines()) <= 12
    code = block.group(1) + "\nprint(tuple(output.shape), count_parameters('FGR', 39, 100))\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "(300, 8, 200) 146300"
