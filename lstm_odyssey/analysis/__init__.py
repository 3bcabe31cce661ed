"""Analysis of sweeps: results table, statistics, fANOVA, figures and reports.

Reads an Optuna storage laid out as in :mod:`lstm_odyssey.sweep.schema`; never imports torch.
"""

from .fanova import Fanova
from .stats import compare_variants, variant_summary
from .table import Results, load_results

__all__ = ["Fanova", "Results", "compare_variants", "load_results", "variant_summary"]
