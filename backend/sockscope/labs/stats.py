"""Counters of the process, for GET /metrics (api/metrics.py turns them into Prometheus').

Plain numbers, no library: the labs layer counts, the web layer exposes. Commands are
counted where every path runs one (labs/bridge.run_command: REST, websocket, lessons, the
room), with the time to their answer (a blocked call's answer is "blocked", at ``wait``).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

# Seconds: a command's answer is quick (a non-blocking call), or waits for a blocking one.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class CommandStats:
    """Commands answered, by status class, and a latency histogram (cumulative on export)."""

    counts: dict[str, int] = field(default_factory=dict)  # "2xx", "4xx", "5xx", "blocked"
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, seconds: float, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.total_seconds += seconds

    def snapshot(self) -> tuple[dict[str, int], list[int], float]:
        with self._lock:
            return dict(self.counts), list(self.buckets), self.total_seconds


COMMANDS = CommandStats()


def outcome_of(status: int, blocked: bool) -> str:
    return "blocked" if blocked else f"{status // 100}xx"
