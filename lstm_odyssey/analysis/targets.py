"""What ``lstm-odyssey report`` reads and where it writes (:func:`resolve_target`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..records import StorageURL, journal_in


class ReportTargetError(UserError, ValueError):
    """A report target that names neither a study file nor a results directory."""


@dataclass(frozen=True)
class ReportTarget:
    """What ``lstm-odyssey report`` reads and where it writes: the storage, the studies to
    keep — those stored under the study file name ``study`` and the Optuna studies named in
    ``searches`` (a study file's searches, shared tasks included; both None: all) — and the
    output directory."""

    storage: str | StorageURL
    study: str | None
    searches: frozenset[str] | None
    out: Path


def resolve_target(target: str | None, storage: str | None,
                   out_dir: str | None) -> ReportTarget:
    """The :class:`ReportTarget` of ``lstm-odyssey report``.

    ``target`` is a study file (its storage and searches; output ``results/<name>/report``), a
    results directory holding the sweep's journal file (output ``<dir>/report``) or None
    (then ``storage`` and ``out_dir`` are required). An explicit ``storage``/``out_dir`` wins.
    """
    study = searches = None
    default_out = None
    if target is not None:
        path = Path(target)
        if path.is_dir():
            storage = storage or str(journal_in(path))
            default_out = path / "report"
        else:
            from ..sweep.studyfile import load_study

            spec = load_study(path)
            storage = spec.storage(storage)  # a StorageURL: it may carry a base journal
            study, searches = spec.name, spec.searches()
            default_out = Path("results") / spec.name / "report"
    if storage is None:
        raise ReportTargetError("no storage given; pass --storage URL, a study file or a "
                                "results directory")
    out = Path(out_dir) if out_dir else default_out
    if out is None:
        raise ReportTargetError("no output directory given; pass -o DIR")
    return ReportTarget(storage, study, searches, out)
