"""Outputs that appear whole or not at all: a folder (a report) or a file written beside its
final place and swapped in.

    with atomic_directory("results/study/report") as tmp:
        (tmp / "report.html").write_text(html)     # everything the command writes
        ...
    # now results/study/report is the new folder, entirely; the old one is gone

* The content is written into a temporary folder *beside* the target (same file system, so
  the swap is a rename), every file and the folder are fsynced, then the target is replaced:
  ``rename(target, old)``, ``rename(tmp, target)``, remove ``old``. Interrupted at any point
  (Ctrl-C, SIGKILL, a full disk), the target is the old folder or the new one, never a mixture
  — except for the instant between the two renames (the stdlib has no atomic exchange of two
  folders), after which the next call puts the old folder back; what is left beside it is a
  hidden ``.<name>.tmp-…``/``.<name>.old-…`` folder that the next call removes.
* A full disk (or quota) is one line naming the folder (:class:`OutputError`), not a traceback,
  and the old output stays.

Torch-free: the analysis, the CLI and the data preparation can all use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError

_TMP, _OLD = ".tmp-", ".old-"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class OutputError(UserError, OSError):
    """An output that could not be written (a full disk, a read-only folder)."""


def _fsync_tree(root: Path) -> None:
    """fsync every file under ``root`` and every folder (so that their entries are durable)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _leftovers(target: Path) -> list[Path]:
    """Temporary and old folders (or files) an interrupted swap of ``target`` left beside it."""
    prefixes = (f".{target.name}{_TMP}", f".{target.name}{_OLD}")
    if not target.parent.is_dir():
        return []
    return [p for p in target.parent.iterdir() if p.name.startswith(prefixes)]


def _recover(target: Path) -> None:
    """Undo what an interrupted swap of ``target`` left: an old folder whose replacement never
    arrived is put back, every other leftover removed."""
    left = _leftovers(target)
    olds = [p for p in left if p.name.startswith(f".{target.name}{_OLD}")]
    if olds and not target.exists():
        os.rename(olds[0], target)
    for p in _leftovers(target):
        _remove(p)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _error(target: Path, e: OSError, what: str) -> OutputError:
    if e.errno in _NO_SPACE:
        return OutputError(f"no space left to write {what} {target} (the disk or quota is full); "
                           "free some space and run the command again (the previous output, if "
                           "any, is unchanged)")
    reason = e.strerror or type(e).__name__
    return OutputError(f"cannot write {what} {target} ({reason}); choose a writable folder "
                       "(the previous output, if any, is unchanged)")


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; when the block ends without an
    error, make it ``target`` (replacing a folder that was there) in one rename. An error in
    the block removes the temporary folder and leaves ``target`` as it was; a full disk or
    quota, a read-only file system (in the block or in the swap) and any other failure of the
    swap become one :class:`OutputError` line naming ``target``; the block's other errors are
    raised as they are."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} is a file, not a folder; choose another output folder")
    _recover(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP}", dir=target.parent))
    except OSError as e:
        raise _error(target, e, "the folder") from None
    try:
        try:
            yield tmp
        except OSError as e:  # the block's own errors stay its own, but a full disk is ours
            if e.errno in (*_NO_SPACE, errno.EROFS):
                raise _error(target, e, "the folder") from None
            raise
        old = None
        try:
            _fsync_tree(tmp)
            if target.exists():
                old = target.with_name(f".{target.name}{_OLD}{os.getpid()}")
                os.rename(target, old)
            os.rename(tmp, target)
            _fsync_dir(target.parent)
        except OSError as e:
            if old is not None and not target.exists():
                os.rename(old, target)  # the new one did not arrive: the old one stays
            raise _error(target, e, "the folder") from None
    except BaseException:
        _remove(tmp)
        raise
    if old is not None:
        _remove(old)


@contextlib.contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write; when the block ends without an
    error, it is fsynced and renamed onto ``target`` (``os.replace``), so ``target`` is always
    the old file or the whole new one. Errors as in :func:`atomic_directory`."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}{_TMP}", dir=target.parent)
        os.close(fd)
    except OSError as e:
        raise _error(target, e, "the file") from None
    tmp = Path(name)
    try:
        try:
            yield tmp
        except OSError as e:
            if e.errno in (*_NO_SPACE, errno.EROFS):
                raise _error(target, e, "the file") from None
            raise
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as e:
            raise _error(target, e, "the file") from None
    except BaseException:
        _remove(tmp)
        raise
