"""Planning: create one Optuna study per (task, variant) and enqueue its configurations once.

Every entry point (``sweep``, ``worker``) calls :func:`plan`; it holds the storage's exclusive
lock (:func:`.lock.exclusive`) while it looks at which ``config_id`` each study already has
and enqueues only the missing ones, so however many coordinators start at once, each planned
configuration is enqueued exactly once. Raising ``trials`` in the study file and running again
appends configurations; changing the seed, space, protocol or data of a planned study is refused.
A task shared from an earlier study (``from``) is not planned again: its searches must exist
with the same plan and trial count.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from ..records import StorageURL, StudyMeta, TrialRecord
from ..tasks import load_task
from . import recovery, schema
from .lock import exclusive
from .space import plan_configs
from .studyfile import PROTOCOL_KEYS, StudyFileError, StudySpec, TaskPlan


def effective_protocol(spec: StudySpec, task: TaskPlan) -> dict:
    """The full protocol of a task's trials (defaults filled in)."""
    cfg = spec.train_config(task, spec.variants[0], {name: spec.space[name].low
                                                      for name in schema.PARAMS}, 0, 0)
    return {k: getattr(cfg, k) for k in PROTOCOL_KEYS}


def plan_fingerprint(spec: StudySpec, task: TaskPlan) -> dict:
    """What the stored configurations of a task depend on; must not change once planned."""
    return {
        "seed": spec.seed, "pruner": spec.pruner,
        "space": {k: [d.low, d.high] for k, d in spec.space.items()},
        "protocol": effective_protocol(spec, task),
        "data": {"size": task.size, "path": task.path, "data_seed": task.data_seed},
    }


def changes(old: object, new: object, key: str = "") -> list[str]:
    """What differs between two plan fingerprints, as ``key: old → new`` (nested keys dotted;
    lists and tuples compare equal, as stored JSON has no tuples)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(set(old) | set(new), key=str)
                for c in changes(old.get(k), new.get(k), f"{key}.{k}" if key else str(k))]
    if isinstance(old, list | tuple) and isinstance(new, list | tuple) and list(old) == list(new):
        return []
    return [] if old == new else [f"{key or 'plan'}: {old!r} → {new!r}"]


def open_study(spec: StudySpec, storage: BaseStorage, name: str) -> optuna.Study:
    """Load (or create) the Optuna study ``name`` of a study file."""
    return optuna.create_study(study_name=name, storage=storage, direction="minimize",
                               load_if_exists=True,
                               sampler=optuna.samplers.RandomSampler(spec.seed))


def open_search(spec: StudySpec, storage: BaseStorage, task: TaskPlan,
                name: str) -> optuna.Study:
    """The Optuna study of one search of a planned study file: :func:`open_study`, except
    that a search shared from another study (``from``) is only loaded, never created."""
    if task.origin is None:
        return open_study(spec, storage, name)
    return optuna.load_study(study_name=name, storage=storage,
                             sampler=optuna.samplers.RandomSampler(spec.seed))


def plan(spec: StudySpec, storage: BaseStorage, url: StorageURL) -> int:
    """Create the studies and enqueue every missing planned configuration; returns how many
    trials this call enqueued (0 when the plan was already in place)."""
    added = 0
    with exclusive(storage, url):
        for task in spec.tasks:
            fingerprint = plan_fingerprint(spec, task)
            if task.origin is not None:  # planned by the origin: check it, re-queue orphans
                for variant in spec.variants:
                    name = spec.search_name(task, variant)
                    _check_shared(spec, storage, task, name, fingerprint)
                    study = open_search(spec, storage, task, name)
                    added += _requeue_orphans(spec, study, study.get_trials(deepcopy=False),
                                              task.trials)
                continue
            configs = plan_configs(spec.space, spec.seed, task.name, task.trials)
            loaded = None
            for variant in spec.variants:
                name = spec.search_name(task, variant)
                study = open_study(spec, storage, name)
                meta = StudyMeta.from_user_attrs(study.user_attrs)
                if meta is not None and meta.plan != fingerprint:
                    changed = "; ".join(changes(meta.plan, fingerprint))
                    raise StudyFileError(
                        f"{spec.source}: study {name!r} was planned with a different seed, "
                        f"space, protocol, pruner or data ({changed}); restore them or give the "
                        "study a new 'name'")
                if meta is None or meta.trials != task.trials:
                    loaded = loaded or load_task(task.name, size=task.size, path=task.path,
                                                 seed=task.data_seed)
                    meta = StudyMeta(
                        study=spec.name, task=task.name, variant=variant, source=loaded.source,
                        data=loaded.description, metric=loaded.metric,
                        protocol=fingerprint["protocol"], trials=task.trials, seed=spec.seed,
                        pruner=spec.pruner, plan=fingerprint)
                    for key, value in meta.to_user_attrs().items():
                        study.set_user_attr(key, value)
                trials = study.get_trials(deepcopy=False)
                have = {TrialRecord.from_user_attrs(t.user_attrs).config_id for t in trials}
                for c in configs:
                    if c.config_id not in have:
                        label = TrialRecord(config_id=c.config_id, seed=c.seed)
                        study.enqueue_trial(c.params, user_attrs=label.to_user_attrs(partial=True))
                        added += 1
                added += _requeue_orphans(spec, study, trials, task.trials)
    return added


def _check_shared(spec: StudySpec, storage: BaseStorage, task: TaskPlan, name: str,
                  fingerprint: dict) -> None:
    """A shared task's search ``name`` exists, planned with ``fingerprint`` and the task's
    trial count; else a one-line :class:`StudyFileError` saying what differs."""
    where = f"{spec.source}: task {task.name!r} is shared from study {task.origin!r}"
    try:
        meta = StudyMeta.from_user_attrs(
            storage.get_study_user_attrs(storage.get_study_id_from_name(name)))
    except KeyError:
        meta = None
    if meta is None:  # absent, or an empty study that a reader opened
        raise StudyFileError(f"{where}, but the storage has no search {name!r}; plan it there "
                             "first, or drop 'from'")
    if meta.plan != fingerprint:
        changed = "; ".join(changes(meta.plan, fingerprint))
        raise StudyFileError(f"{where}, which planned it differently ({changed}); give this "
                             "file the same seed, space, pruner, protocol and data, or drop "
                             "'from'")
    if meta.trials != task.trials:
        raise StudyFileError(f"{where}, which planned {meta.trials} trials per variant, not "
                             f"{task.trials}; change 'trials' there (raising is allowed) and "
                             "here alike")


def requeue_orphans(spec: StudySpec, storage: BaseStorage, url: StorageURL,
                    searches: list[tuple[TaskPlan, optuna.Study]]) -> int:
    """Re-queue the orphans (:func:`.recovery.orphans`) of the (task, study) ``searches``,
    holding the planning lock so that each is re-queued once; returns how many."""
    if not any(recovery.orphans(s.get_trials(deepcopy=False), task.trials, orphan_age(spec))
               for task, s in searches):
        return 0  # the common case, without the lock
    added = 0
    with exclusive(storage, url):
        for task, study in searches:
            added += _requeue_orphans(spec, study, study.get_trials(deepcopy=False), task.trials)
    return added


def orphan_age(spec: StudySpec) -> float:
    """How long a lost trial waits before it counts as an orphan: the storage's stated
    heartbeat interval (``[storage] heartbeat_interval``)."""
    return float(spec.heartbeat_interval)


def _requeue_orphans(spec: StudySpec, study: optuna.Study, trials: list[FrozenTrial],
                     n: int) -> int:
    found = recovery.orphans(trials, n, orphan_age(spec))
    for t in found:
        recovery.requeue(study, t)
    return len(found)
