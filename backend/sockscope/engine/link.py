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

import socket
import struct
import time
from collections.abc import Iterable
from typing import Literal

from sockscope.engine.calls import perform
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline, schedule
from sockscope.engine.record import record_call, record_recv, record_send
from sockscope.engine.sockets import FD_SETSIZE, LabSocket, Link
from sockscope.events import LinkEvent

Direction = Literal["up", "down"]
HOLD_MAX = 256 * 1024  # stop reading a side once this much is held: backpressure, as TCP does
READ_SIZE = 65536
LINK_EVENT_NS = 100_000_000  # re-announce held bytes at most every 100 ms


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
    if flow.due_ns() is not None:
        return schedule.sendable(flow, now_ns)
    return (flow.eof or flow.faults.closing) and not flow.ended


def next_due_ns(link: Link, now_ns: int) -> int | None:
    """The soonest moment held bytes become sendable (latency or rate), if any."""
    return schedule.next_due_ns((link.up, link.down), now_ns)


# -- what the loop does -----------------------------------------------------------------------


def loop_timeout(links: Iterable[Link], now_ns: int, longest: float) -> float:
    """The loop's select() timeout: ``longest``, or less when a link must release bytes sooner."""
    timeout = longest
    for each in links:
        due = next_due_ns(each, now_ns)
        if due is not None:
            timeout = min(timeout, max(0.0, (due - now_ns) / 1e9))
    return timeout


def on_readable(lab: LabContext, link: Link, leg: LabSocket) -> None:
    flow, _ = link.flow_from(leg)
    outcome = perform(lambda: leg.sock.recv(READ_SIZE, socket.MSG_DONTWAIT))
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


def on_writable(lab: LabContext, link: Link, leg: LabSocket) -> None:
    flow = link.flow_to(leg)
    if not flow.queue:
        if (flow.eof or flow.faults.closing) and not flow.ended:
            flow.ended = True
            outcome = perform(lambda: leg.sock.shutdown(socket.SHUT_WR))
            record_call(
                lab, leg, "shutdown", f"{leg.name}.shutdown(socket.SHUT_WR)", outcome, via="loop"
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
        size = min(size, max(1, int(schedule.refill(flow, time.monotonic_ns()))))
    piece = data[:size]
    outcome = perform(lambda: leg.sock.send(piece, socket.MSG_DONTWAIT))
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


def attach(lab: LabContext, link: Link, accepted: LabSocket) -> None:
    """The first client arrived: it is leg a; connect leg b to the target.

    A link carries one connection: a later client is reset at once, with a notice,
    rather than left waiting in the accept queue with nothing said.
    """
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
    line = pyline.connect(b.name, link.target)
    record_call(lab, b, "connect", line, outcome, via="loop")
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


def reset(lab: LabContext, link: Link, *, why: str) -> None:
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


def _abort(lab: LabContext, leg: LabSocket, linger: bytes) -> None:
    def set_linger() -> None:
        leg.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)

    line = pyline.linger_zero(leg.name)
    record_call(lab, leg, "setsockopt", line, perform(set_linger), via="loop")
    record_call(lab, leg, "close", pyline.close(leg.name), perform(leg.sock.close), via="loop")
    lab.remove_socket(leg)


def announce(lab: LabContext, link: Link, *, force: bool = False) -> None:
    """Record the link's state when it changed (held bytes: at most every 100 ms)."""
    now = time.monotonic_ns()
    if not force and now - link.announced_ns < LINK_EVENT_NS:
        return
    state = link.public()
    if state != link.announced:
        link.announced_ns, link.announced = now, state
        lab.emit(LinkEvent, link=state)
