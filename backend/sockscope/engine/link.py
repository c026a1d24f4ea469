"""A fault-injecting link: a relay in the lab's own select() loop that misbehaves on demand.

Theory of operation. A link listens on a lab port. The first client that connects
is accepted as leg ``<name>_a`` (a later one is reset: one connection per link);
the link then connects leg ``<name>_b`` to its target. From then on the loop
relays: what ``_a`` receives goes "up" to ``_b``, what ``_b`` receives goes "down"
to ``_a``. Each direction is a queue of chunks,
each released at ``arrival + latency``; a release sends at most ``slice`` bytes
(with random ``jitter``) and no faster than ``rate`` bytes a second. A stalled
direction neither reads nor writes: its bytes stay held and nothing (no FIN, no
RST) reaches the peer, which is what a peer that died hard looks like. ``reset``
closes both legs with SO_LINGER 0, so both ends get a reset; ``close`` ends one
direction with a FIN once its queue is empty. Every relay recv()/send() is a
recorded call like any other. With no fault set, bytes pass through unchanged.
"""

from __future__ import annotations

import collections
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sockscope.engine.calls import perform
from sockscope.events import LinkEvent

if TYPE_CHECKING:
    from sockscope.engine.lab import LabEngine
    from sockscope.engine.sockets import LabSocket

Direction = Literal["up", "down"]
HOLD_MAX = 256 * 1024  # stop reading a side once this much is held: backpressure, as TCP does
READ_SIZE = 65536
LINK_EVENT_NS = 100_000_000  # re-announce held bytes at most every 100 ms


@dataclass(slots=True)
class Faults:
    latency_ms: float = 0.0
    rate: int = 0  # bytes a second; 0: as fast as the kernel takes them
    slice: int = 0  # largest send(); 0: as much as is held
    jitter: int = 0  # slice varies by up to this many bytes
    stalled: bool = False
    closing: bool = False  # end this direction (FIN) once its queue is empty

    def public(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "rate": self.rate,
            "slice": self.slice,
            "jitter": self.jitter,
            "stalled": self.stalled,
            "closing": self.closing,
        }


@dataclass(slots=True)
class Flow:
    """One direction of the link: what was read, waiting to be written."""

    faults: Faults = field(default_factory=Faults)
    queue: collections.deque[list[Any]] = field(default_factory=collections.deque)
    held: int = 0
    eof: bool = False  # the source sent its FIN
    ended: bool = False  # we passed the FIN on
    tokens: float = 0.0
    stamp_ns: int = 0
    moved: int = 0  # bytes delivered, in total

    def due_ns(self) -> int | None:
        """When the head chunk may go, or None when nothing is held."""
        return self.queue[0][0] if self.queue else None


@dataclass(slots=True, eq=False)
class Link:
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


# -- what the loop asks ---------------------------------------------------------------------


def wants_read(link: Link, leg: LabSocket) -> bool:
    flow, dst = link.flow_from(leg)
    if link.dead or dst is None or flow.eof or flow.faults.stalled:
        return False
    return flow.held < HOLD_MAX and dst.role in ("connected", "connecting")


def wants_write(link: Link, leg: LabSocket, now_ns: int) -> bool:
    if leg.role == "connecting":
        return True
    flow = link.flow_to(leg)
    if link.dead or flow.faults.stalled:
        return False
    due = flow.due_ns()
    if due is not None:
        return due <= now_ns and _refill(flow, now_ns) >= 1
    return (flow.eof or flow.faults.closing) and not flow.ended


def next_due_ns(link: Link, now_ns: int) -> int | None:
    """The soonest moment held bytes become sendable (latency or rate), if any."""
    soonest: int | None = None
    for flow in (link.up, link.down):
        due = flow.due_ns()
        if due is None or flow.faults.stalled:
            continue
        if flow.faults.rate and _refill(flow, now_ns) < 1:
            due = max(due, now_ns + int(1e9 / flow.faults.rate))
        due = max(due, now_ns)  # due already: select() must not sleep its full timeout
        if soonest is None or due < soonest:
            soonest = due
    return soonest


def _refill(flow: Flow, now_ns: int) -> float:
    rate = flow.faults.rate
    if not rate:
        return float("inf")
    flow.tokens = min(
        float(max(rate // 10, 1)), flow.tokens + (now_ns - flow.stamp_ns) * rate / 1e9
    )
    flow.stamp_ns = now_ns
    return flow.tokens


# -- what the loop does -----------------------------------------------------------------------


def on_readable(lab: LabEngine, link: Link, leg: LabSocket) -> None:
    flow, _ = link.flow_from(leg)
    outcome = perform(lambda: leg.sock.recv(READ_SIZE, socket.MSG_DONTWAIT))
    from sockscope.engine.loopcalls import record_recv

    record_recv(lab, leg, f"data = {leg.name}.recv({READ_SIZE})", outcome, READ_SIZE, via="loop")
    if outcome.ok and outcome.value:
        release = time.monotonic_ns() + int(flow.faults.latency_ms * 1e6)
        flow.queue.append([release, outcome.value])
        flow.held += len(outcome.value)
    elif outcome.ok:
        flow.eof = True  # pass the FIN on once what is held has gone
    elif isinstance(outcome.exc, ConnectionResetError):
        reset(lab, link, why=f"{leg.name} got a reset: passing it on")
    announce(lab, link)


def on_writable(lab: LabEngine, link: Link, leg: LabSocket) -> None:
    flow = link.flow_to(leg)
    if not flow.queue:
        if (flow.eof or flow.faults.closing) and not flow.ended:
            flow.ended = True
            outcome = perform(lambda: leg.sock.shutdown(socket.SHUT_WR))
            lab.record_call(
                leg, "shutdown", f"{leg.name}.shutdown(socket.SHUT_WR)", outcome, via="loop"
            )
            announce(lab, link, force=True)
        return
    head = flow.queue[0]
    data: bytes = head[1]
    size = len(data)
    if flow.faults.slice:
        spread = (
            link.rng.randint(-flow.faults.jitter, flow.faults.jitter) if flow.faults.jitter else 0
        )
        size = min(size, max(1, flow.faults.slice + spread))
    if flow.faults.rate:
        size = min(size, max(1, int(_refill(flow, time.monotonic_ns()))))
    piece = data[:size]
    outcome = perform(lambda: leg.sock.send(piece, socket.MSG_DONTWAIT))
    from sockscope.engine.ops import record_send

    done = record_send(lab, leg, f"{leg.name}.send(held[:{size}])", outcome, piece, via="loop")
    if done:
        flow.held -= done
        flow.moved += done
        flow.tokens -= done
        if done == len(data):
            flow.queue.popleft()
        else:
            head[1] = data[done:]
    elif not outcome.ok and not isinstance(outcome.exc, BlockingIOError):
        reset(lab, link, why=f"{leg.name}.send() failed: the link tears down")
    announce(lab, link)


def attach(lab: LabEngine, link: Link, accepted: LabSocket) -> None:
    """The first client arrived: it is leg a; connect leg b to the target.

    A link carries one connection: a later client is reset at once, with a notice,
    rather than left waiting in the accept queue with nothing said.
    """
    from sockscope.engine.sockets import FD_SETSIZE, LabSocket

    if link.a is not None or link.dead:
        lab.emit_notice(
            link.name,
            f"{link.name} carries one connection, and has had it: {accepted.name} gets a"
            " reset. Make another link for another client.",
        )
        accepted.relay = None
        _abort(lab, accepted, struct.pack("ii", 1, 0))
        return
    link.a = accepted
    accepted.relay = link
    accepted.sock.setblocking(False)
    lab.sync(accepted)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sock.fileno() >= FD_SETSIZE:
        sock.close()
        reset(lab, link, why=f"{link.name}: no descriptor below {FD_SETSIZE} left for select()")
        return
    sock.setblocking(False)
    b = LabSocket(lab.free_name(f"{link.name}_b"), sock, relay=link)
    link.b = b
    lab.add_socket(b)
    outcome = perform(lambda: sock.connect(link.target))
    line = f"{b.name}.connect({link.target!r})"
    lab.record_call(b, "connect", line, outcome, via="loop")
    errno_value = getattr(outcome.exc, "errno", None)
    if outcome.ok:
        b.role = "connected"
    elif errno_value == 115:  # EINPROGRESS: the loop finishes it when b turns writable
        b.role = "connecting"
    else:
        b.role = "failed"
        reset(lab, link, why=f"the link could not reach {link.target}: closing the client side")
    try:
        b.local = sock.getsockname()
    except OSError:
        pass
    lab.sync(b)
    announce(lab, link, force=True)


def reset(lab: LabEngine, link: Link, *, why: str) -> None:
    """RST to both ends: SO_LINGER 0, then close each leg."""
    if link.dead:
        return
    link.dead = True
    lab.emit_notice(link.name, why)
    linger = struct.pack("ii", 1, 0)
    for leg in (link.a, link.b):
        if leg is not None and leg.name in lab.sockets:
            _abort(lab, leg, linger)
    for flow in (link.up, link.down):
        flow.queue.clear()
        flow.held = 0
    announce(lab, link, force=True)


def _abort(lab: LabEngine, leg: LabSocket, linger: bytes) -> None:
    def set_linger() -> None:
        leg.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)

    line = f"{leg.name}.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))"
    lab.record_call(leg, "setsockopt", line, perform(set_linger), via="loop")
    lab.record_call(leg, "close", f"{leg.name}.close()", perform(leg.sock.close), via="loop")
    lab.remove_socket(leg)


def announce(lab: LabEngine, link: Link, *, force: bool = False) -> None:
    """Record the link's state when it changed (held bytes: at most every 100 ms)."""
    now = time.monotonic_ns()
    if not force and now - link.announced_ns < LINK_EVENT_NS:
        return
    state = link.public()
    if state != link.announced:
        link.announced_ns, link.announced = now, state
        lab.emit(LinkEvent, link=state)
