"""Records of training runs outside a sweep: what ``lstm-odyssey train --json`` prints (a
:class:`TrainedRun`) and what ``lstm-odyssey calibrate run`` appends to ``OUT/runs.jsonl`` (a
:class:`CalibrationRun`: the grid point, the CPU seconds of every epoch and the record).

Both carry a :class:`~.trial.TrialRecord`, read with :meth:`TrialRecord.from_user_attrs` like
a sweep's, so the curves of a pilot run and of a sweep's trial are read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Self

from ..errors import UserError
from .trial import TrialRecord

RUNS_FILE = "runs.jsonl"  # the file of ``calibrate run`` in its output folder


class RunFileError(UserError, ValueError):
    """A run record file that is missing or is not what the command reads."""


def _fail(path: Path, what: str) -> RunFileError:
    return RunFileError(f"{path}: {what}; give the output of `lstm-odyssey train --json` or "
                        f"the folder `lstm-odyssey calibrate run --out` wrote")


@dataclass(frozen=True)
class RunSetting:
    """The configuration of a run that a curves table shows (a subset of ``TrainConfig``)."""

    task: str
    size: str | int
    variant: str
    hidden_size: int
    learning_rate: float
    momentum: float
    input_noise: float
    max_epochs: int
    patience: int


@dataclass(frozen=True)
class TrainedRun:
    """One record of ``lstm-odyssey train --json``; ``name``: its file's stem."""

    name: str
    setting: RunSetting
    record: TrialRecord

    @classmethod
    def read(cls, path: str | Path) -> Self:
        """The run in ``path``; a :class:`RunFileError` names what is wrong with it."""
        path = Path(path)
        data = _json(path, path.read_text() if path.is_file() else None)
        config = data.get("config")
        keys = [f.name for f in fields(RunSetting)]
        if not isinstance(config, dict) or any(k not in config for k in keys):
            raise _fail(path, "not a training record (no 'config' with " + ", ".join(keys) + ")")
        return cls(path.stem, RunSetting(**{k: config[k] for k in keys}),
                   TrialRecord.from_user_attrs(data))


@dataclass(frozen=True)
class CalibrationJob:
    """One point of a calibration grid: the vanilla LSTM on ``task`` at data ``size`` with
    ``hidden`` blocks, learning rate ``lr``, ``momentum``, at most ``max_epochs`` epochs (no
    early stopping), training seed ``seed``; ``ppc`` (points per character, from–to) and
    ``line_chars`` (characters per line) render handwriting-synth with another line shape
    (None: the task's own); ``wall_budget`` (seconds) ends a run early, status ``time_limit``;
    ``path`` is the folder of a user's dataset (``task`` is then its name). The field names are
    the keys of the stored JSON."""

    task: str
    size: str
    hidden: int
    lr: float
    momentum: float
    max_epochs: int
    seed: int
    ppc: tuple[float, float] | None = None
    line_chars: tuple[int, int] | None = None
    wall_budget: float | None = None
    path: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        values = {f.name: data.get(f.name) for f in fields(cls)}
        for pair in ("ppc", "line_chars"):
            if values[pair] is not None:
                values[pair] = tuple(values[pair])
        return cls(**values)

    def key(self) -> str:
        """What identifies the run in its file (the wall budget does not: a resumed grid
        keeps a run that stopped at its budget; no path is no key, as in files written before
        jobs had one)."""
        data = {k: v for k, v in asdict(self).items()
                if k != "wall_budget" and not (k == "path" and v is None)}
        return json.dumps({k: list(v) if isinstance(v, tuple) else v
                           for k, v in sorted(data.items())})


@dataclass(frozen=True)
class CalibrationRun:
    """One line of ``runs.jsonl``: the job, the CPU seconds of each epoch
    (``time.process_time`` of the single-threaded run) and the training record."""

    job: CalibrationJob
    cpu_s: tuple[float, ...]
    record: TrialRecord
    raw_record: Mapping[str, Any] | None = None  # the record as training returned it

    @property
    def cpu_s_per_epoch(self) -> float:
        """Mean CPU seconds per epoch (0 before the first epoch)."""
        return sum(self.cpu_s) / max(1, len(self.cpu_s))

    def to_json(self) -> str:
        """The line that stores it."""
        record = dict(self.raw_record) if self.raw_record is not None \
            else self.record.to_user_attrs()
        return json.dumps({"job": asdict(self.job), "cpu_s": list(self.cpu_s),
                           "record": record})

    @classmethod
    def from_json(cls, line: str, where: Path) -> Self:
        data = _json(where, line)
        if not isinstance(data.get("job"), dict) or not isinstance(data.get("record"), dict):
            raise _fail(where, "a line without 'job' and 'record'")
        return cls(CalibrationJob.from_dict(data["job"]), tuple(data.get("cpu_s") or ()),
                   TrialRecord.from_user_attrs(data["record"]), data["record"])


def read_calibration_runs(folder: str | Path) -> list[CalibrationRun]:
    """Every run of every ``*.jsonl`` in ``folder`` (``runs.jsonl`` and any kept beside it),
    in file order."""
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise RunFileError(f"{folder}: no *.jsonl of calibration runs there; run "
                           "`lstm-odyssey calibrate run --out` into it first")
    return [run for f in files for run in read_runs_file(f)]


def read_runs_file(path: str | Path) -> list[CalibrationRun]:
    """The runs of one ``*.jsonl`` file, in order."""
    path = Path(path)
    return [CalibrationRun.from_json(line, path) for line in path.read_text().splitlines()
            if line.strip()]


def _json(path: Path, text: str | None) -> dict:
    if text is None:
        raise _fail(path, "no such file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(path, f"not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict):
        raise _fail(path, "not a JSON object")
    return data
