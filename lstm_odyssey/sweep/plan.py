"""Planning: create one Optuna study per (task, variant) and enqueue its configurations once.

Every entry point (``sweep``, ``worker``) calls :func:`plan`; it holds the storage's exclusive
lock (:func:`.lock.exclusive`) while it looks at which ``config_id`` each study already has
and enqueues only the missing ones, so however many coordinators start at once, each planned
configuration is enqueued exactly once. Raising ``trials`` in the study file and running again
appends configurations; changing the seed, space, protocol or data of a planned study is refused.
A task shared from an earlier study (``from``) is not planned again: its searches must exist
with the same plan and trial count. Replicate sets (:mod:`.replicates`) are planned after the
searches they repeat, under the same lock, once: their chosen configurations are stored with
them.

:func:`search_plans` is what every reader of a planned study iterates over (workers, progress,
``status``): each search with the (config_id, replicate) pairs it plans.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from ..records import StorageURL, StudyMeta, TrialRecord
from ..tasks.userdata import digest
from . import recovery, replicates, schema
from .lock import exclusive
from .recovery import Planned
from .replicates import Replicates, ReplicateSet
from .space import plan_configs
from .studyfile import PROTOCOL_KEYS, StudyFileError, StudySpec, TaskPlan


@dataclass(frozen=True)
class SearchPlan:
    """One Optuna study of a planned study file: its task and variant, the (config_id,
    replicate) pairs it plans and, for a replicate set's search, the set."""

    task: TaskPlan
    variant: str
    name: str
    planned: Planned
    replicate_set: ReplicateSet | None = None

    @property
    def protocol(self) -> dict:
        """The protocol overrides of its trials beyond the task's (a replicate set's)."""
        return self.replicate_set.protocol if self.replicate_set else {}

    @property
    def label(self) -> str:
        """``task``, ``task/set`` or, for the search that continues a shared one,
        ``task #first-last`` (its configurations): how progress and ``status`` name it."""
        if self.replicate_set:
            return f"{self.task.name}/{self.replicate_set.name}"
        first = min(self.planned, default=(0, 0))[0]
        if first > 0:
            return f"{self.task.name} #{first}-{max(self.planned)[0]}"
        return self.task.name


def effective_protocol(spec: StudySpec, task: TaskPlan, overrides: dict | None = None) -> dict:
    """The full protocol of a task's trials (defaults filled in), with a replicate set's
    ``overrides``."""
    cfg = spec.train_config(task, spec.variants[0], {name: spec.space[name].low
                                                      for name in schema.PARAMS}, 0, 0,
                            overrides)
    return {k: getattr(cfg, k) for k in PROTOCOL_KEYS}


def plan_fingerprint(spec: StudySpec, task: TaskPlan) -> dict:
    """What the stored configurations of a task depend on; must not change once planned. A
    dataset folder enters by the SHA-256 of its files, so a study is never continued on data
    that changed under it."""
    data = {"size": task.size, "path": task.path, "data_seed": task.data_seed,
            **({"options": task.options} if task.options else {})}
    if task.own_data:
        data["sha256"] = digest(task.path)
    return {
        "seed": spec.seed, "pruner": spec.pruner,
        "space": {k: [d.low, d.high] for k, d in spec.space.items()},
        "protocol": effective_protocol(spec, task),
        "data": data,
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
    """Load (or create) the Optuna study ``name`` of a study file. Loaded first: creating a
    study that exists appends a record to a journal each time, so a sweep of a finished
    study would change its shipped journal."""
    sampler = optuna.samplers.RandomSampler(spec.seed)
    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except KeyError:  # not there yet (or created meanwhile: load_if_exists)
        return optuna.create_study(study_name=name, storage=storage, direction="minimize",
                                   load_if_exists=True, sampler=sampler)


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
            loaded: list = []  # the task's data, loaded once when a study is first described
            for variant in spec.variants:
                first = 0
                if task.origin is not None:  # planned by the origin: check it, re-queue orphans
                    name = spec.search_name(task, variant)
                    first = _check_shared(spec, storage, task, name, fingerprint)
                    study = open_search(spec, storage, task, name)
                    added += _requeue_orphans(spec, study, study.get_trials(deepcopy=False),
                                              recovery.configs(first))
                if first < task.trials:
                    added += _plan_search(spec, storage, task, variant, first, loaded)
        for task in spec.tasks:
            for rset in task.replicates:
                added += _plan_replicates(spec, storage, task, rset)
    return added


def _plan_search(spec: StudySpec, storage: BaseStorage, task: TaskPlan, variant: str,
                 first: int, loaded: list) -> int:
    """Plan this file's own search of (task, variant): configurations ``first`` … trials−1
    (``first`` > 0 continues a shared search that planned the ones before)."""
    fingerprint = plan_fingerprint(spec, task)
    configs = plan_configs(spec.space, spec.seed, task.name, task.trials)[first:]
    name = schema.study_name(spec.name, task.name, variant)
    study = open_study(spec, storage, name)
    meta = StudyMeta.from_user_attrs(study.user_attrs)
    if meta is not None and meta.plan != fingerprint:
        changed = "; ".join(changes(meta.plan, fingerprint))
        raise StudyFileError(
            f"{spec.source}: study {name!r} was planned with a different seed, space, protocol, "
            f"pruner or data ({changed}); restore them or give the study a new 'name'")
    if meta is not None and (meta.first or 0) != first:
        raise StudyFileError(
            f"{spec.source}: study {name!r} continues the shared search from configuration "
            f"{meta.first or 0}, but that search now ends at {first}; restore its trial count "
            "or give this study a new 'name'")
    if meta is None or meta.trials != task.trials - first:
        if not loaded:
            from ..tasks import load_task  # here: reading a plan never loads the task modules

            loaded.append(load_task(task.name, size=task.size, path=task.path,
                                    seed=task.data_seed, **task.options))
        data = loaded[0]
        meta = StudyMeta(
            study=spec.name, task=task.name, variant=variant, source=str(data.source),
            data=data.description, metric=data.metric, protocol=fingerprint["protocol"],
            trials=task.trials - first, seed=spec.seed, pruner=spec.pruner, plan=fingerprint,
            first=first or None, kind=str(data.kind),
            stands_for=data.stands_for.to_dict() if data.stands_for else None)
        for key, value in meta.to_user_attrs().items():
            study.set_user_attr(key, value)
    trials = study.get_trials(deepcopy=False)
    have = {TrialRecord.from_user_attrs(t.user_attrs).config_id for t in trials}
    added = 0
    for c in configs:
        if c.config_id not in have:
            label = TrialRecord(config_id=c.config_id, seed=c.seed)
            study.enqueue_trial(c.params, user_attrs=label.to_user_attrs(partial=True))
            added += 1
    return added + _requeue_orphans(spec, study, trials, _range(first, task.trials))


def _range(first: int, stop: int) -> Planned:
    """The plan of configurations ``first`` … ``stop``−1 (replicate 0)."""
    return recovery.configs(stop) - recovery.configs(first)


def replicate_fingerprint(spec: StudySpec, task: TaskPlan, rset: ReplicateSet) -> dict:
    """What a replicate set's search depends on; must not change once planned."""
    return {**plan_fingerprint(spec, task),
            "protocol": effective_protocol(spec, task, rset.protocol),
            "replicates": {"selection": rset.selection, "seeds": list(rset.seeds)}}


def _plan_replicates(spec: StudySpec, storage: BaseStorage, task: TaskPlan,
                     rset: ReplicateSet) -> int:
    """Plan (once) and enqueue the missing trials of one replicate set, every variant. A set
    that takes the best of each variant's search waits until that search is complete (a later
    :func:`plan` call plans it)."""
    fingerprint = replicate_fingerprint(spec, task, rset)
    configs = plan_configs(spec.space, spec.seed, task.name, task.trials)
    added = 0
    for variant in spec.variants:
        of = spec.search_name(task, variant)
        name = replicates.study_name(spec.name, task.name, variant, rset.name)
        meta = _stored_meta(storage, name)
        if meta is not None and meta.plan != fingerprint:
            changed = "; ".join(changes(meta.plan, fingerprint))
            raise StudyFileError(f"{spec.source}: replicate set {name!r} was planned differently "
                                 f"({changed}); restore it or give the set a new name")
        chosen = Replicates.from_dict(meta.replicates) if meta is not None else None
        if chosen is None:
            ids = _choose(spec, storage, task, rset, of)
            if ids is None:
                continue  # its search is not complete yet
            chosen = Replicates(rset.name, of, rset.selection, ids, rset.seeds)
            origin = _stored_meta(storage, of) or StudyMeta()
            meta = StudyMeta(
                study=spec.name, task=task.name, variant=variant, source=origin.source,
                data=origin.data, metric=origin.metric, protocol=fingerprint["protocol"],
                trials=len(chosen.keys()), seed=spec.seed, pruner=spec.pruner, plan=fingerprint,
                replicates=chosen.to_dict(), kind=origin.kind, stands_for=origin.stands_for)
            study = open_study(spec, storage, name)
            for key, value in meta.to_user_attrs().items():
                study.set_user_attr(key, value)
        else:
            study = open_study(spec, storage, name)
        trials = study.get_trials(deepcopy=False)
        have = {TrialRecord.from_user_attrs(t.user_attrs).key for t in trials}
        for cid, r in sorted(chosen.keys() - have):
            c = configs[cid]
            label = TrialRecord(config_id=cid, replicate=r, seed=replicates.replicate_seed(
                spec.seed, task.name, cid, r, c.seed))
            study.enqueue_trial(c.params, user_attrs=label.to_user_attrs(partial=True))
            added += 1
        added += _requeue_orphans(spec, study, trials, chosen.keys())
    return added


def _stored_meta(storage: BaseStorage, name: str) -> StudyMeta | None:
    """The StudyMeta of the Optuna study ``name``; None if absent (never creates it)."""
    try:
        return StudyMeta.from_user_attrs(
            storage.get_study_user_attrs(storage.get_study_id_from_name(name)))
    except KeyError:
        return None


def _choose(spec: StudySpec, storage: BaseStorage, task: TaskPlan, rset: ReplicateSet,
            of: str) -> tuple[int, ...] | None:
    """The configurations a replicate set repeats of the search ``of``: the listed ones, or
    the best fraction by validation outcome once every planned configuration is done (None
    before)."""
    if rset.fraction is None:
        return rset.configs
    source = open_search(spec, storage, task, of).get_trials(deepcopy=False)
    if len(recovery.done_configs(source, recovery.configs(task.trials))) < task.trials:
        return None
    baseline = replicates.task_baseline(
        [t for v in spec.variants
         for t in open_search(spec, storage, task, spec.search_name(task, v)).get_trials(
             deepcopy=False)])
    return replicates.best_configs(source, task.trials, rset.fraction, baseline)


def search_plans(spec: StudySpec, storage: BaseStorage) -> list[SearchPlan]:
    """Every search of a planned study file with what it plans, tasks first, then the
    replicate sets (whose chosen configurations are read from the storage: a set not yet
    planned plans nothing)."""
    out = []
    for task, variant, name in spec.study_names():
        first = task.trials
        if task.origin is not None:
            origin = _stored_meta(storage, name)
            first = origin.trials if origin is not None and isinstance(origin.trials, int) \
                else task.trials
        out.append(SearchPlan(task, variant, name, recovery.configs(min(first, task.trials))))
        if first < task.trials:  # this file's continuation of a shared search
            out.append(SearchPlan(task, variant, schema.study_name(spec.name, task.name, variant),
                                  _range(first, task.trials)))
    for task, rset, variant, name in spec.replicate_names():
        meta = _stored_meta(storage, name)
        chosen = Replicates.from_dict(meta.replicates) if meta is not None else None
        out.append(SearchPlan(task, variant, name, chosen.keys() if chosen else frozenset(),
                              rset))
    return out


def _check_shared(spec: StudySpec, storage: BaseStorage, task: TaskPlan, name: str,
                  fingerprint: dict) -> int:
    """A shared task's search ``name`` exists, planned with ``fingerprint`` and at most the
    task's trial count; returns the trials it planned (this file plans the rest). Else a
    one-line :class:`StudyFileError` saying what differs."""
    where = f"{spec.source}: task {task.name!r} is shared from study {task.origin!r}"
    meta = _stored_meta(storage, name)
    if meta is None:  # absent, or an empty study that a reader opened
        raise StudyFileError(f"{where}, but the storage has no search {name!r}; plan it there "
                             "first, or drop 'from'")
    if meta.plan != fingerprint:
        changed = "; ".join(changes(meta.plan, fingerprint))
        raise StudyFileError(f"{where}, which planned it differently ({changed}); give this "
                             "file the same seed, space, pruner, protocol and data, or drop "
                             "'from'")
    if not isinstance(meta.trials, int) or meta.trials > task.trials:
        raise StudyFileError(f"{where}, which planned {meta.trials} trials per variant, more "
                             f"than {task.trials}; set 'trials' to at least {meta.trials} (more "
                             "plans the configurations after them in this study)")
    return meta.trials


def requeue_orphans(spec: StudySpec, storage: BaseStorage, url: StorageURL,
                    searches: list[tuple[Planned, optuna.Study]]) -> int:
    """Re-queue the orphans (:func:`.recovery.orphans`) of the (planned, study) ``searches``,
    holding the planning lock so that each is re-queued once; returns how many."""
    if not any(recovery.orphans(s.get_trials(deepcopy=False), planned, orphan_age(spec))
               for planned, s in searches):
        return 0  # the common case, without the lock
    added = 0
    with exclusive(storage, url):
        for planned, study in searches:
            added += _requeue_orphans(spec, study, study.get_trials(deepcopy=False), planned)
    return added


def orphan_age(spec: StudySpec) -> float:
    """How long a lost trial waits before it counts as an orphan: the storage's stated
    heartbeat interval (``[storage] heartbeat_interval``)."""
    return float(spec.heartbeat_interval)


def _requeue_orphans(spec: StudySpec, study: optuna.Study, trials: list[FrozenTrial],
                     planned: Planned) -> int:
    found = recovery.orphans(trials, planned, orphan_age(spec))
    for t in found:
        recovery.requeue(study, t)
    return len(found)
