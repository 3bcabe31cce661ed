"""What ``lstm-odyssey report`` reads and where it writes (:func:`resolve_target`), and the
analysis it applies (:func:`registration`: the study files' ``[analysis]`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..records import StorageURL, journal_in
from .decisive import Registration
from .preregistration import DEFAULT_MARGINS, parse_analysis


class ReportTargetError(UserError, ValueError):
    """A report target that names neither a study file nor a results directory, or study
    files that do not share a storage."""


@dataclass(frozen=True)
class ReportTarget:
    """What ``lstm-odyssey report`` reads and where it writes: the storage, the studies to
    keep — those stored under the study file name ``study`` and the Optuna studies named in
    ``searches`` (study files' searches, shared tasks included; both None: all) — the output
    directory and the analysis applied."""

    storage: str | StorageURL
    study: str | None
    searches: frozenset[str] | None
    out: Path
    registration: Registration = field(default_factory=Registration)


def _journal(path: Path | None) -> Path | None:
    """A journal file's path without the ``.xz`` it may be shipped as."""
    return None if path is None else Path(str(path.resolve()).removesuffix(".xz"))


def _covers(a: StorageURL, b: StorageURL) -> bool:
    """Whether storage ``a`` holds everything of ``b``: the same storage, or ``b``'s journal
    is ``a``'s base journal."""
    if a.kind != b.kind or a.path is None or b.path is None:
        return a.text == b.text
    ja, jb = _journal(a.path), _journal(b.path)
    return ja == jb or (a.base is not None and _journal(a.base) == jb and b.base is None)


def registration(specs: Sequence) -> Registration:
    """The analysis of study files ``specs``: the ``[analysis]`` table of the first that has
    one (checked against its tasks and variants: a bad table is a one-line error), else the
    documented defaults."""
    tasks = list(dict.fromkeys(t.name for s in specs for t in s.tasks))
    variants = list(dict.fromkeys(v for s in specs for v in s.variants))
    for s in specs:
        if s.analysis:
            return Registration(parse_analysis(s.analysis, s.source, tasks, variants), True,
                                s.source)
    # the defaults: the tasks with a default margin are compared, the others reported
    return Registration(parse_analysis({}, "defaults", [t for t in tasks
                                                        if t in DEFAULT_MARGINS]), False, "")


def resolve_target(target: str | Sequence[str] | None, storage: str | None,
                   out_dir: str | None) -> ReportTarget:
    """The :class:`ReportTarget` of ``lstm-odyssey report``.

    ``target`` is one or more study files (their storage and the union of their searches;
    they must share one storage — the same, or one on the other's as its base journal, as an
    extension of a shipped study; output ``results/<name>/report`` of the study whose
    storage holds the others'), a results directory holding the sweep's journal file (output
    ``<dir>/report``) or None (then ``storage`` and ``out_dir`` are required). An explicit
    ``storage``/``out_dir`` wins.
    """
    targets = [target] if isinstance(target, str) else list(target or [])
    study = searches = None
    default_out = None
    reg = Registration()
    if len(targets) == 1 and Path(targets[0]).is_dir():
        path = Path(targets[0])
        storage = storage or str(journal_in(path))
        default_out = path / "report"
    elif targets:
        from ..sweep.studyfile import load_study

        specs = [load_study(t) for t in targets]
        urls = [s.storage(storage) for s in specs]
        holder = next((i for i, u in enumerate(urls) if all(_covers(u, v) for v in urls)),
                      None)
        if holder is None:
            raise ReportTargetError(
                f"study files {', '.join(targets)} do not share a storage; give them one "
                "--storage, or report each on its own")
        storage = urls[holder]  # a StorageURL: it may carry a base journal
        searches = frozenset().union(*(s.searches() for s in specs))
        study = specs[holder].name if len(specs) == 1 else None
        default_out = Path("results") / specs[holder].name / "report"
        reg = registration(specs)
    if storage is None:
        raise ReportTargetError("no storage given; pass --storage URL, a study file or a "
                                "results directory")
    out = Path(out_dir) if out_dir else default_out
    if out is None:
        raise ReportTargetError("no output directory given; pass -o DIR")
    return ReportTarget(storage, study, searches, out, reg)
