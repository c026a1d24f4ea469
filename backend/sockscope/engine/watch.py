"""The closed-connection watch: what the kernel still tracks after a socket was closed.

A closed socket has no file descriptor left to probe, but the kernel keeps its
4-tuple for a while: FIN_WAIT2 and LAST_ACK until the other side answers,
TIME_WAIT for about a minute. Each lab's :class:`ClosedWatch` records each state the
connection passes through, until it is gone (or two minutes passed).

The kernel is asked once per probe period for the whole process, not per lab: every
lab's watch hands its connections to the one :data:`POLLER`, which looks all of them
up at most once per :data:`POLL_INTERVAL_NS` (exact NETLINK_SOCK_DIAG lookups, see
:mod:`sockscope.engine.sockdiag`; the cost is the number of watched connections, not the
size of the machine's table) and answers every lab from that one reading. A lab uses a
reading only for connections it covers that were closed before it was taken; anything
else waits for the next one. Where the kernel has no sock_diag, the poller reads
/proc/net/tcp instead (still once per interval for everyone) and logs that once.

A lab's private network has a kernel table of its own, holding only that lab's
connections: it is still read per lab, through ``/proc/{helper pid}/net/tcp``, since a
netlink socket would have to be made inside the namespace by the helper.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sockscope.engine.context import LabContext
from sockscope.engine.core.sockdiag import Conn, DiagFormatError
from sockscope.engine.core.tcptable import Address, parse_proc_net_tcp
from sockscope.engine.sockdiag import DiagReader, DiagUnavailable
from sockscope.engine.sockets import LabSocket
from sockscope.events import LingerEvent

log = logging.getLogger(__name__)

PROC_NET_TCP = "/proc/net/tcp"
WATCH_NS = 120_000_000_000  # stop following a connection after two minutes
POLL_INTERVAL_NS = 250_000_000  # the labs' probe period (lab.LOOP_TIMEOUT)
LEASE_NS = 5_000_000_000  # a watch that stopped asking this long ago (its lab closed) is dropped

Key = tuple[str, Address, Address]  # (network, local, peer)


def read_table(path: str = PROC_NET_TCP) -> dict[tuple[Address, Address], str]:
    try:
        with open(path, encoding="ascii") as file:
            return parse_proc_net_tcp(file.read())
    except OSError:
        return {}


class Reader(Protocol):
    def lookup(self, conns: Iterable[Conn]) -> dict[Conn, str | None]: ...

    def close(self) -> None: ...


class ProcReader:
    """The fallback: all of /proc/net/tcp, read once for everything asked."""

    def __init__(self, path: str = PROC_NET_TCP) -> None:
        self.path = path

    def lookup(self, conns: Iterable[Conn]) -> dict[Conn, str | None]:
        table = read_table(self.path)
        return {conn: table.get(conn) for conn in conns}

    def close(self) -> None:
        pass


def open_reader(reader: DiagReader | None = None) -> tuple[Reader, str]:
    """A sock_diag reader if this kernel has one, else /proc/net/tcp; and which it is."""
    reader = reader or DiagReader()
    try:
        reader.open()
    except DiagUnavailable as exc:
        log.warning(
            "closed-connection watch: %s; reading %s instead (all of it, once per %d ms)",
            exc,
            PROC_NET_TCP,
            POLL_INTERVAL_NS // 1_000_000,
        )
        return ProcReader(), PROC_NET_TCP
    return reader, "sock_diag"


@dataclass(frozen=True, slots=True)
class Reading:
    """One answer from the kernel for every connection watched at the time."""

    asked_ns: int  # the ``now`` of the poll that asked (the interval counts from it)
    taken_ns: int  # monotonic ns just before the kernel was asked
    states: dict[Conn, str | None] = field(default_factory=dict)  # None: not there

    def state(self, conn: Conn, since_ns: int) -> tuple[bool, str | None]:
        """(known, state) of ``conn``, closed at ``since_ns``: unknown unless this reading
        looked it up after that."""
        if self.taken_ns < since_ns or conn not in self.states:
            return False, None
        return True, self.states[conn]


_EMPTY = Reading(-(1 << 62), -(1 << 62))


class SharedPoller:
    """The kernel's view of every lab's closed connections, one query per interval.

    Thread-safe: each lab thread calls :meth:`want` and :meth:`read`; the one that finds
    the reading older than the interval queries the kernel, under the lock.
    """

    def __init__(
        self,
        interval_ns: int = POLL_INTERVAL_NS,
        opener: Callable[[], tuple[Reader, str]] = open_reader,
        lease_ns: int = LEASE_NS,
    ) -> None:
        self.interval_ns = interval_ns
        self.lease_ns = lease_ns
        self._opener = opener
        self._lock = threading.Lock()
        self._wanted: dict[int, tuple[frozenset[Conn], int]] = {}  # token -> (conns, seen)
        self._reading = _EMPTY
        self._reader: Reader | None = None
        self._tokens = itertools.count(1)
        self.source = ""  # "sock_diag" or the /proc file, once opened
        self.queries = 0  # times the kernel was asked (one reading each)
        self.reads = 0  # answers given to labs
        self.failed = 0  # queries that raised

    def token(self) -> int:
        """A new watcher's handle."""
        return next(self._tokens)

    def want(self, token: int, conns: Iterable[Conn], now: int) -> None:
        """``token`` follows ``conns`` (replacing what it followed; empty: nothing)."""
        wanted = frozenset(conns)
        with self._lock:
            if wanted:
                self._wanted[token] = (wanted, now)
            else:
                self._wanted.pop(token, None)

    def read(self, token: int, conns: Iterable[Conn], now: int) -> Reading:
        """The latest reading, after asking the kernel if it is an interval old."""
        wanted = frozenset(conns)
        with self._lock:
            self.reads += 1
            if wanted:
                self._wanted[token] = (wanted, now)
            if now - self._reading.asked_ns >= self.interval_ns:
                self._reading = self._query(now)
            return self._reading

    def close(self) -> None:
        """Close the kernel socket (the next query opens one again)."""
        with self._lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def watched(self) -> set[Conn]:
        """Every connection some lab follows now."""
        with self._lock:
            return self._all()

    def _all(self) -> set[Conn]:
        conns: set[Conn] = set()
        for wanted, _ in self._wanted.values():
            conns |= wanted
        return conns

    def _query(self, now: int) -> Reading:
        for token, (_, seen) in list(self._wanted.items()):
            if now - seen > self.lease_ns:
                del self._wanted[token]
        conns = self._all()
        taken = time.monotonic_ns()
        self.queries += 1
        try:
            if self._reader is None:
                self._reader, self.source = self._opener()
            states = self._reader.lookup(conns)
        except (OSError, DiagUnavailable, DiagFormatError) as exc:  # a reply it cannot read too
            self.failed += 1
            if self.failed == 1 or self.failed % 1000 == 0:
                log.warning("closed-connection watch: the kernel query failed (%s)", exc)
            if self._reader is not None:
                self._reader.close()
                self._reader = None  # opened again next time
            return Reading(now, taken)
        return Reading(now, taken, states)


POLLER = SharedPoller()  # one per process: every lab's watch asks through it
atexit.register(POLLER.close)


@dataclass(slots=True)
class Watched:
    name: str  # the closed socket's name
    last: str  # the state last recorded; "" before the first, "gone" at the end
    since: int  # monotonic ns of the close


class ClosedWatch:
    """The connections of closed sockets, followed through the kernel's table."""

    def __init__(self, poller: SharedPoller | None = None) -> None:
        self.entries: dict[Key, Watched] = {}
        self.poller = POLLER if poller is None else poller
        self.token = self.poller.token()

    def _host(self) -> list[Conn]:
        return [(k[1], k[2]) for k in self.entries if k[0] == "host"]

    def remember(self, ls: LabSocket) -> None:
        """``ls`` was just closed: watch its connection go, if it had one."""
        if ls.local and ls.peer and ls.role == "connected" and not ls.datagram:
            key = (ls.network, (ls.local[0], ls.local[1]), (ls.peer[0], ls.peer[1]))
            now = time.monotonic_ns()
            self.entries[key] = Watched(ls.name, "", now)
            if key[0] == "host":  # in the next reading, whichever lab asks for it
                self.poller.want(self.token, self._host(), now)

    def forget(self, network: str) -> None:
        """Stop following a network's connections (its kernel table went), saying nothing."""
        self.entries = {k: v for k, v in self.entries.items() if k[0] != network}
        self.poller.want(self.token, self._host(), time.monotonic_ns())

    def poll(self, lab: LabContext, now: int) -> None:
        if not self.entries:
            return
        host = self._host()
        reading = self.poller.read(self.token, host, now) if host else _EMPTY
        private: dict[tuple[Address, Address], str] = {}
        if lab.private is not None and len(host) < len(self.entries):
            # the namespace's own table, seen through its helper
            private = read_table(f"/proc/{lab.private.pid}/net/tcp")
        for key, entry in list(self.entries.items()):
            last = entry.last
            conn = (key[1], key[2])
            if key[0] == "host":
                known, state = reading.state(conn, entry.since)
            else:
                known, state = True, private.get(conn) if key[0] == "private" else None
            if known:
                if state == "CLOSE":
                    state = None
                if state != (last or None) or (state is None and last == ""):
                    lab.emit(LingerEvent, socket=entry.name, local=key[1], peer=key[2], state=state)
                    entry.last = state or "gone"
            if (known and state is None) or now - entry.since > WATCH_NS:
                del self.entries[key]
        if host and len(self._host()) != len(host):
            self.poller.want(self.token, self._host(), now)
