"""Analysis of sweeps: results table, statistics, fANOVA, figures and reports.

    from lstm_odyssey.analysis import analyze, build_report, load_results
    build_report("results/smoke/journal.log", "results/smoke/report")

Reads the records (:mod:`lstm_odyssey.records`) of an Optuna storage laid out as in
:mod:`lstm_odyssey.sweep.schema`; never imports torch.
The modules are imported on first use, so that reading one (e.g. the table) does not load the
plotting libraries.
"""

import importlib

# name -> the module of this package that defines it, imported on first access (PEP 562)
_LAZY = {
    "analyze": "report", "build_report": "report", "Fanova": "fanova",
    "compare_variants": "stats", "variant_summary": "stats",
    "Results": "table", "load_results": "table",
}

__all__ = ["Fanova", "Results", "analyze", "build_report", "compare_variants", "load_results",
           "variant_summary"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
