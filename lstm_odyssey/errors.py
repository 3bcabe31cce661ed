"""The one exception type for mistakes a user can make (bad variant, bad study file, missing
corpus, wrong storage URL, ...). The CLI prints its message as a single line, never a traceback;
subclasses also derive from the matching builtin (ValueError, FileNotFoundError, ...)."""


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""
