"""A lab's engine: its sockets and the one thread that runs its select() loop.

Theory of operation. Only the lab thread touches lab state. Other threads talk
to it by posting a closure on ``_inbox`` and writing a byte to the wakeup
socketpair, which is always in the readers of select() (the trio model). A
command is posted this way; so is the completion of a blocking call that ran on
a worker thread. Every event is created on the lab thread, so sequence numbers
have no holes and the log has one writer.

Each iteration of the loop is what a select()-based server does: build the
readers (listening sockets that auto-accept, connected sockets that auto-recv)
and the writers (sockets connecting, or with bytes left to send), call
``select.select(readers, writers, [], 0.25)``, then make the calls the ready
sockets allow. Iterations that time out with nothing ready and the same lists
as the last recorded one are counted, not recorded, so an idle lab stays quiet.
When paused, the loop waits on the wakeup socket only, and "step" lets exactly
one iteration run.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sockscope.engine import link, loopcalls, packed
from sockscope.engine.capture import CaptureCopy, LabCapture
from sockscope.engine.core.commands import Command
from sockscope.engine.core.errors import CommandError, LabClosed
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.handlers import dispatch
from sockscope.engine.handlers.endings import clear_lab, close_all
from sockscope.engine.handlers.network import close_private, follow_cable
from sockscope.engine.log import EventLog
from sockscope.engine.packed import Strings
from sockscope.engine.privnet import PrivateNetwork
from sockscope.engine.probes import ProbeClock, probe_now
from sockscope.engine.record import SelectRecord, loop_recv_site
from sockscope.engine.sockets import (
    LabSocket,
    Link,
    free_name,
    local_peer,
    same_socket,
)
from sockscope.engine.throttle import EventRate
from sockscope.engine.tickets import CLOSED_ANSWER, Kept, Ticket
from sockscope.engine.watch import ClosedWatch
from sockscope.events import (
    SCHEMA_VERSION,
    Event,
    LabClosedEvent,
    NoticeEvent,
    SocketClosedEvent,
    SocketEvent,
)

log = logging.getLogger(__name__)

# The test suite's check that select()'s kept lists are never out of date (tests/conftest.py
# sets it): each turn makes them again too, and a difference is kept here.
CHECK_TURNS = os.environ.get("SOCKSCOPE_CHECK_TURNS") == "1"
TURN_CHECK_FAILURES: list[str] = []

LOOP_TIMEOUT = 0.25  # the lab program's select() timeout, and the probe period
PROBE_MIN_NS = 10_000_000  # re-probe a busy socket at most every 10 ms


class LabEngine:
    def __init__(self, lab_id: str, policy: LabPolicy) -> None:
        self.id = lab_id
        self.policy = policy
        self.log = EventLog(policy.event_log_capacity)
        self.started_at = time.time()
        self.t0 = time.monotonic_ns()
        self._seq = 0
        self.sockets: dict[str, LabSocket] = {}
        self._inbox: collections.deque[Callable[[], None]] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        if self._wake_w.fileno() >= 1024:  # FD_SETSIZE: this lab's select() could not watch it
            self._wake_r.close()
            self._wake_w.close()
            raise LabClosed(None, "the server has no file descriptor below 1024 left for a new lab")
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.paused = False
        self._steps: list[Ticket] = []
        self._iteration = 0
        self._selects = SelectRecord()
        self._next_call = 0
        self.ticket: Ticket | None = None
        self.dirty: set[str] = set()
        self._probes = ProbeClock(int(LOOP_TIMEOUT * 1e9), PROBE_MIN_NS)
        self._closing = False
        self.closed = threading.Event()
        self.workers: set[threading.Thread] = set()
        # Every command the lab ran, in order, with the events it produced (a ticket's
        # events list grows until its call returns): what an exported script replays.
        self.history: list[Kept] = []
        self.links: dict[str, Link] = {}
        self.private: PrivateNetwork | None = None  # made on first use
        self.watch = ClosedWatch()  # connections of closed sockets, until the kernel drops them
        self.history_truncated = False
        self.worker_calls: set[int] = set()
        self._rate = EventRate(policy.max_events_per_second)
        self._turn: _Lists | None = None  # select()'s lists, kept until something may change them
        self._stale = True  # something may have changed them (LabEngine._lists)
        self.capture = LabCapture()  # the wire lane: opened with the lab's first TCP socket
        self._thread = threading.Thread(target=self._run, name=f"lab-{lab_id[:8]}", daemon=True)

    # -- called from any thread ----------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, command: Command) -> Ticket:
        """Queue a command; its ticket's future resolves when the call returned."""
        ticket = Ticket(command)
        self.post(lambda: self._execute(ticket))
        return ticket

    def submit_together(self, commands: list[Command]) -> list[Ticket]:
        """Queue commands that the lab thread runs back to back in one turn, nothing between
        them (two connects whose SYNs must leave, and be retried, at the same moment)."""
        tickets = [Ticket(command) for command in commands]

        def run_all() -> None:
            for ticket in tickets:
                self._execute(ticket)

        self.post(run_all)
        return tickets

    def reject(self, op: str | None, error: CommandError) -> Ticket:
        """Record a refused command (so every viewer sees it) and answer with it."""
        ticket = Ticket(None)

        def record() -> None:
            self.ticket = ticket
            try:
                dispatch.refuse(self, ticket, op, error)
            finally:
                self.ticket = None
                ticket.publish()

        self.post(record)
        return ticket

    def glance(self) -> list[tuple[str, str]]:
        """Each socket's name and TCP state as last probed ("NEW" before its first probe),
        in the order the lab made them. Readable from any thread: it copies the dict, and
        a socket's figures are replaced whole, never changed in place."""
        return [
            (ls.name, ls.figures.state if ls.figures else "NEW")
            for ls in list(self.sockets.values())
        ]

    def snapshot(self) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        self.post(lambda: future.set_result(self._snapshot()))
        return future

    def capture_frames(self) -> Future[CaptureCopy]:
        """What the wire lane holds now: its frames (oldest first) and its state."""
        future: Future[CaptureCopy] = Future()

        def copy() -> None:
            self._take_capture()
            future.set_result(CaptureCopy(list(self.capture.kept), self.capture.status()))

        self.post(copy)
        return future

    def record(self, cls: type[Any], **fields: Any) -> Future[Event]:
        """Append an event made elsewhere (a lesson's progress) from any thread."""
        future: Future[Event] = Future()
        self.post(lambda: future.set_result(self.emit(cls, **fields)))
        return future

    def reset(self, reason: str) -> Future[None]:
        """Close every socket and resume the loop: a clean lab for a lesson to start in."""
        future: Future[None] = Future()

        def run() -> None:
            clear_lab(self, reason)
            self.watch.forget("private")  # their kernel table went with the helper
            self._take_capture()  # the closing segments belong to what was, not to what comes
            self.capture.clear()
            future.set_result(None)

        self.post(run)
        return future

    def close(self, reason: str, timeout: float = 5.0) -> None:
        """Close every socket and stop the thread (waits up to ``timeout``)."""
        try:
            self.post(lambda: self._begin_close(reason))
        except LabClosed:
            pass
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def post(self, fn: Callable[[], None]) -> None:
        if self._closing or self.closed.is_set():
            raise LabClosed(None, f"lab {self.id} is closed")
        self._inbox.append(fn)
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wakeup is already pending, or the lab is closing

    # -- events (lab thread) ---------------------------------------------------------

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.t0

    def emit(self, cls: type[Any], **fields: Any) -> Event:
        self._seq += 1
        self._rate.events += 1
        event: Event = cls(seq=self._seq, t_ns=self.now_ns(), **fields)
        self.log.append(event)
        if self.ticket is not None:
            self.ticket.events.append(event)
        return event

    def emit_packed(self, record: bytes) -> None:
        """Append a packed record (engine/packed.py): an event no ticket collects."""
        self._seq += 1
        self._rate.events += 1
        self.log.append(record)

    @property
    def strings(self) -> Strings:
        return self.log.strings

    def new_call_id(self) -> int:
        self._next_call += 1
        return self._next_call

    def sync(self, ls: LabSocket) -> None:
        """Emit the socket's description if it changed (and probe it)."""
        if ls.name not in self.sockets:
            return
        self._stale = True
        look = ls.signature()
        if look != ls.last_look:
            self.emit(SocketEvent, info=ls.info())
            ls.last_look = look
        self.dirty.add(ls.name)

    def local_peer(self, ls: LabSocket) -> LabSocket | None:
        return local_peer(self.sockets.values(), ls)

    # -- sockets (lab thread) --------------------------------------------------------

    def add_socket(self, ls: LabSocket) -> None:
        self._stale = True
        self.sockets[ls.name] = ls
        follow_cable(self, ls)
        if self.policy.capture and not ls.datagram:
            if self.capture.state == "off":
                self.capture.start(self)
            if ls.network == "private" and "private" not in self.capture.lanes and self.private:
                try:
                    self.capture.add_network(self, "private", self.private.packet_socket())
                except OSError as exc:
                    self.emit_notice(
                        None, f"the private network's segments are not captured: {exc}"
                    )
        self.sync(ls)

    def remove_socket(self, ls: LabSocket) -> None:
        self._stale = True
        if self.sockets.get(ls.name) is ls:
            del self.sockets[ls.name]
            self.dirty.discard(ls.name)
            self.emit(SocketClosedEvent, socket=ls.name)
            holder = same_socket(self.sockets.values(), ls)
            if holder is not None and ls.role == "connected":
                self.emit_notice(
                    ls.name,
                    f"{ls.name} is closed, but {holder.name} still refers to the same kernel"
                    " socket: the kernel keeps the connection until the last reference is"
                    " closed (close() sends no FIN while another one is open)",
                )
            else:
                self.watch.remember(ls)  # the kernel may keep its connection a while

    def free_name(self, base: str) -> str:
        return free_name(self.sockets, base)

    def set_event_budget(self, per_second: int) -> None:
        """This lab's share of the server's events a second (any thread: the loop reads it
        at its next window)."""
        self._rate.share(per_second)

    def in_flight(self) -> int:
        return sum(ls.pending_out for ls in self.sockets.values())

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        try:
            while not self._closing:
                try:
                    if self._inbox:
                        self._drain_inbox()
                    if self._closing:
                        break
                    self._iterate()
                    failures = 0
                except Exception:
                    # The safety net: log it, tell the viewers, keep the lab alive
                    # unless it fails over and over.
                    failures += 1
                    log.exception(
                        "lab %s: loop iteration failed", self.id, extra={"lab": self.id[:8]}
                    )
                    self.emit_notice(None, "internal error in the lab loop (logged on the server)")
                    if failures >= 3:
                        self._begin_close("internal error")
                    else:
                        time.sleep(0.05)
        finally:
            self._shutdown()

    def emit_notice(self, socket_name: str | None, message: str) -> None:
        self.emit(NoticeEvent, socket=socket_name, message=message)

    def _drain_inbox(self) -> None:
        while self._inbox:
            self._stale = True  # a command may change what select() waits on
            fn = self._inbox.popleft()
            fn()

    def _wait_wake(self, timeout: float) -> None:
        captures = self.capture.socks
        ready, _, _ = select.select([self._wake_r, *captures], [], [], timeout)
        if ready and ready[0] is self._wake_r:
            self._drain_wake()
        if captures and ready and ready[-1] is not self._wake_r:
            self._take_capture()

    def _closed_pairs(self) -> dict[tuple[str, int, int], str]:
        """(network, local port, remote port) of the lab's closed connections the kernel
        still has, and their sockets' names."""
        return {(key[0], key[1][1], key[2][1]): e.name for key, e in self.watch.entries.items()}

    def _follow_capture(self) -> None:
        if self.private is None and "private" in self.capture.lanes:
            self.capture.drop_network("private")  # its namespace went with the helper
        if self.capture.lanes:
            self.capture.follow(self.sockets.values(), self._closed_pairs(), self.now_ns())

    def _take_capture(self) -> None:
        """The segments the kernel handed over since the last look, into the log."""
        self.capture.take(self, self.sockets.values(), self._closed_pairs())

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _links_busy(self) -> bool:
        return any(f.queue for link in self.links.values() for f in (link.up, link.down))

    def _iterate(self) -> None:
        over = self._rate.over(time.monotonic_ns())  # cheap: hold() only when over
        if over is not None:
            seconds, first = over
            if first:
                self.emit_notice(None, self._rate.notice())
            self._wait_wake(seconds)
            return
        stepping = self.paused and bool(self._steps)
        if self.paused and not stepping:
            self._wait_wake(LOOP_TIMEOUT)
            self._probe_due()
            return
        turn = self._turn
        if turn is None or self._stale or self.links:
            turn = self._turn = self._lists()
        elif CHECK_TURNS:
            turn = self._turn = self._checked(turn)
        if not turn.any and not stepping and not self._links_busy():
            # Nothing for the lab program to wait on: sleep on the wakeup only.
            self._wait_wake(LOOP_TIMEOUT)
            self._probe_due()
            return
        if turn.strings is not self.log.strings:
            turn.bind(self.log.strings)
        if turn.number is not None and not stepping and not self.links:
            self._turns(turn)
        else:
            step_ticket = self._steps.pop(0) if stepping else None
            self.ticket = step_ticket
            try:
                self._select_once(turn, record_always=stepping)
            finally:
                self.ticket = None
                if step_ticket is not None:  # answered even when the iteration failed
                    step_ticket.succeed({"iteration": self._iteration})
                    step_ticket.publish()
        if time.monotonic_ns() >= self._probes.next_look:
            self._probe_due()

    def _lists(self) -> _Lists:
        """select()'s lists as the sockets stand: made again after anything that may change
        them (a command, a worker's call ending, a socket's description moving: ``sync``),
        and on every turn while a link exists (its flows wait on the clock)."""
        self._stale = False
        now = time.monotonic_ns()
        sockets = self.sockets.values()
        readers = [ls for ls in sockets if loopcalls.wants_read(ls)]
        writers = [ls for ls in sockets if loopcalls.wants_write(ls, now)]
        self._follow_capture()
        return _Lists(readers, writers, self._wake_r, self.capture.socks)

    def _checked(self, turn: _Lists) -> _Lists:
        """The test suite's check (CHECK_TURNS) that lists kept from an earlier turn are
        the ones the sockets ask for now."""
        fresh = self._lists()
        if fresh.plan() != turn.plan():
            TURN_CHECK_FAILURES.append(f"lab {self.id}: kept {turn.plan()}, now {fresh.plan()}")
            log.error("lab %s: select()'s kept lists are out of date", self.id)
        return fresh

    def _select_once(self, turn: _Lists, *, record_always: bool) -> None:
        """One select() turn and the calls its ready sockets allow, the general way: while
        stepping (a ticket collects the events), with links (their flows set the timeout),
        or with lists too long to pack; kept, bound lists run ``_turns`` instead."""
        start = time.monotonic_ns()
        timeout = (
            link.loop_timeout(self.links.values(), start, LOOP_TIMEOUT)
            if self.links
            else LOOP_TIMEOUT
        )
        r, w, _ = select.select(turn.read_fds, turn.write_fds, [], timeout)
        if r and (r[0] is turn.capture or r[0] is turn.capture2):
            r, w = self._past_capture(turn, r, w, start, timeout)
        self._after_select(turn, r, w, start, time.monotonic_ns(), timeout, record_always)

    def _past_capture(
        self,
        turn: _Lists,
        r: list[socket.socket],
        w: list[socket.socket],
        start: int,
        timeout: float,
    ) -> tuple[list[socket.socket], list[socket.socket]]:
        """select() returned for the capture alone (first after the wakeup, which is not
        in ``r``): read it and wait on for the rest of the timeout, so the lab program's
        select() returns when one of its own sockets, or the wakeup, is ready."""
        while r and (r[0] is turn.capture or r[0] is turn.capture2):
            self._take_capture()
            r = r[1:]
            if r or w:
                break
            left = timeout - (time.monotonic_ns() - start) / 1e9
            if left <= 0:
                break
            r, w, _ = select.select(turn.read_fds, turn.write_fds, [], left)
        return r, w

    def _after_select(
        self,
        turn: _Lists,
        r: list[socket.socket],
        w: list[socket.socket],
        start: int,
        ended: int,
        timeout: float,
        record_always: bool,
    ) -> None:
        """What a turn does once its select() (from ``start`` to ``ended``) returned: every
        ready socket's call the general way (loopcalls), each recorded as it happens."""
        self._iteration += 1
        if turn.strings is not self.log.strings:  # _iterate binds too: this is a test's turn
            turn.bind(self.log.strings)
        wake, capture, capture2 = self._wake_r, turn.capture, turn.capture2
        woken = captured = False
        ready_r: list[LabSocket] = []
        ready_w: list[LabSocket] = []
        mask_r = mask_w = 0
        bits_r, bits_w = turn.bits_r, turn.bits_w
        for s in r:  # in the order asked: select() keeps it
            if s is wake:
                woken = True
                continue
            if s is capture or s is capture2:
                captured = True
                continue
            ls, bit, _ = bits_r[s]
            ready_r.append(ls)
            mask_r |= bit
        for s in w:
            ls, bit, _ = bits_w[s]
            ready_w.append(ls)
            mask_w |= bit
        if woken:
            self._drain_wake()
        t0 = self.t0
        pending: list[bytes] = []  # this turn's packed records, not yet in the log
        selects = self._selects
        if turn.number is not None and (mask_r or mask_w) and self.ticket is None:
            pending.append(selects.busy(ended - t0, self._iteration, turn.names, turn.number,
                                        mask_r, mask_w, timeout, ended - start, woken))  # fmt: skip
        elif turn.packable:
            selects.turn_masks(self, self._iteration, turn.names, turn.number, (mask_r, mask_w),
                               None, timeout, ended - start, woken, record_always)  # fmt: skip
        else:
            ready = (tuple([ls.name for ls in ready_r]), tuple([ls.name for ls in ready_w]))
            selects.turn_masks(self, self._iteration, turn.names, None, None, ready, timeout,
                               ended - start, woken, record_always)  # fmt: skip
        sockets = self.sockets
        for ls in ready_w:
            if ls.name in sockets:
                self._add(pending)
                loopcalls.on_writable(self, ls)
        for ls in ready_r:
            if ls.name in sockets:
                self._add(pending)
                loopcalls.on_readable(self, ls)
        self._add(pending)
        if captured:
            self._take_capture()

    def _turns(self, turn: _Lists) -> None:  # noqa: PLR0915 (one frame: no call per turn)
        """select() turns on kept lists (bound: ``turn.number``), one after another in this
        frame. A turn with something ready records its select() and its plain readers'
        recv()s (loopcalls.plain_reader: a flood's) as packed records, added to the log at
        its end; other ready sockets' calls are recorded the general way, the records so
        far added first, so the log keeps the order of the calls. A turn that was woken or
        found nothing ready goes to ``_after_select``, and that ends the run; so does a turn
        after which the inbox has something, the lists may have changed (``_stale``), a
        probe is due or the event budget's window ends: ``_iterate`` sees to them."""
        monotonic, select_, dontwait = time.monotonic_ns, select.select, socket.MSG_DONTWAIT
        read_fds, write_fds, bits_r, bits_w = (
            turn.read_fds,
            turn.write_fds,
            turn.bits_r,
            turn.bits_w,
        )
        names, number, wake, t0 = turn.names, turn.number, self._wake_r, self.t0
        capture, capture2 = turn.capture, turn.capture2
        pack_select, pack_recv = packed.SELECT_RECORD.pack, packed.pack_recv
        select_kind, timeout = packed.SELECT, round(LOOP_TIMEOUT, 4)  # as SelectRecord has it
        selects, sockets, dirty, extend = self._selects, self.sockets, self.dirty, self.log.extend
        inbox, probes, rate = self._inbox, self._probes, self._rate
        budget, window_end = rate.bounds()  # what _iterate's rate.over() checks
        while True:
            start = monotonic()
            r, w, _ = select_(read_fds, write_fds, [], LOOP_TIMEOUT)
            if r and (r[0] is capture or r[0] is capture2):  # (the wakeup, then the lanes)
                r, w = self._past_capture(turn, r, w, start, LOOP_TIMEOUT)
            ended = monotonic()
            if not (r or w) or (r and r[0] is wake):  # select() keeps the order asked
                self._after_select(turn, r, w, start, ended, LOOP_TIMEOUT, False)
                return
            self._iteration += 1
            mask_r = mask_w = 0
            for s in r:
                mask_r |= bits_r[s][1]
            for s in w:
                mask_w |= bits_w[s][1]
            records = [pack_select(select_kind, ended - t0, self._iteration, number, timeout,
                                   ended - start, False, selects.idle, mask_r, mask_w)]  # fmt: skip
            selects.idle, selects.last_lists, selects.was_ready = 0, names, True
            for s in w:
                if (ls := bits_w[s][0]).name in sockets:
                    self._add(records)
                    loopcalls.on_writable(self, ls)
            for s in r:
                ls, _, site = bits_r[s]
                if ls.name not in sockets:
                    continue
                if site is None:  # not a plain reader (a listener, an echo, a link's end)
                    self._add(records)
                    loopcalls.on_readable(self, ls)
                    continue
                # loopcalls.auto_recv in fewer steps: a recv() that reads bytes changes
                # nothing but the stream offset; anything else goes to recv_ended.
                started = monotonic()
                try:
                    got, error = ls.sock.recv(ls.bufsize, dontwait), None
                except (OSError, ValueError, OverflowError) as caught:
                    got, error = None, caught
                done = monotonic()
                if not got:
                    self._add(records)
                    loopcalls.recv_ended(self, ls, got, error, started, done - started)
                    continue
                self._next_call += 1
                record = pack_recv(done - t0, self._next_call, site, ls.bufsize, got,
                                   ls.received_total, started - t0, done - started)  # fmt: skip
                records.append(record)
                ls.received_total += len(got)
                dirty.add(ls.name)
            if records:  # _add, inline: the turn's last records
                self._seq += len(records)
                rate.events += len(records)
                extend(records)
            if (
                self._stale
                or inbox
                or self._closing
                or rate.events > budget
                or ended >= probes.next_look
                or ended >= window_end
            ):
                return
            if CHECK_TURNS:
                self._checked(turn)

    def _add(self, records: list[bytes]) -> None:
        """Put a turn's packed records so far in the log (and empty the list)."""
        if records:
            self._seq += len(records)
            self._rate.events += len(records)
            self.log.extend(records)
            records.clear()

    def _probe_due(self) -> None:
        now = time.monotonic_ns()
        probes = self._probes
        if now < probes.next_look:  # the common case in a flood: nothing can be due yet
            return
        if self.capture.lanes:
            self._take_capture()  # what the kernel handed over meanwhile, before the figures
            self._follow_capture()  # closed connections the kernel has let go
            self.capture.report(self)
        if not probes.all_due(now):
            probes.probe_dirty(self, now)
            return
        probe_now(self, *self.sockets.values())
        for each in self.links.values():
            link.announce(self, each)
        self.watch.poll(self, now)

    def _execute(self, ticket: Ticket) -> None:
        dispatch.run(self, ticket)
        if ticket.result is None and ticket.blocked_call is None and ticket not in self._steps:
            ticket.succeed()
        ticket.publish()

    def add_step(self, ticket: Ticket) -> None:
        self._steps.append(ticket)

    def _snapshot(self) -> dict[str, Any]:
        probe_now(self, *self.sockets.values())
        return {
            "id": self.id,
            "schema_version": SCHEMA_VERSION,
            "seq": self._seq,
            "t_ns": self.now_ns(),
            "started_at": self.started_at,
            "paused": self.paused,
            "iteration": self._iteration,
            "sockets": [ls.wire() for ls in self.sockets.values()],
            "port_range": [self.policy.port_min, self.policy.port_max],
            "links": [each.public() for each in self.links.values()],
            "network": None
            if self.private is None
            else {"plugged": self.private.plugged, "how": self.private.how},
            "capture": self.capture.status(),
        }

    def _begin_close(self, reason: str) -> None:
        if self._closing:
            return
        close_all(self)
        self.emit(LabClosedEvent, reason=reason)
        self._closing = True

    def _shutdown(self) -> None:
        self._closing = True
        close_all(self)
        close_private(self, say=False)
        self.capture.close()
        self._inbox.clear()  # posted closures (snapshots, resets, records) see closed instead
        self._wake_r.close()
        self._wake_w.close()
        for ticket in self._steps:
            ticket.fail(dict(CLOSED_ANSWER), 410)
            ticket.publish()
        self.closed.set()


class _Lists:
    """What one set of readers and writers asks of select(), made once while it stays the
    same (a flood's turns all have the same lists)."""

    __slots__ = ("any", "bits_r", "bits_w", "capture", "capture2", "names", "number",
                 "packable", "plain", "read_fds", "readers", "strings", "write_fds",
                 "writers")  # fmt: skip

    def __init__(
        self,
        readers: list[LabSocket],
        writers: list[LabSocket],
        wake: socket.socket,
        captures: tuple[socket.socket, ...] = (),
    ) -> None:
        self.readers, self.writers = readers, writers
        self.any = bool(readers or writers)
        # the wire lane's rings (the machine's lo, the private network's): readable when a
        # block is handed over; at most two, named one by one so the turn tests them fast
        self.capture = captures[0] if captures else None
        self.capture2 = captures[1] if len(captures) > 1 else None
        self.read_fds = [wake, *captures, *(ls.sock for ls in readers)]
        self.write_fds = [ls.sock for ls in writers]
        # The readers whose loop recv() the turn makes itself (loopcalls.plain_reader).
        self.plain = [loopcalls.plain_reader(ls) for ls in readers]
        # A ready socket's LabSocket, its bit in the turn's ready masks (packed.mask), and
        # for a plain reader its recv() site in the log's strings (once bound).
        self.bits_r: dict[socket.socket, tuple[LabSocket, int, int | None]] = {
            ls.sock: (ls, 1 << i, None) for i, ls in enumerate(readers)
        }
        self.bits_w = {ls.sock: (ls, 1 << i, None) for i, ls in enumerate(writers)}
        self.names = (tuple(ls.name for ls in readers), tuple(ls.name for ls in writers))
        self.packable = max(len(readers), len(writers)) <= packed.MASK_NAMES
        self.strings: packed.Strings | None = None  # the strings ``number`` is in
        self.number: int | None = None  # ``names`` as interned there (None: full, or long)

    def bind(self, strings: packed.Strings) -> None:
        """Intern the lists, and the plain readers' recv() sites, in ``strings``."""
        self.strings = strings
        self.number = strings.number(self.names) if self.packable else None
        for i, (ls, plain) in enumerate(zip(self.readers, self.plain, strict=True)):
            site = loop_recv_site(strings, ls) if plain else None
            self.bits_r[ls.sock] = (ls, 1 << i, site)

    def plan(self) -> tuple[object, ...]:
        """What the turn does, to compare two (CHECK_TURNS)."""
        return (self.readers, self.writers, self.plain)
