"""A link's schedule: what a direction holds, and when its bytes may go (latency, rate).

Pure arithmetic on the clock it is given; the relay that reads and sends is
:mod:`sockscope.engine.link`.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Faults:
    latency_ms: float = 0.0
    rate: int = 0  # bytes a second; 0: as fast as the kernel takes them
    slice: int = 0  # largest send(); 0: as much as is held
    jitter: int = 0  # slice varies by up to this many bytes
    stalled: bool = False
    closing: bool = False  # end this direction (FIN) once its queue is empty

    def public(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "rate": self.rate,
            "slice": self.slice,
            "jitter": self.jitter,
            "stalled": self.stalled,
            "closing": self.closing,
        }


@dataclass(slots=True)
class Flow:
    """One direction of the link: what was read, waiting to be written."""

    faults: Faults = field(default_factory=Faults)
    queue: collections.deque[list[Any]] = field(default_factory=collections.deque)
    held: int = 0
    eof: bool = False  # the source sent its FIN
    ended: bool = False  # we passed the FIN on
    tokens: float = 0.0
    stamp_ns: int = 0
    moved: int = 0  # bytes delivered, in total

    def due_ns(self) -> int | None:
        """When the head chunk may go, or None when nothing is held."""
        return self.queue[0][0] if self.queue else None


def refill(flow: Flow, now_ns: int) -> float:
    """The bytes ``flow`` may send now under its rate (a token bucket of 100 ms)."""
    rate = flow.faults.rate
    if not rate:
        return float("inf")
    flow.tokens = min(
        float(max(rate // 10, 1)), flow.tokens + (now_ns - flow.stamp_ns) * rate / 1e9
    )
    flow.stamp_ns = now_ns
    return flow.tokens


def sendable(flow: Flow, now_ns: int) -> bool:
    """Held bytes are due and the rate allows at least one."""
    due = flow.due_ns()
    return due is not None and due <= now_ns and refill(flow, now_ns) >= 1


def next_due_ns(flows: Iterable[Flow], now_ns: int) -> int | None:
    """The soonest moment held bytes become sendable (latency or rate), if any."""
    soonest: int | None = None
    for flow in flows:
        due = flow.due_ns()
        if due is None or flow.faults.stalled:
            continue
        if flow.faults.rate and refill(flow, now_ns) < 1:
            due = max(due, now_ns + int(1e9 / flow.faults.rate))
        due = max(due, now_ns)  # due already: select() must not sleep its full timeout
        if soonest is None or due < soonest:
            soonest = due
    return soonest
