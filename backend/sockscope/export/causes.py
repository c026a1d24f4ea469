"""Which call caused which segment: the links between the call log and the wire (pure).

Read from a lab's events in order. A segment's cause is a call of the socket that sent it,
made before the kernel saw the segment:
- a SYN: the sender's ``connect()``;
- a SYN-ACK: the listener's ``listen()`` (the kernel answers for it, before any accept());
- data: the ``send()`` whose bytes it carried, found by stream offset;
- a FIN: the sender's ``shutdown()`` or ``close()``;
- a RST: the sender's ``close()`` (an abort is SO_LINGER 0, then close());
- a window update: the sender's last ``recv()`` that read bytes: it made the room.
Anything else (ACKs, probes, retransmissions) is the kernel's own doing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from sockscope.events import CallEvent, SegmentEvent

_CLOSING = ("close", "shutdown")


@dataclass(slots=True)
class _Calls:
    connect: list[CallEvent] = field(default_factory=list)
    listen: list[CallEvent] = field(default_factory=list)
    closing: list[CallEvent] = field(default_factory=list)
    recv: list[CallEvent] = field(default_factory=list)
    sends: list[CallEvent] = field(default_factory=list)  # in stream order
    send_offsets: list[int] = field(default_factory=list)  # each one's data.offset


@dataclass(frozen=True, slots=True)
class Cause:
    """The calls behind one segment, and a line for a pcapng comment."""

    frame: int
    calls: tuple[int, ...]  # call ids
    text: str


def _before(calls: list[CallEvent], at_ns: int) -> CallEvent | None:
    for call in reversed(calls):
        if call.started_ns <= at_ns:
            return call
    return None


def causes(events: Iterable[object]) -> dict[int, Cause]:
    """For each captured frame (SegmentEvent.frame) the lab can explain, its cause."""
    by_socket: dict[str, _Calls] = {}
    found: dict[int, Cause] = {}
    for event in events:
        if isinstance(event, CallEvent):
            if event.errno is not None and event.op not in ("connect",):
                continue
            calls = by_socket.setdefault(event.socket, _Calls())
            if event.op in ("connect", "connect_ex"):
                calls.connect.append(event)
            elif event.op == "listen":
                calls.listen.append(event)
            elif event.op in _CLOSING:
                calls.closing.append(event)
            elif event.op in ("recv", "recv_into") and event.done:
                calls.recv.append(event)
            elif event.data is not None and event.done and event.op.startswith("send"):
                calls.sends.append(event)
                calls.send_offsets.append(event.data.offset)
        elif isinstance(event, SegmentEvent) and event.sender is not None:
            cause = _cause(event, by_socket.get(event.sender))
            if cause is not None:
                found[event.frame] = cause
    return found


def _cause(seg: SegmentEvent, calls: _Calls | None) -> Cause | None:
    parts: list[tuple[CallEvent, str]] = []
    kernel = [n for n in seg.notes if n in ("retransmission", "window probe", "keepalive")]
    if calls is not None and "window probe" not in kernel and "keepalive" not in kernel:
        flags = seg.flags.split()
        at = seg.wire_ns
        if "SYN" in flags and "ACK" not in flags:
            call = _before(calls.connect, at)
            if call:
                parts.append((call, f"the SYN of {call.line}"))
        elif "SYN" in flags:
            call = _before(calls.listen, at)
            if call:
                parts.append((call, f"the kernel answers for {seg.sender} ({call.line})"))
        if seg.offset is not None:
            parts += _senders(seg, calls)
        if "FIN" in flags or "RST" in flags:
            call = _before(calls.closing, at)
            if call:
                what = "FIN" if "FIN" in flags else "RST"
                parts.append((call, f"the {what} of {call.line}"))
        if "window update" in seg.notes:
            call = _before(calls.recv, at)
            if call:
                parts.append((call, f"{call.line} read {call.done} bytes: room again"))
    said = "; ".join(f"{line} (call {call.call_id})" for call, line in parts)
    if kernel:  # sent by the kernel on its own: a timer, not a call
        text = f"{', '.join(kernel)} by the kernel of {seg.sender}" + (f": {said}" if said else "")
    elif said:
        text = said
    else:
        return None
    return Cause(seg.frame, tuple(call.call_id for call, _ in parts), text)


def _senders(seg: SegmentEvent, calls: _Calls) -> list[tuple[CallEvent, str]]:
    """The send() calls whose bytes a data segment carried (by stream offset)."""
    assert seg.offset is not None
    start, end = seg.offset, seg.offset + seg.length
    parts = []
    for call in calls.sends[max(bisect.bisect_right(calls.send_offsets, start) - 1, 0) :]:
        if call.data is None or call.done is None:
            continue
        first, last = call.data.offset, call.data.offset + call.done
        if first >= end:
            break
        if first < end and start < last:
            lo, hi = max(first, start), min(last, end)
            parts.append((call, f"bytes {lo}-{hi - 1} of {call.line}"))
    return parts
