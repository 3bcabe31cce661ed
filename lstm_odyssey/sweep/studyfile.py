"""Study files: TOML, validated up front with one-line errors that name the bad key.

    name = "smoke"                  # optional; default: the file name without .toml
    seed = 0                        # plans the configurations and their training seeds
    trials = 3                      # configurations per (task, variant)
    variants = ["V", "NFG", "CIFG"]  # or "all" (the paper's nine); any family's: "gru+lbr"
    cell = "mycells.janet:JANET"    # optional: your own cell (package.module:ClassOrFunction);
                                    # its name is a variant (the default variants then)
    pruner = "none"                 # "median" | "hyperband": exploratory, never the paper

    [protocol]                      # TrainConfig fields; the paper's protocol by default
    max_epochs = 2

    [space]                         # [low, high] per hyperparameter; the paper's by default
    hidden_size = [4, 8]

    [tasks.jsb]                     # one table per task
    size = 8                        # "demo" | "full" | N training sequences
    data_seed = 0                   # the data every trial of the task sees
    trials = 60                     # optional: overrides the top-level trials
    protocol = { max_epochs = 3 }   # optional: per-task protocol overrides
    from = "older-study"            # optional: share that study's searches of this task
    options = { step = "eighth" }   # optional: the task's own options (jsb: step, timit: phones)

    [tasks.my-sensors]              # any other name: the user's dataset folder at 'path'
    path = "data/my-sensors"        # holds dataset.toml and train/valid/test.npz
    options = { bidirectional = true }  # optional: override the dataset's network

    [tasks.jsb.replicates.seeds]    # optional: more runs of chosen configurations
    select = "best 10%"             # each variant's best 10 % by validation, or [0, 7, 19]
    seeds = 3                       # extra training seeds 1…3 (or a list; 0 = the planned seed)
    protocol = { max_epochs = 150 } # optional: overrides of the task's protocol

    [analysis]                      # optional: the pre-registered analysis (alpha, margins,
    margin = { jsb = 0.05 }         # tests, ...): lstm_odyssey.analysis.preregistration

    [storage]                       # optional
    url = "postgresql://user@host/db"   # default: the journal file results/<name>/journal.log
    heartbeat_interval = 60         # seconds; RDB storages only
    grace_period = 180              # a RUNNING trial without a heartbeat this long is re-run
    outage_s = 60                   # RDB storages: how long a database outage is waited out
    base = "results/older/journal.log.xz"  # journal storages: read that journal first (never
                                    # written); new records go to this study's own journal

A task with ``from`` takes its searches from an earlier study in the same storage instead of
planning its own: they must have been planned with this file's seed, space, pruner, protocol
and data (checked against what they stored), so they are exactly the searches this file would
plan; their trials count for both studies. With more ``trials`` than the origin planned, this
file plans the configurations after the origin's in searches of its own (the same
configurations it would have drawn: configuration i depends on the seed, task and i only).
This is how a study replans one task (a new protocol under a new study name) without running
the unchanged tasks again, or adds configurations to a finished study.

A journal storage with a ``base`` starts where that journal ends: every study of the base can
be read and shared (``from``), and this study's records are appended to its own journal only.
This is how a study extends a shipped (compressed, read-only) one. Replicate sets
(:mod:`.replicates`) repeat chosen configurations of a task with other seeds or a longer
protocol, each variant's as its own search.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError, unknown_key
from ..families import CellError, load_cell, parse_variant
from ..records import StorageURL, default_location
from ..tasks import TASK_NAMES, task_info
from ..tasks.common import TaskNameError, split_counts
from ..tasks.userdata import NAME as DATASET_NAME
from ..tasks.userdata import OPTIONS as DATASET_OPTIONS
from ..train import ConfigError, TrainConfig
from ..train.config import SEED_MAX, SEED_WHY, SIZE_MAX
from ..variants import PRESET_NAMES, SpecError
from . import schema
from .replicates import ReplicateError, ReplicateSet, parse_set
from .replicates import study_name as replicate_study_name
from .space import PAPER_SPACE, Dim, RangeError

TOP_KEYS = ("name", "seed", "trials", "variants", "pruner", "protocol", "space", "tasks", "storage",
            "cell", "analysis")
TASK_KEYS = ("size", "path", "data_seed", "trials", "protocol", "from", "replicates", "options")
PROTOCOL_KEYS = ("max_epochs", "patience", "batch_size", "init_std", "time_budget_s", "backend",
                 "eval_batch_size")
STORAGE_KEYS = ("url", "heartbeat_interval", "grace_period", "base", "outage_s")
PRUNERS = ("none", "median", "hyperband")
NAME_MAX = 100               # a study name's characters (a folder name, and part of Optuna's)
STUDY_SEED_MAX = 2**32 - 1   # numpy's RandomState, which Optuna's samplers seed with it
TRIALS_MAX = 100_000         # per task and variant: the paper's whole study ran 5,400 trials
TRIALS_WHY = "more cannot be planned in reasonable time; the paper's whole study ran 5,400"


class StudyFileError(UserError, ValueError):
    """A study file that is not TOML or has a bad key or value."""


class StudyFileNotFound(UserError, FileNotFoundError):
    """A study file path that does not exist."""


@dataclass(frozen=True)
class TaskPlan:
    """One task of a study: its data and its protocol."""

    name: str
    size: str | int = "demo"
    path: str | None = None
    data_seed: int = 0
    trials: int = 1
    protocol: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None  # the study whose searches of this task are shared (``from``)
    replicates: tuple[ReplicateSet, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)  # the task's own (load_task's)

    @property
    def own_data(self) -> bool:
        """The task is a user's dataset folder at ``path`` (not a built-in task)."""
        return self.path is not None and self.name not in TASK_NAMES


@dataclass(frozen=True)
class StudySpec:
    """A validated study file."""

    name: str
    seed: int
    variants: tuple[str, ...]
    tasks: tuple[TaskPlan, ...]
    space: dict[str, Dim]
    pruner: str = "none"
    storage_url: str | None = None
    heartbeat_interval: int = 60
    grace_period: int = 180
    outage_s: int = 60  # a server storage's outage is waited out this long (records/outage.py)
    source: str = ""
    storage_base: str | None = None  # a journal read before the study's own (``storage.base``)
    # the [analysis] table as written: validated by lstm_odyssey.analysis.preregistration
    # (the sweep layer does not import the analysis) before a sweep plans and in the report
    analysis: dict = field(default_factory=dict)
    cell: str | None = None  # a user's cell, package.module:Object (``cell``)

    @property
    def paper_mode(self) -> bool:
        """No pruner: every trial runs the full protocol, as in the paper."""
        return self.pruner == "none"

    def study_names(self) -> list[tuple[TaskPlan, str, str]]:
        """(task, variant, Optuna study name) of every search, tasks first; a shared task's
        searches carry the name of the study that planned them."""
        return [(t, v, self.search_name(t, v)) for t in self.tasks for v in self.variants]

    def search_name(self, task: TaskPlan, variant: str) -> str:
        """The Optuna study name of the search of (``task``, ``variant``)."""
        return schema.study_name(task.origin or self.name, task.name, variant)

    def replicate_names(self) -> list[tuple[TaskPlan, ReplicateSet, str, str]]:
        """(task, replicate set, variant, Optuna study name) of every replicate search."""
        return [(t, r, v, replicate_study_name(self.name, t.name, v, r.name))
                for t in self.tasks for r in t.replicates for v in self.variants]

    def searches(self) -> frozenset[str]:
        """The Optuna study names of every search of this file: replicate sets included, and
        for a shared task the search that continues it here when ``trials`` exceeds the
        origin's."""
        return frozenset([*(name for _, _, name in self.study_names()),
                          *(schema.study_name(self.name, t.name, v)
                            for t in self.tasks if t.origin for v in self.variants),
                          *(name for *_, name in self.replicate_names())])

    def storage(self, given: str | None = None) -> StorageURL:
        """The study's storage: ``given`` (``--storage``), else the file's ``storage.url``, else
        the embedded journal file ``results/<name>/journal.log``."""
        url = StorageURL.parse(given or self.storage_url or default_location(self.name))
        return url.on_base(self.storage_base) if self.storage_base and not given else url

    def train_config(self, task: TaskPlan, variant: str, params: dict, seed: int,
                     config_id: int, protocol: dict | None = None) -> TrainConfig:
        """The TrainConfig of one trial (1 thread: sweeps run one process per core);
        ``protocol``: a replicate set's overrides of the task's protocol."""
        return TrainConfig(
            task=task.name, variant=variant, **searched_config(params), seed=seed,
            size=task.size, path=task.path, data_seed=task.data_seed, threads=1,
            config_id=config_id, cell=self.cell, **{**task.protocol, **(protocol or {})})


def searched_config(params: dict) -> dict[str, Any]:
    """TrainConfig's searched fields from trial params (``schema.PARAMS`` names):
    momentum m = 1 − one_minus_momentum."""
    return {"hidden_size": int(params[schema.HIDDEN_SIZE]),
            "learning_rate": float(params[schema.LEARNING_RATE]),
            "momentum": 1.0 - float(params[schema.ONE_MINUS_MOMENTUM]),
            "input_noise": float(params[schema.INPUT_NOISE])}


def _fail(where: str, message: str) -> StudyFileError:
    return StudyFileError(f"{where}: {message}")


def _check_keys(where: str, table: Any, valid: tuple[str, ...], prefix: str = "") -> dict:
    if not isinstance(table, dict):
        raise _fail(where, f"'{prefix.rstrip('.') or 'the file'}' must be a table")
    for key in table:
        if (problem := unknown_key(key, valid, prefix)) is not None:
            raise _fail(where, problem)
    return table


def _int(where: str, key: str, value: Any, minimum: int, maximum: int | None = None,
         why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f"'{key}' = {value!r} must be an integer ≥ {minimum}")
    if maximum is not None and value > maximum:
        raise _fail(where, f"'{key}' = {value!r} must be an integer in {minimum} … {maximum:,}"
                           + (f" ({why})" if why else ""))
    return value


# Valid values of the searched hyperparameters, used to check one protocol or range at a time.
_PROBE = {name: dim.low for name, dim in PAPER_SPACE.items()}


def _space(where: str, table: Any) -> dict[str, Dim]:
    _check_keys(where, table, schema.PARAMS, "space.")
    space = dict(PAPER_SPACE)
    for name, value in table.items():
        paper = PAPER_SPACE[name]
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))
        if not ok:
            raise _fail(where, f"'space.{name}' = {value!r} must be a list [low, high] of numbers")
        dim = Dim(*value, paper.log, paper.integer)
        try:
            dim.check()
            for bound in value:  # TrainConfig says which values train; its checks are intervals
                TrainConfig(task="jsb", variant="V", **searched_config({**_PROBE, name: bound}))
        except (RangeError, ConfigError) as e:
            raise _fail(where, f"'space.{name}' = {value!r} is not a valid range: {e}") from None
        space[name] = dim
    return space


def _protocol(where: str, table: Any, prefix: str) -> dict[str, Any]:
    """A protocol table, checked by TrainConfig itself (the one definition of a valid value)."""
    _check_keys(where, table, PROTOCOL_KEYS, prefix)
    try:
        TrainConfig(task="jsb", variant="V", **searched_config(_PROBE), **table)
    except ConfigError as e:
        raise _fail(where, f"'{prefix}{e.name}' = {e.value!r} is invalid; use {e.requirement}"
                    ) from None
    return dict(table)


def _study_name(where: str, key: str, name: Any) -> str:
    """A study name: it names a folder (``results/<name>/``) and Optuna studies."""
    if (not isinstance(name, str) or not name or len(name) > NAME_MAX or "/" in name
            or "\\" in name or name.startswith(".") or not name.isprintable()):
        raise _fail(where, f"'{key}' = {name!r} must be a string of 1 … {NAME_MAX} printable "
                           "characters (no '/', '\\', tab or newline), not starting with '.'")
    return name


def _task_options(where: str, prefix: str, table: Any, valid: tuple[str, ...]) -> dict[str, Any]:
    """A task's ``options`` table: only the names the task takes (their values are checked
    when its data are prepared); a dataset folder's ``bidirectional`` must be a boolean."""
    options = _check_keys(where, table, valid, f"{prefix}options.") if valid else table
    if not isinstance(options, dict) or (options and not valid):
        raise _fail(where, f"'{prefix}options' = {table!r}: this task takes no options")
    if not isinstance(options.get("bidirectional", False), bool):
        raise _fail(where, f"'{prefix}options.bidirectional' must be true or false")
    return dict(options)


def _task(where: str, study: str, name: str, table: Any, trials: int | None,
          protocol: dict[str, Any]) -> TaskPlan:
    prefix = f"tasks.{name}."
    own_data = name not in TASK_NAMES and isinstance(table, dict) and "path" in table
    if name not in TASK_NAMES and not own_data:
        close = difflib.get_close_matches(name, TASK_NAMES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise _fail(where, f"unknown task 'tasks.{name}'; {hint}valid tasks: "
                           f"{', '.join(TASK_NAMES)} (or your own data: set '{prefix}path' to "
                           "its dataset folder)")
    if own_data and not DATASET_NAME.fullmatch(name):
        raise _fail(where, f"task name 'tasks.{name}' is invalid for a dataset folder; use "
                           "letters, digits, '-', '_' or '.'")
    _check_keys(where, table, TASK_KEYS, prefix)
    path = table.get("path")
    if path is not None and not isinstance(path, str):
        raise _fail(where, f"'{prefix}path' must be a string")
    if not own_data:
        info = task_info(name)
        if info.needs_path and path is None:
            raise _fail(where, f"task '{name}' reads a real corpus; set '{prefix}path'")
        if path is not None and not (info.needs_path or info.path_optional):
            raise _fail(where, f"task '{name}' is generated and takes no '{prefix}path'")
    options = _task_options(where, prefix, table.get("options", {}),
                            DATASET_OPTIONS if own_data else info.options)
    size = table.get("size", "demo")
    try:
        split_counts(size, None, None)
    except TaskNameError:
        raise _fail(where, f"'{prefix}size' = {size!r} is not valid; use \"demo\", \"full\" "
                           "or a positive integer") from None
    if isinstance(size, int) and size > SIZE_MAX:
        raise _fail(where, f"'{prefix}size' = {size!r} is more training sequences than a task "
                           f"takes (at most {SIZE_MAX:,}); use \"full\" or a smaller number")
    task_trials = table.get("trials", trials)
    if task_trials is None:
        raise _fail(where, f"no trial count for task '{name}'; set 'trials' or '{prefix}trials'")
    origin = table.get("from")
    if origin is not None and _study_name(where, f"{prefix}from", origin) == study:
        raise _fail(where, f"'{prefix}from' = {origin!r} names this study; name the earlier "
                           "study whose searches to share, or drop it")
    sets = table.get("replicates", {})
    if not isinstance(sets, dict):
        raise _fail(where, f"'{prefix}replicates' must hold tables of replicate sets, like "
                           f"[{prefix}replicates.seeds]")
    replicates = []
    for set_name, set_table in sets.items():
        try:
            rset, own = parse_set(where, f"{prefix}replicates.", set_name, set_table)
        except ReplicateError as e:
            raise StudyFileError(str(e)) from None
        _protocol(where, own, f"{prefix}replicates.{set_name}.protocol.")
        if isinstance(task_trials, int) and any(c >= task_trials for c in rset.configs):
            raise _fail(where, f"'{prefix}replicates.{set_name}.select' names configurations "
                               f"beyond the task's {task_trials} planned ones (ids 0…"
                               f"{task_trials - 1})")
        replicates.append(rset)
    return TaskPlan(
        name=name, size=size, path=path,
        data_seed=_int(where, f"{prefix}data_seed", table.get("data_seed", 0), 0, SEED_MAX,
                       SEED_WHY),
        trials=_int(where, f"{prefix}trials", task_trials, 1, TRIALS_MAX, TRIALS_WHY),
        protocol={**protocol, **_protocol(where, table.get("protocol", {}), f"{prefix}protocol.")},
        origin=origin,
        replicates=tuple(replicates),
        options=options,
    )


def parse_study(data: dict, where: str, default_name: str) -> StudySpec:
    """Validate a parsed TOML document (``where`` names it in errors)."""
    _check_keys(where, data, TOP_KEYS)
    name = _study_name(where, "name", data.get("name", default_name))
    seed = _int(where, "seed", data.get("seed", 0), 0, STUDY_SEED_MAX,
                "Optuna's samplers seed numpy's RandomState, which takes < 2**32")
    trials = data.get("trials")
    if trials is not None:
        _int(where, "trials", trials, 1, TRIALS_MAX, TRIALS_WHY)

    cell = data.get("cell")
    family = None
    if cell is not None:
        try:
            family = load_cell(cell)
        except CellError as e:
            raise _fail(where, f"'cell': {e}") from None
    variants = data.get("variants", "all" if family is None else [family.name])
    if variants == "all":
        variants = list(PRESET_NAMES)
    if (not isinstance(variants, list) or not variants
            or not all(isinstance(v, str) for v in variants)):
        raise _fail(where, f"'variants' = {variants!r} must be \"all\" or a non-empty list of "
                           "variant names (strings)")
    canonical = []
    for v in variants:
        try:
            canonical.append(parse_variant(v).name)
        except SpecError as e:
            raise _fail(where, f"'variants': {e}") from None
    if len(set(canonical)) != len(canonical):
        raise _fail(where, f"'variants' = {variants!r} names a variant twice")

    pruner = data.get("pruner", "none")
    if pruner not in PRUNERS:
        raise _fail(where, f"'pruner' = {pruner!r} is unknown; use one of {', '.join(PRUNERS)}")
    protocol = _protocol(where, data.get("protocol", {}), "protocol.")
    space = _space(where, data.get("space", {}))

    task_tables = data.get("tasks")
    if not isinstance(task_tables, dict) or not task_tables:
        raise _fail(where, "no tasks; add a table like [tasks.jsb]")
    tasks = tuple(_task(where, name, n, t, trials, protocol) for n, t in task_tables.items())

    storage = _check_keys(where, data.get("storage", {}), STORAGE_KEYS, "storage.")
    url = storage.get("url")
    if url is not None and (not isinstance(url, str) or not url):
        raise _fail(where, "'storage.url' must be a non-empty string")
    base = storage.get("base")
    if base is not None:
        if not isinstance(base, str) or not base or "://" in base:
            raise _fail(where, "'storage.base' must be the path of a journal file")
        if url is not None and StorageURL.parse(url).kind != "journal":
            raise _fail(where, "'storage.base' works with journal storages only; drop it or "
                               "'storage.url'")
    return StudySpec(
        name=name, seed=seed, variants=tuple(canonical), tasks=tasks, space=space, pruner=pruner,
        storage_url=url,
        heartbeat_interval=_int(where, "storage.heartbeat_interval",
                                storage.get("heartbeat_interval", 60), 1),
        grace_period=_int(where, "storage.grace_period", storage.get("grace_period", 180), 1),
        outage_s=_int(where, "storage.outage_s", storage.get("outage_s", 60), 0),
        source=where, storage_base=base, analysis=_analysis_table(where, data), cell=cell,
    )


def _analysis_table(where: str, data: dict) -> dict:
    """The ``[analysis]`` table, kept raw (checked by the analysis layer)."""
    table = data.get("analysis", {})
    if not isinstance(table, dict):
        raise _fail(where, "'analysis' must be a table, e.g. [analysis] alpha = 0.05")
    return table


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; every problem is a one-line :class:`StudyFileError`."""
    path = Path(path)
    if not path.is_file():
        raise StudyFileNotFound(f"{path}: no such study file; see studies/ for examples")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise StudyFileError(f"{path}: not valid TOML ({e})") from None
    return parse_study(data, str(path), path.stem)
