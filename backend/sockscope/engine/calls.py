"""Perform one socket call for real and describe what the kernel answered.

Every socket method a lab runs goes through :func:`perform`: it times the call
and catches the ``OSError`` family, so a failed call is a result (an errno
name) rather than an exception that escapes the loop.
"""

from __future__ import annotations

import errno
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


def errno_name(exc: BaseException | None) -> str | None:
    """EAGAIN, ECONNREFUSED, ...; "timeout" for a settimeout() expiry (it has no errno)."""
    if exc is None:
        return None
    number = getattr(exc, "errno", None)
    if isinstance(number, int):
        return errno.errorcode.get(number, f"E{number}")
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


def error_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    number = getattr(exc, "errno", None)
    name = errno_name(exc)
    if isinstance(number, int):
        return f"{type(exc).__name__}: [Errno {number}] {name}: {exc.strerror}"  # type: ignore[attr-defined]
    return f"{type(exc).__name__}: {exc}"


def address_text(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"({address[0]!r}, {address[1]})"
    return repr(address)
