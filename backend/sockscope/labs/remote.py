"""The web process's side of lab hosts: :class:`RemoteEngine` and :class:`HostPool`.

Theory of operation. A :class:`RemoteEngine` stands for a lab that runs in a lab host
(:mod:`sockscope.labs.host`) and offers what the web layer uses of a
:class:`~sockscope.engine.lab.LabEngine`: ``log`` (a mirror of the lab's event log, fed
by the host's batches, with the same capacity and gaps), ``submit``/``reject`` (a local
:class:`~sockscope.engine.tickets.Ticket` whose events, ``handed_off`` and ``future`` the
host's news fill in), ``record``/``snapshot``/``reset`` (futures answered by the host),
``close``, ``closed``, ``now_ns`` (the same monotonic clock: the web process chose
``t0``), ``glance``, ``history`` (the tickets of the commands the lab kept, in order) and
``history_truncated``. Only the host's reader thread (one per host) writes what the host
sends; readers on other threads read it as they read an in-process lab's.

A :class:`HostProcess` is one host: its process, its channel, the reader thread and its
labs. A :class:`HostPool` holds ``lab_hosts`` of them and puts each new lab in the one
with the fewest labs.

A host that dies (killed, crashed: its channel ends) takes only its own labs: each gets a
``lab_closed`` event in its mirrored log ("its lab host stopped", so its viewers are told
and their websocket closes), every command in flight is answered 410 "the lab closed",
every request fails with :class:`LabClosed`, and ``closed`` is set, so the registry reaps
the lab and a room participant's next visit makes a fresh one (the room's "made again"
notice). The pool starts a new host in the dead one's place for new labs.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sockscope.engine import packed
from sockscope.engine.capture import CaptureCopy
from sockscope.engine.core.commands import Command
from sockscope.engine.core.errors import CommandError, LabClosed
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.handlers.dispatch import HISTORY_MAX
from sockscope.engine.log import BoundedLog, Page, WirePage, encode, wire_page
from sockscope.engine.tickets import CLOSED_ANSWER, Kept, Ticket
from sockscope.events import Event, LabClosedEvent, from_wire
from sockscope.labs.host import COMMAND, LabNews, Reply, recv_message, send_message

log = logging.getLogger(__name__)

CREATE_WAIT = 30.0  # seconds a new lab waits for its host (a fresh host imports first)
STOP_WAIT = 5.0
KEPT_OBJECTS = 512  # events a mirror keeps as objects (the room's flags read the last 200)


class MirrorLog(BoundedLog[str]):
    """A lab's event log as the web process keeps it: each event's row text, as the host
    made it (engine.log.rows_after: once; the lab page is sent that text), and the interned
    strings the rows name, written in batches by the host's reader thread.

    A row is not parsed to be forwarded to the lab page. The object form (a viewer that did
    not ask for rows, the REST pages, the trace) is made of it when asked for: a row is its
    packed record again (packed.from_row), an event with no row is its object's text.
    Events as objects, for what reads them here (the room's flags, a lesson's checks), are
    made back the same way and the newest :data:`KEPT_OBJECTS` kept; a command's own events
    come with its answer as objects and are kept as they are. A text is some 60-300 bytes
    the garbage collector never walks, where the event it stands for is 5-10 objects
    (heap.py: that walk was the room of 300's p99).
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._objects: dict[int, Event] = {}
        self.strings = packed.Strings()  # the host's, as far as it sent them

    def extend(
        self, texts: tuple[str, ...], gap: tuple[int, int] | None, strings: tuple[Any, ...] = ()
    ) -> None:
        self.strings.values.extend(strings)  # before the rows that name them
        if not texts and gap is None:
            return
        with self._lock:
            if gap is not None:  # the host's log dropped them before they were sent
                self._events.clear()
                self._first_seq = gap[1] + 1
            self._events.extend(texts)
            listeners = self._trimmed()
        for notify in listeners:
            notify()

    def add(self, make: Callable[[int], Event]) -> None:
        """One event made here (the host died: ``lab_closed``), numbered next under the
        log's lock, so no batch of the reader thread's can take its number."""
        with self._lock:
            event = make(self._first_seq + len(self._events))
            self._objects[event.seq] = event
            self._events.append(encode(event))
            listeners = self._trimmed()
        for notify in listeners:
            notify()

    def keep(self, events: tuple[Event, ...] | list[Event]) -> None:
        """Events the host sent as objects too (a command's): no need to decode them."""
        with self._lock:
            for event in events:
                self._objects[event.seq] = event
            self._bound_objects()

    def _bound_objects(self) -> None:
        excess = len(self._objects) - KEPT_OBJECTS
        if excess > 0:
            for seq in sorted(self._objects)[:excess]:
                del self._objects[seq]

    def after(self, seq: int, limit: int = 1000) -> Page:
        texts, first, gap, last = self._slice(seq, limit)
        with self._lock:
            known = [self._objects.get(first + i) for i in range(len(texts))]
        events = [
            each if each is not None else self._object(text, first + i)
            for i, (each, text) in enumerate(zip(known, texts, strict=True))
        ]
        made = [e for e, k in zip(events, known, strict=True) if k is None]
        if made:
            self.keep(made)
        return Page(events, gap, last)

    def _object(self, text: str, seq: int) -> Event:
        if text[0] == "[":
            return packed.unpack(_record(text), seq, self.strings)
        return from_wire(json.loads(text))

    def wire_after(self, seq: int, limit: int = 1000) -> WirePage:
        rows, first, gap, last = self._slice(seq, limit)
        texts = [
            text if text[0] != "[" else packed.wire_text(_record(text), first + i, self.strings)
            for i, text in enumerate(rows)
        ]
        return wire_page(texts, first, seq, gap, last)

    def rows_after(self, seq: int, limit: int = 1000) -> WirePage:
        texts, first, gap, last = self._slice(seq, limit)
        return wire_page(texts, first, seq, gap, last)

    def strings_from(self, known: int) -> list[Any]:
        return self.strings.values[known:]


def _record(row: str) -> bytes:
    """The packed record a row's text stands for."""
    return packed.from_row(json.loads(row))


class RemoteEngine:
    def __init__(self, host: HostProcess, lab_id: str, policy: LabPolicy) -> None:
        self.id = lab_id
        self.policy = policy
        self.host = host
        self.log = MirrorLog(policy.event_log_capacity)
        self.started_at = time.time()
        self.t0 = time.monotonic_ns()
        self.closed = threading.Event()
        self.history: list[Kept] = []
        self.history_truncated = False
        self._glance: tuple[tuple[str, str], ...] = ()
        self._tickets: dict[int, Ticket] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- what the web layer calls -----------------------------------------------------

    def start(self) -> None:
        """Make the lab in its host; raises LabClosed when the host cannot."""
        future = self.host.request("create", self.id, self.policy, self.t0, self.started_at)
        try:
            future.result(CREATE_WAIT)
        except BaseException as exc:
            self.host.forget(self.id)
            self.closed.set()
            if isinstance(exc, TimeoutError):
                # The host may still make it (requests arrive in order): not to run unwatched.
                with contextlib.suppress(LabClosed):
                    self.host.send(("close", self.id, "its creation timed out"))
                raise LabClosed(None, "the lab host did not answer; try again") from None
            raise

    def submit(self, command: Command) -> Ticket:
        ticket = Ticket(command)
        tid = self._track(ticket, keep=True)
        self._send(("submit", self.id, tid, command), tid)
        return ticket

    def submit_together(self, commands: list[Command]) -> list[Ticket]:
        """As LabEngine.submit_together: one message, run back to back in the host."""
        tickets = [Ticket(command) for command in commands]
        tids = [self._track(ticket, keep=True) for ticket in tickets]
        try:
            self.host.send(("together", self.id, tids, commands))
        except LabClosed:
            for tid in tids:
                with self._lock:
                    ticket = self._tickets.pop(tid, None)
                    if ticket is not None:
                        self._forget(ticket)
            raise
        return tickets

    def reject(self, op: str | None, error: CommandError) -> Ticket:
        ticket = Ticket(None)
        tid = self._track(ticket, keep=False)
        self._send(("reject", self.id, tid, op, type(error), error.field, error.message), tid)
        return ticket

    def record(self, cls: type[Any], **fields: Any) -> Future[Event]:
        future: Future[Event] = self.host.request("record", self.id, cls, fields)
        return future

    def snapshot(self) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = self.host.request("snapshot", self.id)
        return future

    def capture_frames(self) -> Future[CaptureCopy]:
        future: Future[CaptureCopy] = self.host.request("capture", self.id)
        return future

    def reset(self, reason: str) -> Future[None]:
        future: Future[None] = self.host.request("reset", self.id, reason)
        return future

    def close(self, reason: str, timeout: float = 5.0) -> None:
        with contextlib.suppress(LabClosed):
            self.host.send(("close", self.id, reason))
        if not self.closed.wait(timeout):
            self.host_gone("the lab did not close in time")

    def set_event_budget(self, per_second: int) -> None:
        with contextlib.suppress(LabClosed):
            self.host.send(("budget", self.id, per_second))

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.t0

    def glance(self) -> list[tuple[str, str]]:
        return list(self._glance)

    # -- bookkeeping ----------------------------------------------------------------------

    def _track(self, ticket: Ticket, *, keep: bool) -> int:
        if self.closed.is_set():
            raise LabClosed(None, f"lab {self.id} is closed")
        tid = next(self._ids)
        with self._lock:
            self._tickets[tid] = ticket
            if keep:  # as the engine does when it runs it; dropped if refused
                self.history.append(ticket.keep())
                if len(self.history) > HISTORY_MAX:
                    del self.history[: len(self.history) - HISTORY_MAX]
        return tid

    def _send(self, message: tuple[Any, ...], tid: int) -> None:
        try:
            self.host.send(message)
        except LabClosed:
            with self._lock:
                ticket = self._tickets.pop(tid, None)
                if ticket is not None:
                    self._forget(ticket)
            raise

    def _forget(self, ticket: Ticket) -> None:
        for i in range(len(self.history) - 1, -1, -1):
            if self.history[i].events is ticket.events:
                del self.history[i]
                return

    def apply(self, news: LabNews) -> None:
        """The host's news of this lab (the reader thread)."""
        objects = [event for each in news.tickets for event in each.events]
        if objects:
            self.log.keep(objects)
        self.log.extend(news.texts, news.gap, news.strings)
        if news.glance is not None:
            self._glance = news.glance
        self.history_truncated = self.history_truncated or news.history_truncated
        for each in news.tickets:
            with self._lock:
                ticket = self._tickets.get(each.tid)
                if ticket is None:
                    continue
                if each.result is not None:
                    del self._tickets[each.tid]
                    if ticket.command is not None and not each.kept:
                        self._forget(ticket)
            ticket.events.extend(each.events)
            if each.handed_off is not None:
                ticket.hand_off(each.handed_off)
            if each.result is not None:
                ticket.events[:] = each.result.events
                ticket.resolve(each.result)
                ticket.publish()
        if news.closed:
            self._finish()

    def host_gone(self, reason: str) -> None:
        """The host died, or the lab would not close: say so in the log, close it here."""
        if self.closed.is_set():
            return
        self.host.forget(self.id)  # later news of it from a live host is not applied
        now = self.now_ns()
        self.log.add(lambda seq: LabClosedEvent(seq=seq, t_ns=now, reason=reason))
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            left, self._tickets = list(self._tickets.values()), {}
        for ticket in left:
            ticket.fail(dict(CLOSED_ANSWER), 410)
            ticket.publish()
        self.closed.set()


class HostProcess:
    """One lab host: its process, its channel and the thread that reads it."""

    def __init__(self, index: int, port_lock: str | None = None) -> None:
        self.index = index
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, *COMMAND, str(theirs.fileno()), *filter(None, [port_lock])],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.sock = ours
        self.engines: dict[str, RemoteEngine] = {}
        self.ready = threading.Event()
        self.dead = threading.Event()
        self.pid = self.proc.pid
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._requests: dict[int, tuple[str, Future[Any]]] = {}
        self._ids = itertools.count(1)
        self.on_death: list[Any] = []
        self._reader = threading.Thread(target=self._read, name=f"lab-host-{index}", daemon=True)
        self._reader.start()

    def load(self) -> int:
        with self._lock:
            return len(self.engines)

    def adopt(self, engine: RemoteEngine) -> None:
        with self._lock:
            self.engines[engine.id] = engine

    def forget(self, lab_id: str) -> None:
        with self._lock:
            self.engines.pop(lab_id, None)

    def send(self, message: tuple[Any, ...]) -> None:
        if self.dead.is_set():
            raise LabClosed(None, "the lab closed (its lab host stopped)")
        try:
            send_message(self.sock, self._send_lock, message)
        except OSError:
            raise LabClosed(None, "the lab closed (its lab host stopped)") from None

    def request(self, kind: str, lab_id: str, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        rid = next(self._ids)
        with self._lock:
            self._requests[rid] = (lab_id, future)
        try:
            self.send((kind, lab_id, rid, *args))
        except LabClosed as exc:
            with self._lock:
                self._requests.pop(rid, None)
            future.set_exception(exc)
        return future

    def _read(self) -> None:
        try:
            while True:
                message = recv_message(self.sock)
                if message is None:
                    break
                if message[0] == "ready":
                    self.ready.set()
                elif message[0] == "batch":
                    self._apply(message[1], message[2])
        except (OSError, EOFError):
            pass
        except Exception:
            log.exception("lab host %d: a message could not be read", self.index)
        finally:
            self._died()

    def _apply(self, news: list[LabNews], replies: list[Reply]) -> None:
        for each in news:
            with self._lock:
                engine = self.engines.get(each.lab_id)
                if engine is not None and each.closed:
                    del self.engines[each.lab_id]
            if engine is not None:
                engine.apply(each)
        for reply in replies:
            with self._lock:
                _, future = self._requests.pop(reply.rid, ("", None))
            if future is None:
                continue
            if reply.ok:
                future.set_result(reply.value)
            else:
                error_class, name, text = reply.value
                future.set_exception(error_class(name, text))

    def _died(self) -> None:
        self.dead.set()
        with contextlib.suppress(OSError):
            self.sock.close()
        with self._lock:
            engines, self.engines = list(self.engines.values()), {}
            requests, self._requests = list(self._requests.values()), {}
        for engine in engines:
            engine.host_gone("its lab host stopped")
        for _, future in requests:
            if not future.done():
                future.set_exception(LabClosed(None, "the lab closed (its lab host stopped)"))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(STOP_WAIT)
        if engines:
            log.warning(
                "lab host %d (pid %d) stopped (exit %s): its %d labs closed",
                self.index,
                self.pid,
                self.proc.returncode,
                len(engines),
            )
        for callback in self.on_death:
            callback(self)

    def stop(self) -> None:
        with contextlib.suppress(LabClosed):
            self.send(("stop",))
        try:
            self.proc.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_WAIT)
        self._reader.join(STOP_WAIT)


class HostPool:
    """``size`` lab hosts; a new lab goes to the least loaded, a dead host is replaced."""

    def __init__(self, size: int) -> None:
        self.size = size
        # The hosts lock this file around bind(0) (host.PortZeroLock); removed at stop.
        fd, self.port_lock = tempfile.mkstemp(prefix="sockscope-port-zero-")
        os.close(fd)
        self._hosts: list[HostProcess | None] = [None] * size
        self._lock = threading.Lock()
        self._stopping = False
        self.replaced = 0  # hosts started in a dead one's place

    def start(self) -> None:
        with self._lock:
            for i in range(self.size):
                self._host(i)

    def hosts(self) -> list[HostProcess]:
        with self._lock:
            return [h for h in self._hosts if h is not None]

    def _host(self, index: int) -> HostProcess:
        host = self._hosts[index]
        if host is None or host.dead.is_set():
            if host is not None:
                self.replaced += 1
            host = HostProcess(index, self.port_lock)
            host.on_death.append(self._replace)
            self._hosts[index] = host
        return host

    def _replace(self, dead: HostProcess) -> None:
        with self._lock:
            if not self._stopping and self._hosts[dead.index] is dead:
                self._host(dead.index)

    def engine(self, lab_id: str, policy: LabPolicy) -> RemoteEngine:
        with self._lock:
            if self._stopping:
                raise LabClosed(None, "the server is stopping")
            hosts = [self._host(i) for i in range(self.size)]
            host = min(hosts, key=HostProcess.load)
            engine = RemoteEngine(host, lab_id, policy)
            host.adopt(engine)
        return engine

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            hosts = [h for h in self._hosts if h is not None]
        for host in hosts:
            host.stop()
        with contextlib.suppress(OSError):
            os.unlink(self.port_lock)
