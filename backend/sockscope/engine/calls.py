"""Perform one socket call for real and describe what the kernel answered.

Every socket method a lab runs goes through :func:`perform`: it times the call
and catches the ``OSError`` family, so a failed call is a result (an errno
name) rather than an exception that escapes the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Outcome:
    value: Any
    exc: Exception | None
    started_ns: int
    duration_ns: int

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
