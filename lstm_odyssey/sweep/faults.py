"""Which errors are failures of the machine, not outcomes of a trial: one table.

A trial that ends with an error of :data:`RULES` did not fail on its own account: the kernel
cache or a backend (:class:`~lstm_odyssey.errors.EnvironmentFault`), memory, the disk, the
storage's connection. The worker does not count it as finished: it labels it ``lost`` with the
fault (``user_attrs["environment_fault"]``) and queues its configuration again, a bounded
number of times (:data:`.recovery.ENVIRONMENT_RETRIES`). Any other error is the trial's own
(a bug, a bad setting): the trial is ``failed`` and counts as done.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

import sqlalchemy.exc

from ..errors import EnvironmentFault


def _always(error: BaseException) -> bool:
    return True


def _torch_out_of_memory(error: BaseException) -> bool:
    """torch's out-of-memory error, looked up only where torch is loaded (an error of torch
    implies it is), so that reading a study never imports torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, torch.OutOfMemoryError)


def _errno_in(*codes: int) -> Callable[[BaseException], bool]:
    def applies(error: BaseException) -> bool:
        return getattr(error, "errno", None) in codes
    return applies


@dataclass(frozen=True)
class Rule:
    """Errors of type ``kind`` for which ``applies`` holds are failures of the machine; ``fix``
    says what to do about them ("" where the error's own message says it)."""

    kind: type[BaseException]
    fix: str = ""
    applies: Callable[[BaseException], bool] = _always


# First matching row wins; an error's explicit causes (``raise … from e``) are looked at too.
RULES: tuple[Rule, ...] = (
    Rule(EnvironmentFault),  # kernel cache, build and unavailable backends name their fix
    Rule(MemoryError, "free memory, or run fewer --jobs"),
    Rule(BaseException, "free memory, or run fewer --jobs", _torch_out_of_memory),
    Rule(OSError, "free disk space (or raise the disk quota)",
         _errno_in(errno.ENOSPC, errno.EDQUOT)),
    Rule(OSError, "check the disk (it reported an I/O error or is read-only)",
         _errno_in(errno.EIO, errno.EROFS)),
    Rule(OSError, "free memory or raise the open-file limit (ulimit -n)",
         _errno_in(errno.ENOMEM, errno.EMFILE, errno.ENFILE)),
    Rule(ConnectionError, "check that the storage (and the network to it) is up"),
    Rule(sqlalchemy.exc.OperationalError, "check that the database server is up and reachable"),
    Rule(sqlalchemy.exc.InterfaceError, "check that the database server is up and reachable"),
    Rule(sqlalchemy.exc.DisconnectionError, "check that the database server is up and reachable"),
    Rule(sqlalchemy.exc.TimeoutError, "check that the database server is up and reachable"),
)


@dataclass(frozen=True)
class Fault:
    """A failure of the machine: the error (its type and first line) and what to fix."""

    error: str
    fix: str = ""

    def __str__(self) -> str:
        return self.error + (f" ({self.fix})" if self.fix else "")

    def to_attr(self) -> dict[str, str]:
        """As stored in a trial's ``user_attrs["environment_fault"]``."""
        return asdict(self)

    @classmethod
    def from_attr(cls, value: object) -> Fault | None:
        """The stored fault (None if ``value`` is none)."""
        if isinstance(value, dict) and isinstance(value.get("error"), str):
            return cls(value["error"], str(value.get("fix") or ""))
        return None


def describe(error: BaseException) -> str:
    """``Type: first line of the message`` (the type alone for an empty message)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def environment_fault(error: BaseException) -> Fault | None:
    """The machine failure ``error`` is (by :data:`RULES`, following its explicit causes), or
    None when it is the trial's own failure."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        rule = next((r for r in RULES if isinstance(e, r.kind) and r.applies(e)), None)
        if rule is not None:
            return Fault(describe(e), rule.fix)
        e = e.__cause__
    return None
