"""What a run of TCP segments means: relative numbers, scaled windows, and the segments a
lesson points at (retransmissions, zero windows and their probes, window updates) (pure).

Theory of operation. A ``Conversations`` sees every captured segment of a lab in the order
the kernel saw them, and keeps, for each direction of each connection, what a reader of
a ladder needs: the initial sequence number (from the SYN: the SYN is seq 0 and the first
byte of data seq 1, as Wireshark counts them; a connection first seen after its SYN counts
from the byte before its first segment), the window scale both SYNs agreed on (RFC 7323
2.2: a SYN's own window is never scaled; the scale applies only if both SYNs carried
the option), the highest sequence number sent so far, and the last ACK and window.

From those, each segment gets its notes:
- ``retransmission``: it carries data (or a SYN or FIN) that its sender had sent before;
- ``zero window``: it advertises no room at all;
- ``window probe``: a segment of no data, one byte before the sender's next, while the
  peer's window is zero (Linux's probe, tcp_xmit_probe_skb); with a non-zero window the
  same shape is a ``keepalive``;
- ``window update``: no data, the same ACK as its sender's last, a different window;
- ``duplicate ack``: no data, the same ACK and window as its sender's last, while the
  other side has data outstanding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sockscope.engine.core.frames import ACK, FIN, RST, SYN, Frame

Endpoint = tuple[str, int]
_MOD = 1 << 32


@dataclass(slots=True)
class _Side:
    base: int  # the sequence number that counts as 0 (the ISN)
    high: int  # the highest end (seq + length, SYN and FIN count one) sent, relative
    wscale: int | None = None  # from this side's SYN
    syn_seen: bool = False
    last_ack: int | None = None  # relative to the other side's base
    last_window: int | None = None  # scaled


@dataclass(slots=True)
class _Conversation:
    sides: dict[Endpoint, _Side] = field(default_factory=dict)
    scaled: bool = False  # both SYNs offered window scaling


class Segment(NamedTuple):
    """A captured segment, read in its connection's context (a tuple: made by the thousand)."""

    src: Endpoint
    dst: Endpoint
    flags: int
    seq: int  # relative to the sender's ISN
    ack: int | None  # relative to the receiver's ISN; None without the ACK flag
    length: int
    window: int  # in bytes, the window scale applied
    wscale: int | None  # the sender's window-scale option (SYN only)
    mss: int | None
    notes: tuple[str, ...]

    @property
    def offset(self) -> int | None:
        """The stream offset (0 = the first byte the sender's program sent) of the segment's
        first payload byte; None without payload."""
        return self.seq - 1 if self.length else None


class Conversations:
    """The connections of one capture, in the order its segments came."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[Endpoint, Endpoint], _Conversation] = {}

    def read(self, frame: Frame) -> Segment:
        key = (frame.src, frame.dst) if frame.src <= frame.dst else (frame.dst, frame.src)
        talk = self._by_key.get(key)
        syn = bool(frame.flags & SYN)
        if talk is None or (syn and not frame.flags & ACK and self._new_syn(talk, frame)):
            talk = self._by_key[key] = _Conversation()  # a new connection (or a port reused)
        me = talk.sides.get(frame.src)
        if me is None:
            base = frame.seq if syn else (frame.seq - 1) % _MOD
            me = talk.sides[frame.src] = _Side(base=base, high=0)
        if syn and not me.syn_seen:
            me.syn_seen, me.wscale = True, frame.wscale
            peer = talk.sides.get(frame.dst)
            talk.scaled = frame.wscale is not None and (
                peer is not None and peer.syn_seen and peer.wscale is not None
            )
        peer = talk.sides.get(frame.dst)
        seq = (frame.seq - me.base) % _MOD
        ack = None
        if frame.flags & ACK and peer is not None:
            ack = (frame.ack - peer.base) % _MOD
        elif frame.flags & ACK:  # the other side not seen yet: count from what it acks
            peer = talk.sides[frame.dst] = _Side(base=(frame.ack - 1) % _MOD, high=1)
            ack = 1
        shift = me.wscale if talk.scaled and not syn and me.wscale is not None else 0
        window = frame.window << shift
        notes = self._notes(me, peer, frame, seq, ack, window)
        end = seq + frame.length + (1 if syn else 0) + (1 if frame.flags & FIN else 0)
        me.high = max(me.high, end)
        if ack is not None:
            me.last_ack, me.last_window = ack, window
        return Segment(
            src=frame.src,
            dst=frame.dst,
            flags=frame.flags,
            seq=seq,
            ack=ack,
            length=frame.length,
            window=window,
            wscale=frame.wscale if syn else None,
            mss=frame.mss,
            notes=notes,
        )

    @staticmethod
    def _new_syn(talk: _Conversation, frame: Frame) -> bool:
        side = talk.sides.get(frame.src)
        return side is not None and side.syn_seen and frame.seq != side.base

    @staticmethod
    def _notes(
        me: _Side, peer: _Side | None, frame: Frame, seq: int, ack: int | None, window: int
    ) -> tuple[str, ...]:
        notes: list[str] = []
        flags = frame.flags
        consumes = frame.length or flags & (SYN | FIN)
        if consumes and seq < me.high:
            notes.append("retransmission")
        if flags & RST:
            return tuple(notes)
        if flags & ACK and window == 0 and not flags & SYN:
            notes.append("zero window")
        if not consumes and me.high and seq == me.high - 1:
            peer_closed = peer is not None and peer.last_window == 0
            notes.append("window probe" if peer_closed else "keepalive")
        elif not consumes and ack is not None and ack == me.last_ack and seq == me.high:
            if window != me.last_window:
                notes.append("window update")
            elif peer is not None and peer.high > ack:
                notes.append("duplicate ack")
        return tuple(notes)
