"""The one exception hierarchy of the engine.

A :class:`CommandError` means a command was refused before any socket call was
made: it names the field at fault and says why, and carries the HTTP status the
API answers with. Failed socket calls are *not* errors here: they are results
(an errno name in a call event).
"""

from __future__ import annotations


class CommandError(Exception):
    """A command the lab refuses; the lab keeps running and loses nothing."""

    status = 400

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidCommand(CommandError):
    """Malformed: unknown op, missing or ill-typed field."""


class UnknownSocket(CommandError):
    status = 404


class ForbiddenError(CommandError):
    """An address or port the lab's policy does not allow."""

    status = 403


class TooLarge(CommandError):
    status = 413


class Conflict(CommandError):
    """Valid on its own, impossible now (a call already blocked, a name taken, ...)."""

    status = 409


class RateLimited(CommandError):
    status = 429


class LabClosed(CommandError):
    status = 410
