"""The embedded journal file: Optuna's format made robust against a crash in mid-append.

Optuna's ``JournalFileBackend`` writes one JSON object per line, appending under a lock file.
A process killed during an append leaves a *torn* last line (no newline). Optuna's reader
skips a torn last line, but the next append would glue a new record onto it, and from then on
every read fails. So:

* :class:`JournalBackend` appends like Optuna's backend, but first, holding the same lock, cuts
  a torn last line off (no writer holds the lock, so those bytes are a dead writer's, and no
  reader ever used them: its operation never happened) after saving them next to the journal
  (``<journal>.torn-<time>``);
* a line that cannot be read in the middle of the file (a glued line, a damaged disk block) is
  reported by :func:`check` with its line number, and :func:`salvage`
  (``lstm-odyssey repair-journal``) writes the readable records to a new file, never touching
  the original;
* a journal compressed with ``xz`` (``journal.log.xz``, how a finished study is shipped) is read
  by :class:`CompressedJournal`, which refuses to append: a sweep resumes only on the
  decompressed file;
* :class:`LayeredJournal` reads a base journal (plain or compressed, never written) and then a
  study's own journal, to which it appends: a study that extends a shipped one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import lzma
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.storages.journal import (
    BaseJournalBackend,
    JournalFileBackend,
    JournalFileSymlinkLock,
    JournalStorage,
)

from ..errors import UserError
from .storage import COMPRESSED_SUFFIX

log = logging.getLogger(__name__)

# Optuna's journal operations that create something (CREATE_STUDY, CREATE_TRIAL): their ids are
# positional, so dropping one shifts the ids of everything created after it.
_CREATES = (0, 4)
_RECORD_START = b'{"op_code":'


class JournalCorrupt(UserError, ValueError):
    """A journal file with a line that cannot be read."""


class JournalReadOnly(UserError, PermissionError):
    """A compressed journal asked to take new records."""


def is_compressed(path: Path) -> bool:
    """Whether ``path`` names an xz-compressed (read-only) journal."""
    return path.suffix == COMPRESSED_SUFFIX


def read_only_error(path: Path) -> JournalReadOnly:
    """The one-line error for writing to the compressed journal ``path``."""
    plain = path.with_suffix("")
    return JournalReadOnly(
        f"journal {path} is compressed and read-only; to add trials, decompress it "
        f"(`xz -dk {path}`) and give {plain} (the default once it exists)")


def read_bytes(path: Path) -> bytes:
    """The bytes of a journal file, decompressed if it is an xz file."""
    if not is_compressed(path):
        return path.read_bytes()
    try:
        return lzma.decompress(path.read_bytes())
    except lzma.LZMAError as e:
        raise JournalCorrupt(f"journal {path} is not a readable xz file ({e}); compress the "
                             f"journal again with `xz -k {path.with_suffix('')}`") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the lock that Optuna's journal writers hold while they append."""
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _cut_torn_tail(path: Path) -> Path | None:
    """With the append lock held: cut a last line without newline off ``path``, saving it to
    ``<path>.torn-<time>``; returns the backup (None when the file ends cleanly)."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return None
        start = size - 1
        while start > 0:  # back to the last newline (the torn line is at most one record)
            step = min(start, 1 << 16)
            f.seek(start - step)
            chunk = f.read(step)
            if (i := chunk.rfind(b"\n")) >= 0:
                start = start - step + i + 1
                break
            start -= step
        f.seek(start)
        torn = f.read()
        backup = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        backup.write_bytes(torn)
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    log.warning("journal %s: cut off a torn last line (%d bytes, left by a process killed while "
                "writing; saved to %s)", path, len(torn), backup)
    return backup


class JournalBackend(JournalFileBackend):
    """Optuna's journal file backend that never appends onto a torn last line."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        # Optuna's append_logs, with the torn-tail check inside its lock (it takes the lock
        # itself, so it cannot be called from here).
        text = "\n".join(json.dumps(entry, separators=(",", ":")) for entry in logs) + "\n"
        with _locked(Path(self._file_path)):
            _cut_torn_tail(Path(self._file_path))
            with open(self._file_path, "ab") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())


class CompressedJournal(BaseJournalBackend):
    """A journal compressed with xz, read once into memory. Reading never runs code (the
    records are JSON); appending raises :class:`JournalReadOnly`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._records = self.records_of(path, read_bytes(path))

    @staticmethod
    def records_of(path: Path, data: bytes) -> list[dict[str, Any]]:
        """The records of the journal bytes ``data`` (read from ``path``); a line that is not
        one record is a :class:`JournalCorrupt` naming it."""
        try:  # a torn last line (no newline) is skipped, as Optuna's file reader does
            return [json.loads(line) for line in data.split(b"\n")[:-1]]
        except ValueError:
            _raise_bad(path, _bad_lines(data))
            raise

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        return self._records[log_number_from:]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        raise read_only_error(self._path)


def _bad_lines(data: bytes) -> list[int]:
    """1-based numbers of the lines of ``data`` that are not one JSON object each (a torn
    last line without newline is not counted: readers skip it, the next append cuts it)."""
    lines = data.split(b"\n")
    bad = []
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1]: after the last newline
        try:
            if not isinstance(json.loads(line), dict):
                bad.append(number)
        except ValueError:
            bad.append(number)
    return bad


def check(path: Path) -> None:
    """Raise :class:`JournalCorrupt` (one line) naming the first unreadable line of ``path``."""
    _raise_bad(path, _bad_lines(read_bytes(path)))


def _raise_bad(path: Path, bad: list[int]) -> None:
    """The :class:`JournalCorrupt` of ``path`` whose unreadable lines are ``bad`` (if any)."""
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise JournalCorrupt(
            f"journal {path}: line {bad[0]}{more} is not a readable record; run "
            f"`lstm-odyssey repair-journal {path}` to copy every readable record to a new file")


@dataclass
class Salvage:
    """What :func:`salvage` did: records kept of lines read, lines dropped (1-based),
    records recovered from glued lines, and whether a dropped line created a study/trial."""

    out: Path
    kept: int
    lines: int
    dropped: list[int] = field(default_factory=list)
    recovered: int = 0
    dropped_a_create: bool = False


def salvage(path: Path, out: Path, stop_at_first: bool = False) -> Salvage:
    """Write the readable records of the journal ``path`` to ``out`` (which must not exist).

    A line that is a torn record with a complete one glued after it (a crash in mid-append,
    then an append by another process) keeps the glued record. Other unreadable lines are
    dropped, or with ``stop_at_first`` everything from the first one on is left out (always
    consistent: Optuna numbers studies and trials by the order they were created, so a dropped
    create record would shift the numbers after it). ``out`` is checked by replaying it.
    """
    if out.exists():
        raise UserError(f"{out} exists; give another output path with -o")
    try:
        lines = read_bytes(path).split(b"\n")
    except OSError as e:
        raise UserError(f"cannot read the journal {path} ({e.strerror}); check the path") from None
    if lines[-1] == b"":
        lines.pop()
    result = Salvage(out, 0, len(lines))
    keep = []
    for number, line in enumerate(lines, start=1):
        record = _parse(line)
        if record is None and (i := line.rfind(_RECORD_START)) > 0:
            record = _parse(line[i:])
            result.recovered += record is not None
        if record is None:
            result.dropped.append(number)
            result.dropped_a_create |= any(f'"op_code":{c},'.encode() in line for c in _CREATES)
            if stop_at_first:
                break
            continue
        keep.append(json.dumps(record, separators=(",", ":")))
    out.write_text("".join(f"{k}\n" for k in keep))
    result.kept = len(keep)
    JournalStorage(JournalFileBackend(str(out)))  # the salvaged file replays
    return result


def _parse(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "op_code" in record else None


class LayeredJournal(BaseJournalBackend):
    """A base journal followed by an own journal, as one journal: records ``0 … B−1`` are the
    base's (read once; it is never written), records from ``B`` on are the own file's, where
    every append goes. ``own`` None (a reader before the first sweep) or compressed: read-only.

    The base must not change once records were appended after it (their ids follow the
    base's): the own journal's first use writes ``<own>.base`` with the base's record count and
    SHA-256, and every later open checks them."""

    def __init__(self, base: Path, own: Path | None) -> None:
        import hashlib

        data = read_bytes(base)
        self._base = CompressedJournal.records_of(base, data)
        self._own: BaseJournalBackend | None = None
        if own is None:
            return
        stamp = own.with_name(own.name.removesuffix(COMPRESSED_SUFFIX) + ".base")
        expected = {"records": len(self._base), "sha256": hashlib.sha256(data).hexdigest()}
        if stamp.is_file():
            try:
                found = json.loads(stamp.read_text())
            except ValueError:
                found = None
            if found != expected:
                raise JournalCorrupt(
                    f"journal {own} continues a base journal that has since changed ({base}: "
                    f"{stamp} records {found}, the base now has {expected}); restore the base "
                    "journal or start the study under a new name")
        elif is_compressed(own):
            raise JournalCorrupt(f"journal {own} has no {stamp.name} beside it naming its base "
                                 f"journal; restore {stamp} from where the study was shipped")
        else:
            stamp.write_text(json.dumps(expected) + "\n")
        self._own = CompressedJournal(own) if is_compressed(own) else JournalBackend(str(own))

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        n = len(self._base)
        head = self._base[log_number_from:] if log_number_from < n else []
        tail = self._own.read_logs(max(0, log_number_from - n)) if self._own else []
        return [*head, *tail]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if self._own is None:
            raise JournalReadOnly("this storage was opened for reading only")
        self._own.append_logs(logs)
