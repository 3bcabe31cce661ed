"""Datasets for the study's three tasks: the real corpora and free synthetic defaults."""

from .base import LOSSES, METRICS, Split, Task

__all__ = ["LOSSES", "METRICS", "Split", "Task"]
