"""A lab's capture as a pcapng file: its frames, each commented with the call behind it."""

from __future__ import annotations

from collections.abc import Iterable

from sockscope.engine.capture import KeptFrame
from sockscope.export import pcapng
from sockscope.export.causes import causes


def capture_file(frames: list[KeptFrame], events: Iterable[object], lab_id: str) -> bytes:
    """The pcapng bytes of ``frames``; ``events`` is the lab's log (oldest first), read for
    the calls that caused them. A frame's comment names its segment's number in the lab's
    wire lane and, where the lab knows it, the call."""
    why = causes(events)
    packets = []
    for kept in frames:
        cause = why.get(kept.number)
        comment = f"sockscope frame {kept.number}" + (f": {cause.text}" if cause else "")
        packets.append(pcapng.Packet(kept.wall_ns, kept.length, kept.data, comment))
    return pcapng.write(packets, application=f"Sockscope lab {lab_id[:8]}")
