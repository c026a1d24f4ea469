"""Perform one socket call for real and describe what the kernel answered.

Every socket method a lab runs goes through :func:`perform`: it times the call
and catches the ``OSError`` family, so a failed call is a result (an errno
name) rather than an exception that escapes the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Outcome:
    """What one call returned (``value``) or raised (``exc``), and when. Made for every
    call a lab records, so a plain slotted class (a frozen dataclass costs 3.5x as much to
    make); nothing changes one once it is recorded."""

    __slots__ = ("duration_ns", "exc", "started_ns", "value")

    def __init__(
        self, value: Any, exc: Exception | None, started_ns: int, duration_ns: int
    ) -> None:
        self.value = value
        self.exc = exc
        self.started_ns = started_ns
        self.duration_ns = duration_ns

    def __repr__(self) -> str:
        return f"Outcome({self.value!r}, {self.exc!r}, {self.started_ns}, {self.duration_ns})"

    @property
    def ok(self) -> bool:
        return self.exc is None


def perform(fn: Callable[[], Any]) -> Outcome:
    """Run one socket call; an ``OSError`` (or a bad-value error) becomes part of the outcome."""
    started = time.monotonic_ns()
    try:
        value = fn()
    except (OSError, ValueError, OverflowError) as exc:
        return Outcome(None, exc, started, time.monotonic_ns() - started)
    return Outcome(value, None, started, time.monotonic_ns() - started)
