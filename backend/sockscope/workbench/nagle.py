"""Nagle's algorithm meets the delayed ACK: two small writes, then a read, on 127.0.0.1.

A client sends a request in two small send() calls and waits for a one-byte reply; the
server replies once it has the whole request. With Nagle's algorithm on (the default),
the second small segment waits until the first is acknowledged, and the server's kernel
delays that ACK (up to 40 ms on Linux, hoping to send it with a reply), which cannot
come before the second part: each round takes about the delayed-ACK time. TCP_NODELAY,
or one send() of the whole request, takes that wait away.

A fresh connection starts in the receiver's "quick ACK" mode, which hides the effect
for the first rounds: each run discards ``warmup`` rounds before it measures.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Literal

Way = Literal["nagle", "nodelay", "one_write"]
WAYS: tuple[Way, ...] = ("nagle", "nodelay", "one_write")
LABELS: dict[Way, str] = {
    "nagle": "two send() calls, Nagle on (the default)",
    "nodelay": "two send() calls, TCP_NODELAY",
    "one_write": "one send() of the whole request, Nagle on",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NagleConfig:
    rounds: int = 15  # measured rounds per way
    warmup: int = 3  # rounds discarded first (the quick-ACK start of a connection)
    size: int = 10  # bytes in each half of the request
    timeout_s: float = 2.0  # the longest any one read may wait

    def __post_init__(self) -> None:
        if not 1 <= self.rounds <= 100:
            raise ValueError(f"rounds: 1 to 100, got {self.rounds}")
        if not 0 <= self.warmup <= 20:
            raise ValueError(f"warmup: 0 to 20, got {self.warmup}")
        if not 1 <= self.size <= 1000:
            raise ValueError(f"size: 1 to 1000, got {self.size}")


@dataclass(frozen=True, slots=True, kw_only=True)
class NagleResult:
    way: Way
    rounds_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.rounds_ms)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the peer closed in the middle of a round")
        data += chunk
    return data


def run_way(way: Way, config: NagleConfig | None = None) -> NagleResult:
    """Measure one way of sending the request: ``config.rounds`` round trips, in ms."""
    config = config or NagleConfig()
    total = config.warmup + config.rounds
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=config.timeout_s)
        server, _ = listener.accept()
    server.settimeout(config.timeout_s)

    def serve() -> None:
        try:
            for _ in range(total):
                _read_exactly(server, 2 * config.size)
                server.sendall(b"!")
        except OSError:
            pass  # the client gave up: its own read says why

    worker = threading.Thread(target=serve, daemon=True)
    rounds: list[float] = []
    with client, server:
        if way == "nodelay":
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        worker.start()
        half = b"x" * config.size
        for _ in range(total):
            start = time.perf_counter()
            if way == "one_write":
                client.sendall(half + half)
            else:
                client.sendall(half)
                client.sendall(half)
            _read_exactly(client, 1)
            rounds.append((time.perf_counter() - start) * 1000)
        worker.join(config.timeout_s)
    return NagleResult(way=way, rounds_ms=tuple(rounds[config.warmup :]))


def compare(config: NagleConfig | None = None) -> list[NagleResult]:
    return [run_way(way, config) for way in WAYS]
