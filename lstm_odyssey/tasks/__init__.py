"""Datasets: the study's three tasks (real corpora and free defaults) and the user's own data
in the dataset format (:mod:`.userdata`).

The registry and the task modules are imported on first use (PEP 562), so that the analysis
can read the task kinds (:mod:`.kinds`) without loading the corpora's libraries.
"""

import importlib

from .base import METRICS, Split, Task
from .common import CorpusError, TaskNameError
from .definition import Prepared
from .kinds import Source, StandsFor, TaskKind

# name -> the module of this package that defines it, imported on first access
_LAZY = {"TASK_NAMES": "registry", "free_tasks": "registry", "load_task": "registry",
         "prepare": "registry", "task_info": "registry", "write_dataset": "userdata",
         "read_dataset": "userdata", "DatasetError": "userdata"}

__all__ = ["METRICS", "TASK_NAMES", "CorpusError", "DatasetError", "Prepared", "Source", "Split",
           "StandsFor", "Task", "TaskKind", "TaskNameError", "free_tasks", "load_task",
           "prepare", "read_dataset", "task_info", "write_dataset"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
