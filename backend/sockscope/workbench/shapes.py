"""Three server shapes serving the same clients: a thread per connection, a process
per connection, and one select() loop (the HOWTO's three ways to write the main loop).

Each run starts a real server on 127.0.0.1 (port 0), connects N clients that each
wait ``think_ms`` before sending their request, one line (slow clients: the server must
hold N connections open at once), and measures how long it takes to serve them all.

The worker and blocking figures are measured, not declared: every socket call the
server makes on a client's connection is timed and tagged with the thread (or, in a
forked child, the process) that made it; a forked child sends its timings back through
a pipe. A worker is a thread or process that made such calls, alive from its first to
its last; a call "waited" when it took longer than :data:`WAITED_S` (on loopback a call
with something to do returns in microseconds). The peaks are how many overlapped.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import select
import socket
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sockscope.contract.workbench import MAX_CLIENTS, Shape, ShapeReport

T = TypeVar("T")
WAITED_S = 0.005  # a server call that took longer than this waited for its client

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
    # A variant of the select() server that calls recv() on each connection as soon as it
    # is accepted, before select() said it is readable: every client then waits in turn.
    select_reads_unready: bool = False

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
    peak_workers: int  # threads or processes that served connections, at once (measured)
    peak_blocked: int  # server recv() calls that waited for their client, at once
    samples: tuple[tuple[float, int, int], ...]  # (seconds, workers, blocked)


Call = tuple[str, str, float, float]  # (worker, op, start, end): monotonic seconds


@dataclass(slots=True)
class _Calls:
    """Every server call on a client connection, timed, with the worker that made it."""

    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, op: str, fn: Callable[[], T], who: str | None = None) -> T:
        worker = who or f"thread {threading.get_ident()}"
        start = time.monotonic()
        try:
            return fn()
        finally:
            with self.lock:
                self.calls.append((worker, op, start, time.monotonic()))


REQUEST_END = b"\n"


def answer(conn: socket.socket, calls: _Calls, who: str | None = None) -> None:
    """A blocking worker's job: read one request line, send it back in capitals."""
    request = b""
    while not request.endswith(REQUEST_END):
        chunk = calls.timed("recv", lambda: conn.recv(1024), who)
        if not chunk:
            return
        request += chunk
    calls.timed("sendall", lambda: conn.sendall(request.upper()), who)


def _thread_server(listener: socket.socket, n: int, calls: _Calls, stop: threading.Event,
                   config: ShapesConfig) -> None:  # fmt: skip
    def handle(conn: socket.socket) -> None:
        with conn:
            answer(conn, calls)

    for _ in range(n):
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _child(conn: socket.socket, report_w: int) -> None:
    """A forked child's life: serve one connection, write its timings, leave at once."""
    code = 0
    try:
        # Keep only this connection and the report pipe: a copy of every other descriptor
        # of the server (other labs' sockets too) would hold them open meanwhile.
        keep = sorted((conn.fileno(), report_w))
        os.closerange(3, keep[0])
        os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[1] + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        mine = _Calls()
        answer(conn, mine, f"process {os.getpid()}")
        lines = "".join(f"{w}|{op}|{a!r}|{b!r}\n" for w, op, a, b in mine.calls)
        os.write(report_w, lines.encode())
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _process_server(listener: socket.socket, n: int, calls: _Calls, stop: threading.Event,
                    config: ShapesConfig) -> None:  # fmt: skip
    children: set[int] = set()
    report_r, report_w = os.pipe()  # the children's timings, one line per call
    reports = bytearray()

    def reap(block: bool) -> None:
        for pid in list(children):
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            if done:
                children.discard(pid)

    def collect() -> None:
        while select.select([report_r], [], [], 0)[0]:
            chunk = os.read(report_r, 65536)
            if not chunk:
                return
            reports.extend(chunk)

    accepted = 0
    listener.settimeout(0.02)
    try:
        while accepted < n or children:
            if stop.is_set():
                break
            collect()
            if accepted < n:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    reap(False)
                    continue
                accepted += 1
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # fork, threaded process
                    pid = os.fork()
                if pid == 0:  # the child: serve this one connection, then leave at once
                    _child(conn, report_w)
                conn.close()
                children.add(pid)
            reap(False)
            if accepted >= n and children:
                time.sleep(0.005)
        for pid in children:  # stopped early: do not leave zombies
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        collect()
    finally:
        os.close(report_w)
        os.close(report_r)
    with calls.lock:
        for line in reports.decode().splitlines():
            worker, op, a, b = line.split("|")
            calls.calls.append((worker, op, float(a), float(b)))


def _first_read(conn: socket.socket, calls: _Calls, config: ShapesConfig) -> bytes:
    """A new connection, made non-blocking; in the variant, read at once (and wait)."""
    if config.select_reads_unready:  # recv() before select() said readable: it blocks
        conn.setblocking(True)
        return calls.timed("recv", functools.partial(conn.recv, 1024))
    conn.setblocking(False)
    return b""


def _select_server(listener: socket.socket, n: int, calls: _Calls, stop: threading.Event,
                   config: ShapesConfig) -> None:  # fmt: skip
    """One thread, non-blocking sockets: recv() only on what select() reported readable,
    a request kept until its line is whole, the reply sent as the socket takes it."""
    listener.setblocking(False)
    requests: dict[socket.socket, bytes] = {}
    replies: dict[socket.socket, bytes] = {}
    served = 0

    def done(sock: socket.socket) -> None:
        nonlocal served
        requests.pop(sock, None)
        replies.pop(sock, None)
        sock.close()
        served += 1

    try:
        while served < n and not stop.is_set():
            open_ = len(requests) + len(replies) + served
            readers = [*requests] + ([listener] if open_ < n else [])
            readable, writable, _ = select.select(readers, [*replies], [], 0.05)
            for sock in readable:
                if sock is listener:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        continue
                    requests[conn] = _first_read(conn, calls, config)
                    if requests[conn].endswith(REQUEST_END):
                        replies[conn] = requests.pop(conn).upper()
                    continue
                try:
                    chunk = calls.timed("recv", functools.partial(sock.recv, 1024))
                except BlockingIOError:
                    continue
                if not chunk:
                    done(sock)
                    continue
                requests[sock] += chunk
                if requests[sock].endswith(REQUEST_END):
                    replies[sock] = requests.pop(sock).upper()
            for sock in writable:
                reply = replies[sock]
                try:
                    sent = calls.timed("send", functools.partial(sock.send, reply))
                except BlockingIOError:
                    continue
                replies[sock] = reply[sent:]
                if not replies[sock]:
                    done(sock)
    finally:
        for conn in [*requests, *replies]:
            conn.close()


SERVERS: dict[
    Shape, Callable[[socket.socket, int, _Calls, threading.Event, ShapesConfig], None]
] = {
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
    calls = _Calls()
    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(MAX_CLIENTS)
    address = listener.getsockname()
    server = threading.Thread(
        target=SERVERS[shape], args=(listener, config.clients, calls, stop, config), daemon=True
    )
    replies: list[bool] = []
    start = time.monotonic()

    def client(i: int) -> None:
        with socket.create_connection(address, timeout=config.deadline_s) as sock:
            time.sleep(config.think_ms / 1000)  # the slow client: it thinks before it asks
            request = f"request {i}".encode() + REQUEST_END
            sock.sendall(request)
            got = b""
            while len(got) < len(request):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                got += chunk
            replies.append(got == request.upper())

    server.start()
    clients = [
        threading.Thread(target=client, args=(i,), daemon=True) for i in range(config.clients)
    ]
    try:
        for each in clients:
            each.start()
        for each in clients:
            each.join(max(0.0, deadline - time.monotonic()))
            if each.is_alive():
                raise TimeoutError(f"{LABELS[shape]}: clients not served in {config.deadline_s} s")
        seconds = time.monotonic() - start
        server.join(max(0.1, deadline - time.monotonic()))
    finally:
        stop.set()
        listener.close()
    with calls.lock:
        recorded = list(calls.calls)
    workers, waits = _intervals(recorded)
    samples = [
        (round(t - start, 3), _alive(workers, t), _alive(waits, t))
        for t in _grid(start, start + seconds, 0.01)
    ]
    return ShapeResult(
        shape=shape,
        clients=config.clients,
        served=sum(replies),
        seconds=seconds,
        peak_workers=_peak(workers),
        peak_blocked=_peak(waits),
        samples=tuple(samples[:: max(1, len(samples) // 100)]),
    )


def _intervals(calls: list[Call]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Each worker's life (its first call's start to its last call's end), and each call
    that waited."""
    life: dict[str, tuple[float, float]] = {}
    for worker, _, a, b in calls:
        was = life.get(worker, (a, b))
        life[worker] = (min(was[0], a), max(was[1], b))
    waits = [(a, b) for _, op, a, b in calls if op == "recv" and b - a > WAITED_S]
    return list(life.values()), waits


def _peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap at one moment."""
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def _alive(intervals: list[tuple[float, float]], t: float) -> int:
    return sum(1 for a, b in intervals if a <= t <= b)


def _grid(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((end - start) / step) + 1)]


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
