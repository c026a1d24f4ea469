"""A lab-host process: labs run here, away from the web process (``--lab-hosts N``).

Theory of operation. One process cannot watch a descriptor numbered 1024 or above with
select(), and a room of a few hundred participants needs several thousand descriptors; one
GIL also serves every lab and every request. With ``lab_hosts`` > 0 the web process starts
that many lab hosts (:data:`COMMAND` with FD, a fresh interpreter started by
:mod:`subprocess`: nothing is forked from a process that has threads) and each lab is made
in the least loaded one. In a host a lab is the same :class:`LabEngine` as in the web
process, one thread with its own select() loop; the host adds two threads of its own:

* the main thread reads the web process's requests from the channel (one end of a
  socketpair, inherited as descriptor FD) and posts them to the labs: it never waits for a
  lab, so one busy lab does not hold the others' commands;
* the pump wakes every ``PUMP_EVERY`` s, or at once when a command's answer is ready or
  a request is answered, and sends one batch for every lab with something new: its events
  since its cursor (``engine.log.rows_after``: their rows, encoded here once, which the
  web process forwards to the lab page as they are, with the interned strings the rows
  name, each sent once), the news of its commands in flight (their new
  events, the call id once a call went to a worker thread, the answer), its sockets' states
  (``glance``), whether it closed. Answers are read before the events, so every event an
  answer or a reply refers to is in the same batch or an earlier one, and the web process
  applies a batch's events first.

The messages (:func:`send_message`: a 4-byte big-endian length, then a pickle; both ends
are this program, never anyone else's). Web to host, tuples named by their first item:
``("create", lab, rid, policy, t0, started_at)``, ``("submit", lab, tid, command)``,
``("together", lab, [tid...], [command...])`` (run back to back),
``("reject", lab, tid, op, error_class, field, message)``, ``("record", lab, rid, cls,
fields)``, ``("snapshot", lab, rid)``, ``("capture", lab, rid)`` (the wire lane's frames),
``("reset", lab, rid, reason)``, ``("budget", lab,
events_per_second)``, ``("close", lab, reason)`` and ``("stop",)``. Host to web:
``("ready", pid)`` once, then ``("batch", [LabNews...], [Reply...])``. The log's events
cross as their JSON text (encoded here, once); a command's own events, commands and results
cross as the frozen dataclasses and models they are; a refusal crosses as its class, field
and message.

bind() to port 0 takes the first free port of the lab range, under the engine's
``PORT_ZERO`` lock, which only excludes threads of one process: a host replaces it with a
:class:`PortZeroLock` on a file the pool made, so labs in two hosts never find the same port
(without it, a room-wide step got EADDRINUSE; tests/labs/test_lab_hosts.py shows it).

When the web process goes (the channel reaches its end), the host closes its labs and
exits: a host never outlives its server. What a host's death does on the other side is
told in :mod:`sockscope.labs.remote`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sockscope import heap
from sockscope.engine.core.errors import CommandError, LabClosed
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.handlers import sockets as socket_handlers
from sockscope.engine.lab import LabEngine
from sockscope.engine.tickets import CLOSED_ANSWER, CommandResult, Ticket
from sockscope.events import Event

log = logging.getLogger(__name__)

# Not ``-m``: run as __main__, this module's classes would pickle under that name.
COMMAND = ("-c", "import sys; from sockscope.labs.host import main; sys.exit(main())")
HEADER = struct.Struct("!I")
PUMP_EVERY = 0.02  # seconds between batches when nothing wakes the pump sooner
SCAN_EVERY = 0.25  # every lab is looked at this often, changed or not
HOST_LOG_MIN = 1024  # events a lab's log keeps in its host, at least (host_log_capacity)


def host_log_capacity(events_per_second: int, policy: LabPolicy) -> int:
    """The events a lab's log keeps in its host. The web process's mirror keeps the lab's
    history (``policy.event_log_capacity``); the only reader of the host's log is the pump,
    which takes what is new every 20 ms, so the host keeps half a second at the lab's share
    of events a second (never under 1,024): in a room (500 a second) about 1 MiB a lab
    rather than 20 MiB of event objects. A pump later than that sends a gap: the mirror
    says so, and viewers get a snapshot, as from any log that dropped what they missed."""
    return min(policy.event_log_capacity, max(HOST_LOG_MIN, events_per_second // 2))


# -- the channel ------------------------------------------------------------------------


def send_message(sock: socket.socket, lock: threading.Lock, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        sock.sendall(HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_message(sock: socket.socket) -> Any:
    """The next message; None when the other end closed the channel."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    data = _recv_exact(sock, size)
    if data is None:
        return None
    return pickle.loads(data)  # our own process at the other end


# -- what crosses from host to web -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketNews:
    tid: int
    events: tuple[Event, ...]
    handed_off: int | None  # the call id, the first time the call went to a worker
    result: CommandResult | None  # the answer, once
    kept: bool  # in the lab's history (an exported script replays it)


@dataclass(frozen=True, slots=True)
class LabNews:
    lab_id: str
    texts: tuple[str, ...]  # each new event's row text (engine.log.rows_after): made here, once
    strings: tuple[Any, ...]  # the log's interned values the web process has not had yet
    gap: tuple[int, int] | None
    glance: tuple[tuple[str, str], ...] | None
    history_truncated: bool
    tickets: tuple[TicketNews, ...]
    closed: bool


@dataclass(frozen=True, slots=True)
class Reply:
    rid: int
    ok: bool
    value: Any  # the result, or (error class, field, message) when not ok


def error_reply(rid: int, exc: BaseException) -> Reply:
    if isinstance(exc, CommandError):
        return Reply(rid, False, (type(exc), exc.field, exc.message))
    return Reply(rid, False, (LabClosed, None, f"the lab host failed: {exc}"))


# -- the host ----------------------------------------------------------------------------


@dataclass(eq=False)
class _Tracked:
    ticket: Ticket
    sent: int = 0
    handed: bool = False


@dataclass(eq=False)
class _Hosted:
    engine: LabEngine
    cursor: int = 0
    strings_sent: int = 1  # the interned values the web process has (0, none, it made)
    tickets: dict[int, _Tracked] = field(default_factory=dict)


class Host:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._labs: dict[str, _Hosted] = {}
        self._dirty: set[str] = set()
        self._replies: list[Reply] = []
        self._orphans: list[LabNews] = []  # answers for labs already gone
        self._wake = threading.Event()
        self._stopping = False
        self._pump = threading.Thread(target=self._pump_forever, name="lab-host-pump", daemon=True)

    def run(self) -> None:
        self._pump.start()
        send_message(self.sock, self._send_lock, ("ready", os.getpid()))
        try:
            while True:
                message = recv_message(self.sock)
                if message is None or message[0] == "stop":
                    break
                try:
                    self._handle(message)
                except Exception:
                    log.exception("lab host: %s failed", message[0])
        except OSError:
            pass  # the web process is gone
        finally:
            self._stop()

    def _stop(self) -> None:
        with self._lock:
            engines = [h.engine for h in self._labs.values()]
        closers = [
            threading.Thread(target=e.close, args=("server stopping", 3.0), daemon=True)
            for e in engines
        ]
        for each in closers:
            each.start()
        for each in closers:
            each.join(4.0)
        self._stopping = True
        self._wake.set()
        self._pump.join(2.0)

    # -- requests (main thread) ---------------------------------------------------------

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, lab_id = message[0], message[1]
        if kind == "create":
            self._create(lab_id, *message[2:])
            return
        with self._lock:
            hosted = self._labs.get(lab_id)
        if kind == "together":
            self._together(lab_id, hosted, message[2], message[3])
            return
        if kind in ("submit", "reject"):
            tid = message[2]
            try:
                if hosted is None:
                    raise LabClosed(None, "the lab closed")
                if kind == "submit":
                    ticket = hosted.engine.submit(message[3])
                else:
                    error_class, name, text = message[4:7]
                    ticket = hosted.engine.reject(message[3], error_class(name, text))
            except LabClosed:
                self._orphan(lab_id, tid)
                return
            with self._lock:
                hosted.tickets[tid] = _Tracked(ticket)
            ticket.future.add_done_callback(lambda _: self._wake.set())
            ticket.handed_off.add_done_callback(lambda _: self._wake.set())
        elif kind == "budget":
            if hosted is not None:
                engine = hosted.engine
                engine.set_event_budget(message[2])
                engine.log.capacity = host_log_capacity(message[2], engine.policy)
        elif kind == "close":
            if hosted is not None:
                threading.Thread(
                    target=hosted.engine.close, args=(message[2],), daemon=True
                ).start()
        elif kind in ("record", "snapshot", "reset", "capture"):
            rid = message[2]
            try:
                if hosted is None:
                    raise LabClosed(None, f"lab {lab_id} is closed")
                engine = hosted.engine
                if kind == "record":
                    future: Any = engine.record(message[3], **message[4])
                elif kind == "snapshot":
                    future = engine.snapshot()
                elif kind == "capture":
                    future = engine.capture_frames()
                else:
                    future = engine.reset(message[3])
            except Exception as exc:
                self._reply(error_reply(rid, exc))
                return
            future.add_done_callback(lambda f: self._answered(rid, f))

    def _create(self, lab_id: str, rid: int, policy: Any, t0: int, started_at: float) -> None:
        try:
            engine = LabEngine(lab_id, policy)
            engine.log.capacity = host_log_capacity(policy.max_events_per_second, policy)
            engine.log.keep_texts = False  # read once, by this host; the web process keeps them
        except LabClosed as exc:
            self._reply(error_reply(rid, exc))
            return
        engine.t0, engine.started_at = t0, started_at  # the web process's clock (monotonic)
        engine.log.add_listener(lambda: self._dirty.add(lab_id))
        with self._lock:
            self._labs[lab_id] = _Hosted(engine)
        engine.start()
        self._reply(Reply(rid, True, None))

    def _answered(self, rid: int, future: Any) -> None:
        exc = future.exception()
        self._reply(Reply(rid, True, future.result()) if exc is None else error_reply(rid, exc))

    def _reply(self, reply: Reply) -> None:
        with self._lock:
            self._replies.append(reply)
        self._wake.set()

    def _together(self, lab_id: str, hosted: Any, tids: list[int], commands: list[Any]) -> None:
        """Commands to run back to back in one turn of the lab (a lesson's together step)."""
        try:
            if hosted is None:
                raise LabClosed(None, "the lab closed")
            tickets = hosted.engine.submit_together(commands)
        except LabClosed:
            for tid in tids:
                self._orphan(lab_id, tid)
            return
        for tid, ticket in zip(tids, tickets, strict=True):
            with self._lock:
                hosted.tickets[tid] = _Tracked(ticket)
            ticket.future.add_done_callback(lambda _: self._wake.set())
            ticket.handed_off.add_done_callback(lambda _: self._wake.set())

    def _orphan(self, lab_id: str, tid: int) -> None:
        closed = CommandResult(False, None, dict(CLOSED_ANSWER), [], 410)
        news = TicketNews(tid, (), None, closed, False)
        with self._lock:
            self._orphans.append(LabNews(lab_id, (), (), None, None, False, (news,), False))
        self._wake.set()

    # -- the pump ---------------------------------------------------------------------------

    def _pump_forever(self) -> None:
        scanned = 0.0
        while True:
            stopping = self._stopping
            self._wake.wait(PUMP_EVERY)
            self._wake.clear()
            now = time.monotonic()
            everything = now - scanned >= SCAN_EVERY or stopping
            if everything:
                scanned = now
            try:
                self._pump_once(everything)
            except OSError:
                return  # the web process is gone
            except Exception:
                log.exception("lab host: a batch failed")
            if stopping:
                return

    def _pump_once(self, everything: bool) -> None:
        with self._lock:
            replies, self._replies = self._replies, []
            news, self._orphans = self._orphans, []
            dirty, self._dirty = self._dirty, set()
            labs = list(self._labs.items())
        for lab_id, hosted in labs:
            with self._lock:
                tracked = list(hosted.tickets.items())
            closed = hosted.engine.closed.is_set()
            if not (closed or tracked or everything or lab_id in dirty):
                continue
            item = self._news_of(lab_id, hosted, tracked, closed)
            if item is not None:
                news.append(item)
            if closed:
                with self._lock:
                    self._labs.pop(lab_id, None)
        if news or replies:
            send_message(self.sock, self._send_lock, ("batch", news, replies))

    def _news_of(
        self, lab_id: str, hosted: _Hosted, tracked: list[tuple[int, _Tracked]], closed: bool
    ) -> LabNews | None:
        engine = hosted.engine
        # Answers first, events next: an answer seen now had its events logged already.
        done = {tid for tid, t in tracked if t.ticket.future.done()}
        page = engine.log.rows_after(hosted.cursor, 1 << 30)
        hosted.cursor = page.last
        strings = tuple(engine.log.strings_from(hosted.strings_sent))  # all the rows name
        hosted.strings_sent += len(strings)
        tickets: list[TicketNews] = []
        for tid, t in tracked:
            fresh = t.ticket.events[t.sent :]
            t.sent += len(fresh)
            handed = None
            if t.ticket.blocked_call is not None and not t.handed:
                t.handed, handed = True, t.ticket.blocked_call
            result: CommandResult | None = None
            kept = False
            if tid in done:
                result = t.ticket.future.result()
                kept = t.ticket.in_history
            elif closed:  # never reached: the lab closed first
                result = CommandResult(False, None, dict(CLOSED_ANSWER), list(t.ticket.events), 410)
            if result is not None:
                with self._lock:
                    hosted.tickets.pop(tid, None)
            if fresh or handed is not None or result is not None:
                tickets.append(TicketNews(tid, tuple(fresh), handed, result, kept))
        if not (page.texts or tickets or closed):
            return None
        return LabNews(
            lab_id,
            tuple(page.texts),
            strings,
            page.gap,
            tuple(engine.glance()),
            engine.history_truncated,
            tuple(tickets),
            closed,
        )


class PortZeroLock:
    """The engine's PORT_ZERO lock, across processes: bind(0) takes the first free port of
    the lab range, found with a throwaway socket; two labs doing it at the same moment must
    not find the same one, and labs in two hosts are not threads of one process. A thread
    lock, then an flock on the file every host opened for itself (flock excludes other open
    files of it, not threads sharing this one)."""

    def __init__(self, path: str) -> None:
        self._thread = threading.Lock()
        self._file = open(path, "ab")  # noqa: SIM115 (held for the process's life)

    def __enter__(self) -> PortZeroLock:
        self._thread.acquire()
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._thread.release()


def main(argv: list[str] | None = None) -> int:
    """``FD [PORT_LOCK_FILE]``: the channel's descriptor, and the file the hosts of one
    server lock around bind(0)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.WARNING, format=f"lab-host {os.getpid()}: %(levelname)s %(name)s %(message)s"
    )
    if len(args) > 1:
        socket_handlers.share_port_zero(PortZeroLock(args[1]))
    sock = socket.socket(fileno=int(args[0]))
    heap.settle()
    with contextlib.suppress(KeyboardInterrupt):
        Host(sock).run()
    return 0
