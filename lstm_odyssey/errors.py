"""The package's exception markers.

:class:`UserError` is the one exception type for mistakes a user can make (bad variant, bad
study file, missing corpus, wrong storage URL, ...). The CLI prints its message as a single
line, never a traceback; subclasses also derive from the matching builtin (ValueError,
FileNotFoundError, ...).

:class:`EnvironmentFault` marks a failure of the machine a computation ran on rather than of
the computation itself: the kernel cache, a backend that cannot run here. A sweep does not
count a trial that ended with one as finished; it queues the trial's configuration again
(:mod:`lstm_odyssey.sweep.faults` maps these and the builtin machine failures, such as
``MemoryError`` or a full disk, in one table).
"""


import difflib
from collections.abc import Sequence


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class EnvironmentFault(Exception):
    """The machine failed, not the work it ran: running the same work again elsewhere, or
    after the named fix, can succeed. The message names what to fix."""


def unknown_key(key: str, valid: Sequence[str], prefix: str = "") -> str | None:
    """The one-line complaint about a table key that is not among ``valid`` ("did you mean"
    from difflib), None for a valid key; shared by every TOML table the package reads."""
    if key in valid:
        return None
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
    return f"unknown key '{prefix}{key}'; {hint}valid keys: {', '.join(valid)}"
