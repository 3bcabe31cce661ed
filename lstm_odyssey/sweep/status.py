"""What a sweep has done so far, per (task, variant)."""

from __future__ import annotations

import math

import optuna
from optuna.storages import BaseStorage

from . import recovery, schema
from .studyfile import StudySpec

COLUMNS = ("task", "variant", "planned", "complete", "running", "waiting", "failed", "diverged",
           "pruned", "lost", "best")


def study_status(spec: StudySpec, storage: BaseStorage) -> list[dict]:
    """One row per (task, variant): planned trials; trials by :func:`.schema.trial_status`
    (complete incl. time limit, running, waiting, failed, diverged, pruned, lost = worker
    stopped, re-queued or about to be: a running trial whose worker is gone by the rule of
    :func:`.recovery.stale_trials` counts as lost); and the best (lowest) validation metric so
    far (None before the first result)."""
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage,
                                                                     include_best_trial=False)}
    rows = []
    for task, variant, name in spec.study_names():
        row = dict.fromkeys(COLUMNS, 0)
        row.update(task=task.name, variant=variant, planned=task.trials, best=None)
        study = optuna.load_study(study_name=name, storage=storage) if name in existing else None
        trials = study.get_trials(deepcopy=False) if study else []
        stale = {t._trial_id for t in recovery.stale_trials(study, storage)} if study else set()
        for t in trials:
            status = schema.trial_status(t.state, t.user_attrs.get("status"))
            if t._trial_id in stale:
                status = schema.LOST  # its worker stopped; the next worker re-queues it
            key = "complete" if status == "time_limit" else status
            row[key] += 1
            if key == "complete" and t.value is not None and math.isfinite(t.value):
                row["best"] = t.value if row["best"] is None else min(row["best"], t.value)
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table."""
    header = ["task", "variant", "planned", "complete", "running", "waiting", "failed/div",
              "pruned", "lost", "best"]
    body = [[r["task"], r["variant"], r["planned"], r["complete"], r["running"], r["waiting"],
             f"{r['failed']}/{r['diverged']}", r["pruned"], r["lost"],
             "-" if r["best"] is None else f"{r['best']:.4g}"] for r in rows]
    cells = [header] + [[str(c) for c in line] for line in body]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths))) for line in cells)


def open_status(study_file: str, storage: str | None) -> tuple[StudySpec, str, list[dict]]:
    """(spec, masked storage URL, rows) of a study file; never creates a storage."""
    from .executors import resolve_url
    from .storage import StorageError, mask_url, open_storage, storage_exists
    from .studyfile import load_study

    spec = load_study(study_file)
    url = resolve_url(spec, storage)
    if not storage_exists(url):
        raise StorageError(f"no sweep storage at {mask_url(url)}; run "
                           f"`lstm-odyssey sweep {study_file}` first or pass --storage")
    return spec, mask_url(url), study_status(spec, open_storage(url))
