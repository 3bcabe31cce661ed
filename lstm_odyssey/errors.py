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


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class EnvironmentFault(Exception):
    """The machine failed, not the work it ran: running the same work again elsewhere, or
    after the named fix, can succeed. The message names what to fix."""
