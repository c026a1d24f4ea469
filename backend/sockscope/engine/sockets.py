"""The lab's data: one socket (the real socket object and what the program knows
about it), and a link (the relay's legs and flows).

Owned by the lab's engine thread; worker threads only ever use ``sock`` for the
one blocking call they were given.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from sockscope.engine.core.payload import PatternStream
from sockscope.engine.core.schedule import Flow
from sockscope.events import Address, Figures, SocketInfo, to_wire

Role = Literal["new", "bound", "listening", "connecting", "connected", "failed"]
AutoRecv = Literal["off", "discard", "echo"]
FD_SETSIZE = 1024  # select() cannot watch a descriptor at or above this


@dataclass(slots=True)
class Outbox:
    """Bytes a loop-driven ``sendall`` (or an echo) still has to send: ``data``, or for a
    large pattern payload a ``stream`` that makes them as they are sent (``data`` empty)."""

    data: bytes
    sent: int = 0
    call_id: int = 0  # the sendall command's call id; 0 for echo
    line: str = ""
    started_ns: int = 0
    stream: PatternStream | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.stream is None else self.stream.size

    @property
    def remaining(self) -> int:
        return self.size - self.sent


@dataclass(slots=True)
class BlockedCall:
    call_id: int
    op: str
    line: str
    since_ns: int


@dataclass(slots=True, eq=False)
class LabSocket:
    name: str
    sock: socket.socket
    origin: Literal["socket", "accept", "dup"] = "socket"
    listener: str | None = None
    role: Role = "new"
    local: Address | None = None
    peer: Address | None = None
    target: Address | None = None  # where a connect() under way aims (the wire lane's filter)
    auto_accept: bool = False
    auto_recv: AutoRecv = "off"
    bufsize: int = 65536
    eof: bool = False
    shut_rd: bool = False  # the program shut down its own reading side
    watch_read: bool = False
    watch_write: bool = False
    outbox: list[Outbox] = field(default_factory=list)
    sent_total: int = 0
    received_total: int = 0
    # At most one blocked call per side, as two threads may do on one socket.
    blocked_in: BlockedCall | None = None  # recv, accept
    blocked_out: BlockedCall | None = None  # send, sendall, connect
    file: BinaryIO | None = None  # sock.makefile('wb'): Python's buffer in front of the kernel's
    network: Literal["host", "private"] = "host"  # private: in the lab's own namespace
    dup_of: str | None = None  # for a dup(): the socket it was made from
    kernel: object = field(default_factory=object)  # shared by a socket and its dup()s
    shared: bool = False  # a dup() was made of it, or it is one: descriptors share flags
    # Read once from the socket: the loop asks on every turn, and socket.type is a property.
    datagram: bool = field(init=False, default=False)  # SOCK_DGRAM: UDP
    ipv6: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.datagram = self.sock.type == socket.SOCK_DGRAM
        self.ipv6 = self.sock.family == socket.AF_INET6

    relay: Link | None = None  # the fault-injecting link this socket belongs to
    figures: Figures | None = None
    probed_ns: int = 0
    last_look: tuple[Any, ...] | None = None  # signature() when its last socket event was made
    # (name, bufsize, strings, number): the loop recv()'s line as interned in the log's strings
    recv_site: tuple[Any, ...] | None = None

    @property
    def fd(self) -> int:
        return self.sock.fileno()

    @property
    def blocking(self) -> bool:
        """Whether a call may block: a timeout other than 0, or a descriptor without
        O_NONBLOCK. A dup()'s descriptors share that flag (one open file description), so
        the copy's setblocking(True) makes a call on the original block too, whatever its
        own timeout says; the lab then runs it in a worker thread, never on its own."""
        if self.sock.gettimeout() != 0.0:
            return True
        if not self.shared:  # its own flag, then: the timeout says it (no syscall per event)
            return False
        return not fcntl.fcntl(self.sock.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK

    @property
    def pending_out(self) -> int:
        return sum(box.remaining for box in self.outbox)

    def wire(self) -> dict[str, Any]:
        """The socket as a lab snapshot lists it: its description, figures, blocked calls."""
        entry: dict[str, Any] = to_wire(self.info())
        entry["figures"] = to_wire(self.figures)
        entry["blocked"] = [
            {"call_id": b.call_id, "op": b.op, "line": b.line, "since_ns": b.since_ns}
            for b in (self.blocked_in, self.blocked_out)
            if b is not None
        ]
        return entry

    def signature(self) -> tuple[Any, ...]:
        """What :meth:`info` says, but for ``pending_out``, of which only whether it is 0:
        a flood changes pending_out on every send() and call events carry that, so the
        socket event is made again only when this changes (cheap: no SocketInfo built)."""
        return (
            self.name,
            self.sock.fileno(),
            self.role,
            self.local,
            self.peer,
            self.blocking,
            self.sock.gettimeout() or None,  # as info() has it: 0.0 and None read the same
            self.listener,
            self.auto_accept,
            self.auto_recv,
            self.bufsize,
            self.eof,
            not self.outbox or self.pending_out == 0,
            self.watch_read,
            self.watch_write,
            self.network,
            self.dup_of,
        )

    def info(self) -> SocketInfo:
        timeout = self.sock.gettimeout()
        return SocketInfo(
            name=self.name,
            fd=self.sock.fileno(),
            role=self.role,
            local=self.local,
            peer=self.peer,
            blocking=self.blocking,
            timeout=timeout if timeout else None,
            origin=self.origin,
            listener=self.listener,
            auto_accept=self.auto_accept,
            auto_recv=self.auto_recv,
            bufsize=self.bufsize,
            eof=self.eof,
            pending_out=self.pending_out,
            watch_read=self.watch_read,
            watch_write=self.watch_write,
            network=self.network,
            family="AF_INET6" if self.ipv6 else "AF_INET",
            type="SOCK_DGRAM" if self.datagram else "SOCK_STREAM",
            dup_of=self.dup_of,
        )


@dataclass(slots=True, eq=False)
class Link:
    """A fault-injecting relay's sockets and flows; :mod:`sockscope.engine.link` runs it."""

    name: str
    target: tuple[str, int]
    listener: LabSocket
    a: LabSocket | None = None
    b: LabSocket | None = None
    up: Flow = field(default_factory=Flow)  # a -> b
    down: Flow = field(default_factory=Flow)  # b -> a
    dead: bool = False
    announced_ns: int = 0
    announced: dict[str, Any] | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def flow_from(self, leg: LabSocket) -> tuple[Flow, LabSocket | None]:
        """The flow ``leg`` reads into, and the leg it is written to."""
        return (self.up, self.b) if leg is self.a else (self.down, self.a)

    def flow_to(self, leg: LabSocket) -> Flow:
        return self.down if leg is self.a else self.up

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": list(self.listener.local or ()),
            "target": list(self.target),
            "a": self.a.name if self.a else None,
            "b": self.b.name if self.b else None,
            "dead": self.dead,
            "up": {**self.up.faults.public(), "held": self.up.held, "moved": self.up.moved},
            "down": {**self.down.faults.public(), "held": self.down.held, "moved": self.down.moved},
        }


def local_peer(sockets: Iterable[LabSocket], ls: LabSocket) -> LabSocket | None:
    """The lab socket at the other end of ``ls``'s connection, when the lab holds both."""
    if ls.peer is None or ls.local is None:
        return None
    local, peer = unmapped(ls.local), unmapped(ls.peer)
    for other in sockets:
        same_place = other.network == ls.network  # one 4-tuple can exist in both networks
        ends = (unmapped(other.local), unmapped(other.peer)) if other.local and other.peer else None
        if same_place and ends == (peer, local):
            return other
    return None


def unmapped(address: Address) -> Address:
    """127.0.0.1 for ::ffff:127.0.0.1: how an IPv6 socket writes an IPv4 peer (IPv4-mapped)."""
    host = address[0]
    if host.lower().startswith("::ffff:") and "." in host:
        return (host[7:], address[1])
    return address


def same_socket(sockets: Iterable[LabSocket], ls: LabSocket) -> LabSocket | None:
    """Another lab socket for the kernel socket ``ls`` is: a dup() of it, or its original."""
    return next((o for o in sockets if o is not ls and o.kernel is ls.kernel), None)


def host_port(address: Any) -> Address:
    """``(host, port)`` of a socket address: an AF_INET6 one also has flowinfo and scope_id."""
    return (address[0], address[1])


def free_name(taken: Container[str], base: str, sep: str = "") -> str:
    """``base``, or the first of base2, base3, ... (``sep`` between) not taken."""
    if base not in taken:
        return base
    n = 2
    while f"{base}{sep}{n}" in taken:
        n += 1
    return f"{base}{sep}{n}"
