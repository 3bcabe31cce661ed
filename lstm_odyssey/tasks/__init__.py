"""Datasets for the study's three tasks: the real corpora and free synthetic defaults."""

from .base import METRICS, Split, Task
from .common import CorpusError, TaskNameError
from .definition import Prepared
from .registry import TASK_NAMES, free_tasks, load_task, prepare, task_info

__all__ = ["METRICS", "TASK_NAMES", "CorpusError", "Prepared", "Split", "Task", "TaskNameError",
           "free_tasks", "load_task", "prepare", "task_info"]
