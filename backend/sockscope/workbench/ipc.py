"""Throughput of one transfer over three local channels: loopback TCP, a Unix socket, a pipe.

The HOWTO's "IPC" section sends fast IPC to pipes and says loopback TCP takes a
shortcut; this measures both. Every channel gets the same transfer: one
thread writes ``total`` bytes, ``chunk`` bytes per call, and another thread in
the same process reads until it has them all. Both sides call ``os.write`` and
``os.readv`` on the raw descriptors, so the Python code per call is identical
and only the kernel path differs. The reader checks the byte count, and its
first and last reads against the pattern sent (see ``PERIOD``).

Theory of operation, and why it cannot hang: each thread owns one end and
closes it itself, in a ``finally``. Both check the deadline between calls. The
first to fail (deadline, error) closes its end, which wakes the other out of
any blocked call: a blocked reader gets EOF, a blocked writer EPIPE or
ECONNRESET. Neither can wait on the other forever, because a writer blocks only
while the buffer is full and a reader only while it is empty. The main thread
waits for both with a timeout all the same.
"""

from __future__ import annotations

import io
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sockscope.contract.workbench import Channel

CHANNELS: tuple[Channel, ...] = ("tcp", "unix", "pipe")
LABELS: dict[Channel, str] = {
    "tcp": "TCP over 127.0.0.1",
    "unix": "Unix socket",
    "pipe": "pipe",
}
KIB = 1024
MIB = 1024 * KIB
# A prime period never lines up with power-of-two chunks: a lost or repeated
# piece of the stream shifts the bytes the reader sees last.
PERIOD = 251
JOIN_GRACE_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class IpcConfig:
    """One transfer, and how often to repeat it.

    ``sndbuf`` and ``rcvbuf`` set SO_SNDBUF and SO_RCVBUF on both sockets of the
    socket channels (Linux doubles the value and has a floor); a pipe ignores them.
    Which one bites differs: on loopback TCP the receiver's buffer bounds each
    read (a sent segment is queued at the peer at once, freeing the sender's
    buffer); on a Unix stream socket the sender's does.
    ``deadline_s`` bounds a whole :func:`measure` or :func:`compare` call.
    """

    total: int = 32 * MIB
    chunk: int = 64 * KIB
    repeats: int = 3
    sndbuf: int | None = None
    rcvbuf: int | None = None
    deadline_s: float = 20.0
    # Both ends on one CPU: the comparison then measures the work the kernel does per
    # byte on each path. With two cores free, TCP's receive work can run on the other
    # core in parallel, and wall-clock throughput mostly measures that overlap.
    one_cpu: bool = True

    def __post_init__(self) -> None:
        for name in ("total", "chunk", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"IpcConfig.{name} must be at least 1")
        for name in ("sndbuf", "rcvbuf"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"IpcConfig.{name} must be positive or None")
        if not self.deadline_s > 0:
            raise ValueError("IpcConfig.deadline_s must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class IpcResult:
    """One channel's runs.

    ``runs_s`` is each run's time from the first write to the last byte read;
    ``median_mb_s`` the median throughput in MB/s (10**6 bytes); ``syscalls``
    the write and read calls one transfer made (the median over the runs).
    """

    channel: Channel
    bytes: int
    runs_s: tuple[float, ...]
    median_mb_s: float
    syscalls: int


class _End(Protocol):
    def fileno(self) -> int: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class _Side:
    """What one thread did; read by the main thread only after joining it."""

    calls: int = 0
    moved: int = 0
    started: float = 0.0
    finished: float = 0.0
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)


def measure(channel: Channel, config: IpcConfig | None = None) -> IpcResult:
    """Time ``config.repeats`` transfers over one channel.

    Raises:
        TimeoutError: the deadline passed before the runs were done.
        ConnectionError: one side of the channel closed early.
        OSError: the channel could not be set up.
    """
    config = config or IpcConfig()
    deadline = time.monotonic() + config.deadline_s
    runs = [_run_once(channel, config, deadline, i) for i in range(config.repeats)]
    return _result(channel, config, runs)


def compare(config: IpcConfig | None = None) -> list[IpcResult]:
    """Time every channel, runs interleaved (tcp, unix, pipe, tcp, ...) so noise hits all alike.

    Raises:
        The same as :func:`measure`.
    """
    config = config or IpcConfig()
    deadline = time.monotonic() + config.deadline_s
    runs: dict[Channel, list[tuple[float, int]]] = {channel: [] for channel in CHANNELS}
    for i in range(config.repeats):
        for channel in CHANNELS:
            runs[channel].append(_run_once(channel, config, deadline, i))
    return [_result(channel, config, runs[channel]) for channel in CHANNELS]


def verdict(results: list[IpcResult]) -> str:
    """One sentence: each channel's throughput as a multiple of loopback TCP's (else the first's).

    Raises:
        ValueError: no results.
    """
    if not results:
        raise ValueError("verdict() needs at least one result")
    base = next((r for r in results if r.channel == "tcp"), results[0])
    others = [r for r in results if r is not base]
    if not others:
        return f"Only {LABELS[base.channel]} was measured: {base.median_mb_s:.0f} MB/s."
    ratios = [f"{LABELS[r.channel]} {r.median_mb_s / base.median_mb_s:.1f}x" for r in others]
    listed = ", ".join(ratios[:-1]) + f" and {ratios[-1]}" if len(ratios) > 1 else ratios[0]
    return f"{listed[0].upper()}{listed[1:]} the throughput of {LABELS[base.channel]}."


def _result(channel: Channel, config: IpcConfig, runs: list[tuple[float, int]]) -> IpcResult:
    seconds = tuple(elapsed for elapsed, _ in runs)
    return IpcResult(
        channel=channel,
        bytes=config.total,
        runs_s=seconds,
        median_mb_s=statistics.median(config.total / s / 1e6 for s in seconds),
        syscalls=statistics.median_low(calls for _, calls in runs),
    )


def _run_once(channel: Channel, config: IpcConfig, deadline: float, run: int) -> tuple[float, int]:
    """One transfer: (seconds from first write to last byte read, write + read calls)."""
    what = f"{LABELS[channel]}, run {run + 1} of {config.repeats}"
    writer, reader = _Side(), _Side()
    write_end, read_end = _open(channel, config, deadline, what)
    unowned = [read_end, write_end]  # a thread that starts owns its end and closes it
    try:
        threads = [
            _thread(f"ipc-{channel}-reader", reader, read_end, _read_all, config, deadline, what),
            _thread(f"ipc-{channel}-writer", writer, write_end, _write_all, config, deadline, what),
        ]
        threads[0].start()
        unowned.remove(read_end)
        # The clock starts at the first write: let the reader get to its first read.
        reader.ready.wait(max(0.0, deadline - time.monotonic()))
        threads[1].start()
        unowned.remove(write_end)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + JOIN_GRACE_S)
            if thread.is_alive():
                # Not closing its end under it: it closes the end itself when its call returns.
                raise TimeoutError(f"{what}: thread {thread.name} still running past the deadline")
    finally:
        for end in unowned:
            end.close()
    _raise_first(writer, reader)
    if reader.moved != config.total or writer.moved != config.total:
        raise ConnectionError(
            f"{what}: wrote {writer.moved} and read {reader.moved} of {config.total} bytes"
        )
    return reader.finished - writer.started, writer.calls + reader.calls


def _raise_first(writer: _Side, reader: _Side) -> None:
    """Raise the cause, not its echo: a deadline first, then any error a close did not cause."""
    errors = [e for e in (writer.error, reader.error) if e is not None]
    if not errors:
        return
    errors.sort(key=lambda e: (not isinstance(e, TimeoutError), isinstance(e, ConnectionError)))
    first, *rest = errors
    for other in rest:
        first.add_note(f"the other side meanwhile failed with {other!r}")
    raise first


def _thread(
    name: str,
    side: _Side,
    end: _End,
    loop: Callable[[int, IpcConfig, float, str, _Side], None],
    config: IpcConfig,
    deadline: float,
    what: str,
) -> threading.Thread:
    def run() -> None:
        try:
            if config.one_cpu:
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # this thread only
            loop(end.fileno(), config, deadline, what, side)
        except BaseException as exc:  # the safety net: the caller re-raises it
            side.error = exc
        finally:
            side.ready.set()
            end.close()

    return threading.Thread(target=run, name=name, daemon=True)


def _write_all(fd: int, config: IpcConfig, deadline: float, what: str, side: _Side) -> None:
    view = memoryview(_pattern(config.chunk))
    side.started = time.perf_counter()
    while side.moved < config.total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: deadline passed with {side.moved} bytes written")
        start = side.moved % PERIOD
        want = min(config.chunk, config.total - side.moved)
        side.moved += os.write(fd, view[start : start + want])
        side.calls += 1


def _read_all(fd: int, config: IpcConfig, deadline: float, what: str, side: _Side) -> None:
    buffer = bytearray(config.chunk)
    view = memoryview(buffer)
    expected = _pattern(config.chunk)
    side.ready.set()
    got = 0
    while side.moved < config.total:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what}: deadline passed with {side.moved} of {config.total} bytes read"
            )
        want = min(config.chunk, config.total - side.moved)
        got = os.readv(fd, [view[:want]])
        side.calls += 1
        if got == 0:
            raise ConnectionError(
                f"{what}: writer closed after {side.moved} of {config.total} bytes"
            )
        if side.moved == 0:
            _check(view[:got], expected, 0, what)
        side.moved += got
    side.finished = time.perf_counter()
    _check(view[:got], expected, side.moved - got, what)


def _pattern(chunk: int) -> bytes:
    """Enough of the repeating pattern that any ``chunk`` bytes of it are one slice."""
    return bytes(range(PERIOD)) * (chunk // PERIOD + 2)


def _check(data: memoryview, expected: bytes, offset: int, what: str) -> None:
    start = offset % PERIOD
    if data != expected[start : start + len(data)]:
        raise RuntimeError(f"{what}: the {len(data)} bytes at offset {offset} are not those sent")


def _open(channel: Channel, config: IpcConfig, deadline: float, what: str) -> tuple[_End, _End]:
    """A connected (write end, read end)."""
    if channel == "pipe":
        read_fd, write_fd = os.pipe()
        return io.FileIO(write_fd, "wb"), io.FileIO(read_fd, "rb")
    if channel == "unix":
        pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _set_buffers(pair, config)
        except BaseException:
            for sock in pair:
                sock.close()
            raise
        return pair
    try:
        return _tcp_pair(config, deadline)
    except TimeoutError as exc:
        raise TimeoutError(f"{what}: deadline passed while connecting") from exc


def _tcp_pair(config: IpcConfig, deadline: float) -> tuple[_End, _End]:
    """(client, accepted); buffers are set before connect/listen so the window scale fits."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.settimeout(max(0.001, deadline - time.monotonic()))
        _set_buffers([listener], config)  # the accepted socket inherits them
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        accepted: socket.socket | None = None
        try:
            _set_buffers([client], config)
            client.settimeout(max(0.001, deadline - time.monotonic()))
            client.connect(listener.getsockname())
            accepted, _ = listener.accept()
            # os.write/os.readv need blocking descriptors; a timeout makes them non-blocking.
            client.setblocking(True)
            accepted.setblocking(True)
        except BaseException:
            client.close()
            if accepted is not None:
                accepted.close()
            raise
    return client, accepted


def _set_buffers(socks: Iterable[socket.socket], config: IpcConfig) -> None:
    for sock in socks:
        if config.sndbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.sndbuf)
        if config.rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, config.rcvbuf)
