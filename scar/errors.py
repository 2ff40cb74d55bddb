"""``ScarUserError``: bad input from the person running scar (a flag, a recipe, a path).

The command line catches it and prints one line (``scar <command>: error: ...``, exit
status 1). Every other exception is a bug or an environment problem and propagates
with its traceback (``-v`` shows it; without ``-v`` the CLI still prints the traceback).
"""

from __future__ import annotations


class ScarUserError(ValueError):
    """Input the user can fix; the message says what and how.

    A ``ValueError`` so code that validated input with ``ValueError`` keeps working for
    callers that catch it; the CLI catches only this class."""


class UnknownName(ScarUserError, KeyError):
    """A name (source, generator, model, task...) that no registry knows; the message
    suggests close names. Also a ``KeyError`` for callers that look names up."""

    def __str__(self) -> str:  # a KeyError's str() would be the repr of its message
        return str(self.args[0]) if self.args else ""


class Busy(ScarUserError, RuntimeError):
    """Something the user started holds what this run needs (another build writing into
    the same folder); waiting or choosing another target fixes it."""


class MissingExtra(ScarUserError, RuntimeError):
    """An optional package (an extra), a model file or a credential the command needs is not
    installed or not reachable; the message says what to install or set."""


class MissingInput(ScarUserError, FileNotFoundError):
    """A file or folder the user named (or its expected layout) is not there."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
