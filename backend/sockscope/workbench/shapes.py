"""Three server shapes serving the same clients: a thread per connection, a process
per connection, and one select() loop (the HOWTO's three ways to write the main loop).

Each run starts a real server on 127.0.0.1 (port 0), connects N clients that each
wait ``think_ms`` before sending their request (slow clients: the server must hold
N connections open at once), and measures how long it takes to serve them all and
how many workers (threads or processes) were alive and blocked in recv() meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from sockscope.contract.workbench import MAX_CLIENTS, Shape, ShapeReport

SHAPES: tuple[Shape, ...] = ("thread", "process", "select")
LABELS: dict[Shape, str] = {
    "thread": "a thread per connection",
    "process": "a process per connection",
    "select": "one select() loop",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapesConfig:
    clients: int = 8
    think_ms: int = 300  # each client waits this long before it sends its request
    deadline_s: float = 20.0

    def __post_init__(self) -> None:
        if not 1 <= self.clients <= MAX_CLIENTS:
            raise ValueError(f"clients: 1 to {MAX_CLIENTS}, got {self.clients}")
        if not 0 <= self.think_ms <= 5000:
            raise ValueError(f"think_ms: 0 to 5000, got {self.think_ms}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapeResult:
    shape: Shape
    clients: int
    served: int  # clients that got the right reply
    seconds: float  # from the first connect to the last reply
    peak_workers: int  # threads or processes alive at once (the select loop: 1)
    peak_blocked: int  # workers blocked in recv() at once
    samples: tuple[tuple[float, int, int], ...]  # (seconds, workers, blocked)


@dataclass(slots=True)
class _Gauge:
    """What the server is doing right now, read by the sampler."""

    workers: int = 0
    blocked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, workers: int = 0, blocked: int = 0) -> None:
        with self.lock:
            self.workers += workers
            self.blocked += blocked


def answer(conn: socket.socket, gauge: _Gauge | None) -> None:
    if gauge:
        gauge.add(blocked=1)
    try:
        request = conn.recv(1024)
    finally:
        if gauge:
            gauge.add(blocked=-1)
    conn.sendall(request.upper())


def _thread_server(listener: socket.socket, n: int, gauge: _Gauge, stop: threading.Event) -> None:
    def handle(conn: socket.socket) -> None:
        try:
            with conn:
                answer(conn, gauge)
        finally:
            gauge.add(workers=-1)

    for _ in range(n):
        conn, _ = listener.accept()
        gauge.add(workers=1)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _process_server(listener: socket.socket, n: int, gauge: _Gauge, stop: threading.Event) -> None:
    children: set[int] = set()

    def reap(block: bool) -> None:
        for pid in list(children):
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            if done:
                children.discard(pid)
                gauge.add(workers=-1, blocked=-1)

    accepted = 0
    listener.settimeout(0.02)
    while accepted < n or children:
        if stop.is_set():
            break
        if accepted < n:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                reap(False)
                continue
            accepted += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process
                pid = os.fork()
            if pid == 0:  # the child: serve this one connection, then leave at once
                code = 0
                try:
                    # Keep only this connection: a copy of every other descriptor of the
                    # server (other labs' sockets too) would hold them open meanwhile.
                    keep = conn.fileno()
                    os.closerange(3, keep)
                    os.closerange(keep + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
                    answer(conn, None)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            conn.close()
            children.add(pid)
            gauge.add(workers=1, blocked=1)  # the child waits in recv(), as we cannot see
        reap(False)
        if accepted >= n and children:
            time.sleep(0.005)
    for pid in children:  # stopped early: do not leave zombies
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _select_server(listener: socket.socket, n: int, gauge: _Gauge, stop: threading.Event) -> None:
    gauge.add(workers=1)
    listener.setblocking(False)
    conns: list[socket.socket] = []
    served = 0
    try:
        while served < n and not stop.is_set():
            readers = [listener, *conns] if len(conns) + served < n else conns
            ready, _, _ = select.select(readers, [], [], 0.05)
            for sock in ready:
                if sock is listener:
                    conn, _ = listener.accept()
                    conn.setblocking(True)  # a short reply; select() said the request is there
                    conns.append(conn)
                    continue
                request = sock.recv(1024)
                sock.sendall(request.upper())
                conns.remove(sock)
                sock.close()
                served += 1
    finally:
        for conn in conns:
            conn.close()
        gauge.add(workers=-1)


SERVERS: dict[Shape, Callable[[socket.socket, int, _Gauge, threading.Event], None]] = {
    "thread": _thread_server,
    "process": _process_server,
    "select": _select_server,
}


def run_shape(shape: Shape, config: ShapesConfig | None = None) -> ShapeResult:
    """Serve ``config.clients`` slow clients with one server shape; measure it.

    Raises:
        TimeoutError: the clients were not all served before the deadline.
    """
    config = config or ShapesConfig()
    deadline = time.monotonic() + config.deadline_s
    gauge = _Gauge()
    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(MAX_CLIENTS)
    address = listener.getsockname()
    server = threading.Thread(
        target=SERVERS[shape], args=(listener, config.clients, gauge, stop), daemon=True
    )
    replies: list[bool] = []
    samples: list[tuple[float, int, int]] = []
    start = time.monotonic()

    def client(i: int) -> None:
        with socket.create_connection(address, timeout=config.deadline_s) as sock:
            time.sleep(config.think_ms / 1000)  # the slow client: it thinks before it asks
            request = f"request {i}".encode()
            sock.sendall(request)
            replies.append(sock.recv(1024) == request.upper())

    server.start()
    clients = [
        threading.Thread(target=client, args=(i,), daemon=True) for i in range(config.clients)
    ]
    try:
        for each in clients:
            each.start()
        while any(c.is_alive() for c in clients):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{LABELS[shape]}: clients not served in {config.deadline_s} s")
            with gauge.lock:
                samples.append((time.monotonic() - start, gauge.workers, gauge.blocked))
            time.sleep(0.01)
        seconds = time.monotonic() - start
        server.join(max(0.1, deadline - time.monotonic()))
    finally:
        stop.set()
        listener.close()
    return ShapeResult(
        shape=shape,
        clients=config.clients,
        served=sum(replies),
        seconds=seconds,
        peak_workers=max((w for _, w, _ in samples), default=0),
        peak_blocked=max((b for _, _, b in samples), default=0),
        samples=tuple(samples[:: max(1, len(samples) // 100)]),
    )


def compare(config: ShapesConfig | None = None) -> list[ShapeResult]:
    return [run_shape(shape, config) for shape in SHAPES]


def report(result: ShapeResult) -> ShapeReport:
    """A result as the API and the lessons show it."""
    return {
        "shape": result.shape,
        "label": LABELS[result.shape],
        "clients": result.clients,
        "served": result.served,
        "seconds": round(result.seconds, 3),
        "peak_workers": result.peak_workers,
        "peak_blocked": result.peak_blocked,
        "samples": list(result.samples),
    }
