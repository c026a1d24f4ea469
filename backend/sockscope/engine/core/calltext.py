"""How a call reads in the Python it amounts to: errno names, error text, addresses."""

from __future__ import annotations

import errno
from typing import Any


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
