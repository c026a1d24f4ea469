"""Shared pieces: deadlines, medians, the result table, and a lab driven in-process."""

from __future__ import annotations

import math
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.lab import LabEngine
from sockscope.engine.tickets import CommandResult
from sockscope.events import CallEvent, Event

T = TypeVar("T")

MiB = 1 << 20
RUNS = 5  # every timed measurement is repeated; the table shows medians


class BenchTimeout(Exception):
    """A deadline passed: the measurement it guarded is not valid."""


class Deadline:
    def __init__(self, seconds: float, what: str) -> None:
        self.at = time.monotonic() + seconds
        self.what = what
        self.seconds = seconds

    def expired(self) -> bool:
        return time.monotonic() > self.at

    def check(self) -> None:
        if self.expired():
            raise BenchTimeout(f"timed out after {self.seconds:g} s: {self.what}")


def wait_until(
    check: Callable[[], T | None], seconds: float, what: str, interval: float = 0.005
) -> T:
    """Poll ``check`` until it returns something truthy; BenchTimeout after ``seconds``."""
    deadline = Deadline(seconds, what)
    while True:
        value = check()
        if value:
            return value
        deadline.check()
        time.sleep(interval)


def ended(proc: subprocess.Popen[Any], seconds: float) -> None:
    """Wait up to ``seconds`` for ``proc`` to exit; kill it if it has not (and reap it)."""
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the final table: a median, its same-run baseline and their ratio."""

    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    runs: tuple[float, ...] = ()

    @property
    def ratio(self) -> float | None:
        return None if self.baseline is None else ratio(self.value, self.baseline)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(rows: list[Row], checks: list[Check]) -> None:
    header = ("bench", "metric", "n", "median", "unit", "baseline median (same run)", "ratio")
    lines = [
        (
            r.bench,
            r.metric,
            str(len(r.runs)) if r.runs else "-",
            fmt(r.value),
            r.unit,
            "" if r.baseline is None else f"{fmt(r.baseline)} {r.baseline_name}",
            "" if r.ratio is None else f"{r.ratio:.2f}x",
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *lines, strict=True)]
    right = {2, 3, 6}
    print()
    for n, line in enumerate([header, tuple("-" * w for w in widths), *lines]):
        cells = [
            c.rjust(w) if i in right and n != 0 else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    print("  n: runs behind the median (-: derived from other medians, or a single measurement)")
    print()
    for c in checks:
        print(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")


def event_cap(policy: LabPolicy) -> str:
    """The policy's events-per-second throttle, if this engine has one (it caps the rates)."""
    cap = getattr(policy, "max_events_per_second", None)
    return f"lab event cap {cap:,}/s" if cap else "no lab event cap"


def runs_text(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    return " ".join(f"{v * scale:.{digits}f}" for v in values)


class EngineLab:
    """A started LabEngine, driven the way the API drives it (as tests/engine/conftest.py)."""

    def __init__(self, policy: LabPolicy) -> None:
        self.policy = policy
        self.engine = LabEngine(secrets.token_hex(8), policy)
        self.engine.start()

    def run(self, command: dict[str, Any], timeout: float = 10.0) -> CommandResult:
        ticket = self.engine.submit(parse_command(command, self.policy))
        return ticket.future.result(timeout)

    def ok(self, command: dict[str, Any], timeout: float = 10.0) -> CommandResult:
        result = self.run(command, timeout)
        if not result.ok:
            raise RuntimeError(f"{command['op']} failed: {result.error}")
        return result

    def socket_roles(self) -> dict[str, str]:
        snapshot = self.engine.snapshot().result(5)
        return {s["name"]: s["role"] for s in snapshot["sockets"]}

    def discard_pair(self, bufsize: int) -> None:
        """srv (auto-accept; conn auto-recv "discard" with ``bufsize``) and cli, non-blocking."""
        self.ok(
            {
                "op": "socket",
                "name": "srv",
                "options": {
                    "blocking": False,
                    "auto_accept": True,
                    "auto_recv": "discard",
                    "bufsize": bufsize,
                },
            }
        )
        bound = self.ok({"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
        port = bound.result["address"][1]
        self.ok({"op": "listen", "socket": "srv"})
        self.ok({"op": "socket", "name": "cli", "options": {"blocking": False}})
        self.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})  # EINPROGRESS

        def connected() -> bool:
            roles = self.socket_roles()
            return roles.get("cli") == "connected" and roles.get("conn") == "connected"

        wait_until(connected, 5, "cli connected and conn accepted", interval=0.01)

    def close(self) -> None:
        self.engine.close("bench over")


class LogReader:
    """Follows an engine's log from a cursor (the way a viewer does), counting gaps."""

    def __init__(self, engine: LabEngine, after: int) -> None:
        self.log = engine.log
        self.cursor = after
        self.dropped = 0

    def new(self) -> Iterator[Event]:
        while True:
            page = self.log.after(self.cursor, 10_000)
            if page.gap is not None:
                self.dropped += page.gap[1] - page.gap[0] + 1
            if not page.events:
                return
            self.cursor = page.events[-1].seq
            yield from page.events


def received_to(event: Event, socket: str, offset: int) -> bool:
    """True for the recv() on ``socket`` that brings its stream to ``offset`` bytes."""
    return (
        isinstance(event, CallEvent)
        and event.socket == socket
        and event.op == "recv"
        and event.data is not None
        and event.data.offset + event.data.len >= offset
    )
