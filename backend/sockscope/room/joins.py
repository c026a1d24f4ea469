"""Joining the room: the join code, display names, and how often one address may join.

Pure: the caller passes the time, and nothing here touches the database or a lab.
"""

from __future__ import annotations

import collections
import hmac
import secrets
import unicodedata

from sockscope.engine.sockets import free_name as first_free

# No 0/O, 1/I/L: a code read off a projector from the back of the room is typed right.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NAME_MAX = 40
JOIN_WINDOW = 60.0  # seconds
REFUSALS_KEPT = 600.0  # seconds the instructor's page shows an address's refused joins


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(text: str) -> str:
    """A code as typed ("abc 234", "ABC-234") in the form it is shown."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def code_matches(typed: str, code: str) -> bool:
    return hmac.compare_digest(normal_code(typed).encode(), code.encode())


def clean_name(text: str) -> str:
    """A display name without control characters or surrounding space, at most NAME_MAX long."""
    kept = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    return " ".join(kept.split())[:NAME_MAX]


def free_name(wanted: str, taken: set[str], number: int) -> str:
    """``wanted`` if no one has it, else ``wanted 2``, ``wanted 3``...; "Participant N" if empty."""
    return first_free(taken, wanted or f"Participant {number}", sep=" ")


class JoinLimiter:
    """At most ``per_minute`` join attempts per client address in any 60 s (right or wrong)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._attempts: dict[str, collections.deque[float]] = {}

    def wait_for(self, client: str, now: float) -> float:
        """Seconds until ``client`` may try again (0: now); a try that may go ahead is counted."""
        attempts = self._attempts.setdefault(client, collections.deque())
        while attempts and now - attempts[0] >= JOIN_WINDOW:
            attempts.popleft()
        if len(attempts) >= self.per_minute:
            return JOIN_WINDOW - (now - attempts[0])
        attempts.append(now)
        if len(self._attempts) > 10_000:  # forget addresses that stopped trying
            for key in [k for k, v in self._attempts.items() if not v][:5000]:
                del self._attempts[key]
        return 0.0


class Refusals:
    """Joins the limits refused, per address, for REFUSALS_KEPT seconds after the newest: what
    tells an instructor that the room shares one address (a NAT, Docker Desktop)."""

    def __init__(self) -> None:
        self._by_address: dict[str, tuple[int, float, str]] = {}  # count, newest, which limit

    def note(self, client: str, why: str, now: float) -> None:
        count, newest, _ = self._by_address.get(client, (0, now, why))
        if now - newest >= REFUSALS_KEPT:
            count = 0
        self._by_address[client] = (count + 1, now, why)
        if len(self._by_address) > 1000:  # a scan of many addresses: keep the newest half
            for key in sorted(self._by_address, key=lambda k: self._by_address[k][1])[:500]:
                del self._by_address[key]

    def recent(self, now: float) -> list[tuple[str, int, str, float]]:
        """(address, refused, limit, seconds since the newest), the most refused first."""
        kept = [
            (address, count, why, now - newest)
            for address, (count, newest, why) in self._by_address.items()
            if now - newest < REFUSALS_KEPT
        ]
        return sorted(kept, key=lambda r: (-r[1], r[0]))

    def forget(self) -> None:
        """The instructor changed the limits: what they refused before is old news."""
        self._by_address.clear()
