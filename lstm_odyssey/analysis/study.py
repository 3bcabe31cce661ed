"""A study file's trials, as the study commands (``lstm-odyssey study …``) read them: the
validated study file, its storage (``--storage``, else the file's, which may sit on a base
journal) and the :class:`~.table.Results` of its searches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..records import StorageURL
from ..sweep.studyfile import StudySpec, load_study
from .table import Results, load_results


@dataclass(frozen=True)
class StudyTrials:
    """A study file with the trials of its searches."""

    spec: StudySpec
    storage: StorageURL
    results: Results


def open_study(study_file: str | Path, storage: str | None = None) -> StudyTrials:
    """Read the study file and the trials of its searches (replicate sets and shared searches
    included) from ``storage`` or the file's own; never creates a storage. A bad file or a
    missing storage is a :class:`~lstm_odyssey.errors.UserError`."""
    spec = load_study(study_file)
    url = spec.storage(storage)
    return StudyTrials(spec, url, load_results(url, searches=spec.searches()))


def search_label(task: str, replicate_set: str) -> str:
    """How progress names a search's task: ``task``, or ``task/set`` for a replicate set
    (as ``lstm-odyssey status`` does)."""
    return f"{task}/{replicate_set}" if replicate_set else task
