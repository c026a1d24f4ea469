"""The event schema: everything a lab records, defined once.

Theory of operation: a lab's engine thread is the only writer of its log. Every
event it appends carries ``seq`` (1, 2, 3, ... per lab, no holes) and ``t_ns``
(monotonic nanoseconds since the lab started). Events are frozen, slotted
dataclasses tagged by ``kind``; :func:`to_wire` turns one into the JSON object
the API sends, and nothing else in the project invents event fields. The front
end's types are generated from :data:`EVENT_TYPES`.

Bump :data:`SCHEMA_VERSION` when a field changes meaning or disappears.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, Union, get_args, get_origin, get_type_hints

SCHEMA_VERSION = 1

JSONValue: TypeAlias = Any
Address: TypeAlias = tuple[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """What the kernel holds for one socket, as read by the probes.

    ``None`` means "not known for this socket" (e.g. queues of a listening socket,
    or TCP_INFO fields an older kernel did not return).
    """

    state: str  # TCP state: ESTABLISHED, LISTEN, CLOSE_WAIT, ...; CLOSE for a new socket
    recv_queue: int | None  # SIOCINQ: bytes received, not yet read by the program
    send_queue: int | None  # SIOCOUTQ: bytes sent by the program, not yet acked by the peer
    unsent: int | None  # SIOCOUTQNSD: part of send_queue not yet put on the wire
    rcvbuf: int  # SO_RCVBUF as the kernel reports it (twice what was asked)
    sndbuf: int  # SO_SNDBUF as the kernel reports it
    accept_queue: int | None  # listening socket: connections waiting for accept()
    backlog: int | None  # listening socket: the backlog the kernel applies
    rtt_us: int | None
    cwnd: int | None  # congestion window, in segments
    unacked: int | None  # segments in flight (connected sockets)
    retransmits: int | None  # retransmissions of the current segment
    total_retrans: int | None
    snd_wnd: int | None  # the peer's advertised window, bytes
    bytes_acked: int | None
    bytes_received: int | None
    probes: int | None = None  # zero-window or keepalive probes sent, unanswered so far
    backoff: int | None = None  # how many times the retransmission/probe timer has doubled


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketInfo:
    """What the program knows about one of its sockets (not the kernel's figures)."""

    name: str
    fd: int
    role: Literal["new", "bound", "listening", "connecting", "connected", "failed"]
    local: Address | None
    peer: Address | None
    blocking: bool
    timeout: float | None  # settimeout(); None when blocking without timeout or non-blocking
    origin: Literal["socket", "accept", "dup"]
    listener: str | None  # for accepted sockets: the listening socket's name
    auto_accept: bool
    auto_recv: Literal["off", "discard", "echo"]
    bufsize: int
    eof: bool  # recv() returned b'': the peer closed its sending side
    pending_out: int  # bytes a loop-driven sendall/echo still has to send
    watch_read: bool  # kept in select()'s readers by the program, whatever else happens
    watch_write: bool  # kept in select()'s writers: the busy loop of HOWTO claim 21
    network: Literal["host", "private"]  # private: the lab's own loopback, in a namespace
    family: Literal["AF_INET", "AF_INET6"]
    type: Literal["SOCK_STREAM", "SOCK_DGRAM"]  # SOCK_DGRAM: UDP
    dup_of: str | None  # a dup()'s original: both are one socket in the kernel


@dataclass(frozen=True, slots=True, kw_only=True)
class BytesInfo:
    """A payload, described: its length, where it sits in the socket's stream, a preview."""

    len: int
    offset: int  # bytes this socket had sent (or received) before this payload
    head: str  # Python repr of the first bytes, e.g. "b'0000000|0000001|'"
    truncated: bool
    hex: str | None  # every byte, in hex, when there are at most 256 (framing lessons read them)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent:
    """One socket call, performed for real, and what the kernel answered."""

    kind: Literal["call"] = "call"
    seq: int
    t_ns: int
    call_id: int
    socket: str
    op: str  # the socket method: send, recv, accept, connect, ...
    line: str  # the Python line it amounts to: "cli.send(pattern(1048576))"
    via: Literal["command", "loop", "worker"]  # who made the call
    asked: int | None  # bytes asked for (send: len(data); recv: bufsize)
    done: int | None  # bytes actually transferred
    data: BytesInfo | None  # bytes sent or received
    result: JSONValue  # structured return value (int, address, new socket name, ...)
    result_text: str  # what the UI prints after "->": "43690", "EAGAIN", "b'' (peer closed)"
    errno: str | None  # errno name when the call raised: EAGAIN, ECONNREFUSED, ...
    error: str | None  # the exception as Python prints it
    started_ns: int
    duration_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStartedEvent:
    """A call on a blocking socket went to a worker thread and has not returned yet."""

    kind: Literal["call_started"] = "call_started"
    seq: int
    t_ns: int
    call_id: int
    socket: str
    op: str
    line: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectEvent:
    """One iteration of the lab's select() loop."""

    kind: Literal["select"] = "select"
    seq: int
    t_ns: int
    iteration: int
    readers: list[str]
    writers: list[str]
    errors: list[str]
    timeout: float | None
    ready_readers: list[str]
    ready_writers: list[str]
    ready_errors: list[str]
    blocked_ns: int
    woken: bool  # a command woke the loop (through its wakeup socketpair)
    idle_before: int  # timed-out iterations with the same lists, not recorded one by one


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketEvent:
    """A socket appeared or its program-side description changed."""

    kind: Literal["socket"] = "socket"
    seq: int
    t_ns: int
    info: SocketInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketClosedEvent:
    """The program closed a socket (or the lab did, closing); its name may be reused."""

    kind: Literal["socket_closed"] = "socket_closed"
    seq: int
    t_ns: int
    socket: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeEvent:
    """The kernel's figures for a socket changed."""

    kind: Literal["probe"] = "probe"
    seq: int
    t_ns: int
    socket: str
    figures: Figures


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopEvent:
    """The select() loop was paused, resumed or stepped."""

    kind: Literal["loop"] = "loop"
    seq: int
    t_ns: int
    state: Literal["running", "paused", "step"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandErrorEvent:
    """A command was refused before any socket call; the lab goes on."""

    kind: Literal["command_error"] = "command_error"
    seq: int
    t_ns: int
    op: str | None
    field: str | None
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeEvent:
    """Something the lab did on its own that a participant should know about."""

    kind: Literal["notice"] = "notice"
    seq: int
    t_ns: int
    socket: str | None
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LingerEvent:
    """A closed socket's connection as the kernel still keeps it (TIME_WAIT...); None: gone."""

    kind: Literal["linger"] = "linger"
    seq: int
    t_ns: int
    socket: str
    local: Address
    peer: Address
    state: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkEvent:
    """A fault-injecting link: its ends, its faults and the bytes it holds, per direction."""

    kind: Literal["link"] = "link"
    seq: int
    t_ns: int
    link: JSONValue  # {name, listen, target, a, b, dead, up: {faults..., held, moved}, down: ...}


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkEvent:
    """The lab's private network: made (cable plugged in), its cable pulled or plugged, closed."""

    kind: Literal["network"] = "network"
    seq: int
    t_ns: int
    state: Literal["plugged", "cut", "closed"]  # closed: the lab was cleared; no network now
    how: str  # how the kernel gave the lab its namespace ("a network namespace (CAP_SYS_ADMIN)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentEvent:
    """A TCP segment of the lab's connections, as it crossed the loopback (the wire lane).

    ``t_ns`` is when the lab read it from the capture; ``wire_ns`` when the kernel saw it,
    on the same clock: the one to order segments and calls by."""

    kind: Literal["segment"] = "segment"
    seq: int
    t_ns: int
    wire_ns: int
    frame: int  # its number in the lab's capture, from 1 (what Wireshark shows)
    sender: (
        str | None
    )  # the lab socket that sent it; a listener before accept(); None: not the lab's
    receiver: str | None
    src: Address
    dst: Address
    flags: str  # "SYN", "SYN ACK", "PSH ACK", "FIN ACK", "RST", ...
    rel_seq: int  # relative to the sender's initial sequence number (its SYN is 0)
    rel_ack: int | None  # relative to the receiver's; None without the ACK flag
    length: int  # payload bytes
    window: int  # the advertised window in bytes, its scale applied
    wscale: int | None  # a SYN's window-scale option
    mss: int | None  # a SYN's MSS option
    offset: int | None  # the stream offset of its first payload byte (the sender's send()s)
    notes: tuple[str, ...]  # retransmission, zero window, window probe, window update, ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureEvent:
    """The lab's capture: started, refused (``reason`` says why) or its counts moved."""

    kind: Literal["capture"] = "capture"
    seq: int
    t_ns: int
    state: Literal["on", "unavailable", "off"]
    reason: str | None  # why the wire lane is empty (no CAP_NET_RAW, ...)
    frames: int  # segments captured so far
    kept: int  # of them, held now (the oldest go past the bound)
    dropped_kept: int  # captured, then let go to stay within the bound
    dropped_kernel: int  # the kernel found no room in the ring (PACKET_STATISTICS)
    cut: int  # kept without their payload (past each connection's share of bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOutcome:
    """One HOWTO claim, checked against what the kernel did in this run."""

    claim: int
    passed: bool | None  # None: not observed yet
    observed: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LessonEvent:
    """A lesson in this lab moved: it started, ran a step, or finished."""

    kind: Literal["lesson"] = "lesson"
    seq: int
    t_ns: int
    lesson: str
    state: Literal["started", "step", "finished", "failed"]
    step: int  # index of the step this is about (-1 when started)
    ok: bool
    message: str  # what happened, in words ("send() returned 6144 of 1048576")
    data: JSONValue  # what an action measured (IPC throughput, framing results, ...)
    checks: list[CheckOutcome]


@dataclass(frozen=True, slots=True, kw_only=True)
class LabClosedEvent:
    """The lab closed: deleted, reaped when idle, or the server stopping."""

    kind: Literal["lab_closed"] = "lab_closed"
    seq: int
    t_ns: int
    reason: str


Event: TypeAlias = (
    CallEvent
    | CallStartedEvent
    | SelectEvent
    | SocketEvent
    | SocketClosedEvent
    | ProbeEvent
    | LoopEvent
    | CommandErrorEvent
    | NoticeEvent
    | LingerEvent
    | LinkEvent
    | NetworkEvent
    | SegmentEvent
    | CaptureEvent
    | LessonEvent
    | LabClosedEvent
)

EVENT_TYPES: tuple[type[Any], ...] = (
    CallEvent,
    CallStartedEvent,
    SelectEvent,
    SocketEvent,
    SocketClosedEvent,
    ProbeEvent,
    LoopEvent,
    CommandErrorEvent,
    NoticeEvent,
    LingerEvent,
    LinkEvent,
    NetworkEvent,
    SegmentEvent,
    CaptureEvent,
    LessonEvent,
    LabClosedEvent,
)
RECORD_TYPES: tuple[type[Any], ...] = (Figures, SocketInfo, BytesInfo, CheckOutcome)


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_wire(value: Any) -> JSONValue:
    """A JSON-ready copy of an event or record (tuples become lists).

    Called for every event each viewer is sent, so field names are looked up
    once per class rather than through dataclasses.fields() every time.
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            if isinstance(value, (list, tuple)):
                return [to_wire(v) for v in value]
            if isinstance(value, dict):
                return {k: to_wire(v) for k, v in value.items()}
            return value
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(value))
    return {name: to_wire(getattr(value, name)) for name in names}


# -- back from the wire ------------------------------------------------------------------

_DECODERS: dict[type[Any], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}
_BY_KIND: dict[str, type[Any]] = {}


def _same(value: Any) -> Any:
    return value


def _decoder(hint: Any) -> Callable[[Any], Any]:
    """How to turn a field's JSON value back into what the dataclass holds."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value: _record(hint, value)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            inner = _decoder(present[0])
            if inner is _same:
                return _same
            return lambda value: None if value is None else inner(value)
        return _same
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            each = _decoder(args[0])
            return lambda value: tuple(each(v) for v in value)
        parts = [_decoder(a) for a in args]
        return lambda value: tuple(p(v) for p, v in zip(parts, value, strict=True))
    if origin is list:
        each = _decoder(args[0]) if args else _same
        return _same if each is _same else lambda value: [each(v) for v in value]
    return _same


def _fields_of(cls: type[Any]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    found = _DECODERS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _DECODERS[cls] = tuple(
            (f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls)
        )
    return found


def _record(cls: type[Any], value: dict[str, Any]) -> Any:
    return cls(**{name: decode(value[name]) for name, decode in _fields_of(cls)})


def from_wire(value: dict[str, Any]) -> Event:
    """The event :func:`to_wire` made ``value`` from (its JSON, parsed): what a lab host sent
    as text becomes an event again where the web process needs one (the room's flags, a
    lesson's checks). Tuples come back as tuples where the field says so; a free-form
    ``JSONValue`` field (a call's ``result``) keeps the lists JSON gives."""
    if not _BY_KIND:
        _BY_KIND.update({cls.__dataclass_fields__["kind"].default: cls for cls in EVENT_TYPES})
    cls = _BY_KIND.get(value.get("kind", ""))
    if cls is None:
        raise ValueError(f"not an event kind: {value.get('kind')!r}")
    event: Event = _record(cls, value)
    return event
