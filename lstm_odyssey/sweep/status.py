"""What a sweep has done so far, per (task, variant)."""

from __future__ import annotations

import math

import optuna
from optuna.storages import BaseStorage

from ..records import Status
from . import recovery, schema
from .plan import search_plans
from .studyfile import StudySpec, load_study

# the statuses a row counts (a time limit counts as complete), in column order
COUNTED = (Status.COMPLETE, Status.RUNNING, Status.WAITING, Status.FAILED, Status.DIVERGED,
           Status.PRUNED, Status.LOST)
COLUMNS = ("task", "variant", "planned", *(s.value for s in COUNTED), "best")


def study_status(spec: StudySpec, storage: BaseStorage) -> list[dict]:
    """One row per (task, variant) and per (task/replicate set, variant): planned trials;
    trials by :func:`.schema.trial_status`
    (complete incl. time limit, running, waiting, failed, diverged, pruned, lost = worker
    stopped, re-queued or about to be: a running trial whose worker is gone by the rule of
    :func:`.recovery.stale_trials` counts as lost), failures superseded by ``sweep
    --retry-failed`` left out (:func:`.recovery.counted`); and the best (lowest) validation
    metric so far (None before the first result)."""
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage,
                                                                     include_best_trial=False)}
    rows = []
    for p in search_plans(spec, storage):
        name = p.name
        row = dict.fromkeys(COLUMNS, 0)
        row.update(task=p.label, variant=p.variant, planned=len(p.planned), best=None)
        study = optuna.load_study(study_name=name, storage=storage) if name in existing else None
        trials = recovery.counted(study.get_trials(deepcopy=False), p.planned) if study else []
        stale = {t._trial_id for t in recovery.stale_trials(study, storage)} if study else set()
        for t in trials:
            status = schema.status_of(t)
            if t._trial_id in stale:
                status = Status.LOST  # its worker stopped; the next worker re-queues it
            if status == Status.TIME_LIMIT:
                status = Status.COMPLETE
            row[status.value] += 1
            if status == Status.COMPLETE and t.value is not None and math.isfinite(t.value):
                row["best"] = t.value if row["best"] is None else min(row["best"], t.value)
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table (failed and diverged share a column)."""
    shown = [c.value for c in COUNTED if c != Status.DIVERGED]

    def count(r: dict, c: str) -> str:
        return f"{r[c]}/{r[Status.DIVERGED.value]}" if c == Status.FAILED else str(r[c])

    header = ["task", "variant", "planned",
              *("failed/div" if c == Status.FAILED else c for c in shown), "best"]
    body = [[r["task"], r["variant"], str(r["planned"]), *(count(r, c) for c in shown),
             "-" if r["best"] is None else f"{r['best']:.4g}"] for r in rows]
    cells = [header, *body]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths))) for line in cells)


def open_status(study_file: str, storage: str | None) -> tuple[StudySpec, str, list[dict]]:
    """(spec, masked storage URL, rows) of a study file; never creates a storage."""
    spec = load_study(study_file)
    url = spec.storage(storage).resolved()
    return spec, url.masked, study_status(spec, url.open(create=False))
