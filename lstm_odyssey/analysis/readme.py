"""The generated part of a results folder's README (``lstm-odyssey study readme``).

Every ``results/<study>/`` has one layout: a README, the report in ``report/`` and the
journal (the storage). The README's block between :data:`BEGIN` and :data:`END` — the commands
that read the study, where its storage and report are, the package versions its trials
recorded, the machine and the cost (:mod:`.progress`) — is written from the journal; the text
around it (what the study is, its findings) is the author's and is kept when the block is
written again. The machine is not in the journal: it is given once (``--machine``) and kept
from the block being replaced after that.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .progress import Progress, finished_trials, study_progress
from .study import StudyTrials

BEGIN = "<!-- begin: written by `lstm-odyssey study readme`; edit outside this block -->"
END = "<!-- end: written by `lstm-odyssey study readme` -->"
MACHINE = "- Machine: "  # the block's line that the journal cannot give
NO_MACHINE = "not recorded (give `--machine`)"
REPORT_DIR = "report"
WIDTH = 100  # the README's lines are wrapped at this width (the tables are not)
# how the versions a trial recorded are named, in this order
PACKAGES = {"lstm_odyssey": "lstm-odyssey", "torch": "torch", "optuna": "optuna",
            "numpy": "numpy", "python": "Python"}


class ReadmeError(UserError, ValueError):
    """A README whose generated block cannot be found or replaced."""


@dataclass(frozen=True)
class ReadmeBlock:
    """What the generated block says."""

    study_file: str
    storage: str                 # the storage as the README names it
    report: str | None           # the report folder, None where none is shipped
    versions: tuple[tuple[str, int], ...]  # (versions as text, finished trials with them)
    unversioned: int             # finished trials that recorded no versions
    last_finished: str           # when the last trial finished (the storage's clock)
    progress: Progress
    machine: str = NO_MACHINE

    def to_markdown(self) -> str:
        s = self.study_file
        commands = [f"lstm-odyssey status {s}", f"lstm-odyssey study progress {s}",
                    f"lstm-odyssey study criteria {s} [--variant all]",
                    f"lstm-odyssey report {s}" + ("" if self.report else " -o DIR")]
        versions = "; ".join(f"{v} ({n} trials)" if len(self.versions) > 1 else v
                             for v, n in self.versions) or "none recorded"
        if self.unversioned:
            versions += f"; {self.unversioned} trial(s) recorded none"
        report = (f"[{self.report}/]({self.report}/) (written by `lstm-odyssey report {s}`)"
                  if self.report else f"not shipped; `lstm-odyssey report {s} -o DIR` writes it")
        bullets = [f"- Study file: `{s}`", f"- Storage: {self.storage}", f"- Report: {report}",
                   f"- Versions (as the finished trials recorded them): {versions}",
                   f"{MACHINE}{self.machine}",
                   f"- Last trial finished: {self.last_finished} (the storage's clock)"]
        cost = ("Cost (`lstm-odyssey study progress`; core-hours are the trials' CPU time, "
                "wall time where a record has none; the remaining core-hours are an "
                "extrapolation at the mean so far):")
        lines = [BEGIN, "", "Commands (run from the repository root):", "",
                 *(f"    {c}" for c in commands), "",
                 *(textwrap.fill(b, WIDTH, subsequent_indent="  ", break_long_words=False,
                                 break_on_hyphens=False) for b in bullets), "",
                 textwrap.fill(cost, WIDTH), "", self.progress.to_markdown(), "", END]
        return "\n".join(lines)


def _versions(study: StudyTrials) -> tuple[tuple[tuple[str, int], ...], int]:
    done = finished_trials(study.results.trials)
    counts: Counter[str] = Counter()
    unversioned = 0
    for v in done["versions"]:
        if not isinstance(v, dict) or not v:
            unversioned += 1
            continue
        counts[json.dumps(v, sort_keys=True)] += 1
    named = tuple((", ".join(f"{PACKAGES.get(k, k)} {d[k]}" for k in
                             [*(p for p in PACKAGES if p in d), *sorted(set(d) - set(PACKAGES))]),
                   n) for d, n in ((json.loads(k), n) for k, n in counts.most_common()))
    return named, unversioned


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def readme_block(study: StudyTrials, study_file: str, folder: str | Path,
                 machine: str = NO_MACHINE) -> ReadmeBlock:
    """The block of the README in ``folder`` (the study's results folder: links are relative
    to it) for ``study``, read from its storage; ``study_file`` as the commands name it."""
    folder = Path(folder)
    url = study.storage
    if url.path is not None:
        storage = f"[{_relative(url.path, folder)}]({_relative(url.path, folder)})"
        if url.base is not None:
            storage += f" on the base journal `{_relative(url.base, folder)}`"
        if not url.path.exists() and url.base is None:
            storage = f"`{url.text}`"
    else:
        storage = f"`{url.masked}`"
    report = REPORT_DIR if (folder / REPORT_DIR).is_dir() else None
    versions, unversioned = _versions(study)
    last = study.results.last_finished
    return ReadmeBlock(study_file, storage, report, versions, unversioned,
                       "–" if last is None else f"{last:%Y-%m-%d %H:%M}",
                       study_progress(study), machine)


def kept_machine(text: str) -> str | None:
    """The machine line of the generated block in ``text``, if it has one that says more than
    :data:`NO_MACHINE`."""
    if BEGIN not in text:
        return None
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    # the bullet may be wrapped: its continuation lines are indented
    bullets = re.split(r"\n(?! )", block)
    for bullet in bullets:
        if bullet.startswith(MACHINE):
            machine = " ".join(bullet[len(MACHINE):].split())
            return None if machine == NO_MACHINE else machine
    return None


def with_block(text: str, block: str) -> str:
    """``text`` with its generated block replaced by ``block`` (appended where it has none)."""
    if BEGIN not in text:
        return text.rstrip("\n") + "\n\n" + block + "\n"
    head, rest = text.split(BEGIN, 1)
    if END not in rest:
        raise ReadmeError(f"the README has {BEGIN!r} but not {END!r} after it; restore the "
                          "end line or delete the block")
    return head + block + rest.split(END, 1)[1]


def write_readme(study: StudyTrials, study_file: str, readme: str | Path,
                 machine: str | None = None) -> Path:
    """Write the block into ``readme`` (created with a title where it does not exist),
    keeping the machine of the block it replaces unless ``machine`` is given."""
    readme = Path(readme)
    text = readme.read_text() if readme.exists() else f"# {study.spec.name}\n"
    machine = machine or kept_machine(text) or NO_MACHINE
    block = readme_block(study, study_file, readme.parent, machine).to_markdown()
    readme.write_text(with_block(text, block))
    return readme
