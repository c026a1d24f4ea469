"""What the wire lane shows a check (pure): the segments behind a claim, in words.

A check proves its claim from the calls and the kernel's figures; where the lab captured
its segments, it also cites them ("on the wire: cli's FIN (frame 6), ..."), and where it
did not, it says which evidence it used instead. The wire can only add to a verdict here,
or contradict it (a RST where the claim says FIN): a capture the server may not make never
makes a claim fail.
"""

from __future__ import annotations

from collections.abc import Iterable

from sockscope.events import CaptureEvent, SegmentEvent

NO_CAPTURE = "evidence: the calls and the kernel's figures (no capture of the segments here)"


def segments(events: Iterable[object]) -> list[SegmentEvent]:
    """The run's segments: not those the kernel saw before the run began (a lane hands its
    segments over a little late, so the last ones of an earlier run can follow its start)."""
    listed = list(events)
    start = next((getattr(e, "t_ns", 0) for e in listed if not isinstance(e, SegmentEvent)), 0)
    return [e for e in listed if isinstance(e, SegmentEvent) and e.wire_ns >= start]


def captured(events: Iterable[object], *sockets: str) -> bool:
    """Whether the lane saw any segment of these sockets in this run (or said it is on)."""
    found = segments(events)
    if any(e.sender in sockets or e.receiver in sockets for e in found):
        return True
    states = [e for e in events if isinstance(e, CaptureEvent)]
    return bool(states) and states[-1].state == "on" and bool(found)


def first(
    events: Iterable[object],
    sender: str,
    flag: str,
    *,
    receiver: str | None = None,
    after_ns: int = 0,
    note: str | None = None,
) -> SegmentEvent | None:
    """The first segment ``sender`` sent with ``flag`` (SYN, FIN, RST, or "data") seen on the
    wire after ``after_ns`` (lab clock), to ``receiver`` when given, with ``note`` if given."""
    for e in segments(events):
        if e.sender != sender or e.wire_ns < after_ns:
            continue
        if receiver is not None and e.receiver != receiver:
            continue
        if note is not None and note not in e.notes:
            continue
        if (flag == "data" and e.length) or (flag != "data" and flag in e.flags.split()):
            return e
    return None


def name(e: SegmentEvent) -> str:
    """ "cli's FIN (frame 6)", "conn's 5 bytes (frame 9)"."""
    what = f"{e.length} bytes" if e.length and "FIN" not in e.flags else e.flags.replace(" ACK", "")
    if e.length and "FIN" in e.flags:
        what = f"{e.length} bytes and FIN"
    return f"{e.sender}'s {what} (frame {e.frame})"


def cite(observed: str, said: list[str], events: Iterable[object], *sockets: str) -> str:
    """``observed``, then what the wire showed, or which evidence stood without it."""
    if said:
        return f"{observed}; on the wire: {', then '.join(said)}"
    if not captured(events, *sockets):
        return f"{observed}; {NO_CAPTURE}"
    return observed
