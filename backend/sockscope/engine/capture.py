"""A lab's capture: its own TCP segments off ``lo``, read into the lab's event log and
kept, within a bound, for the pcapng export.

Theory of operation. The lab thread owns a ``LabCapture``. When the lab's TCP sockets
change, ``follow`` works out which segments are the lab's (its listening ports, and the
port pairs of its connections, open or closed and still known to the kernel) and swaps
the kernel filter if that changed. The ring's socket sits in select()'s readers beside
the wakeup socket; when the kernel hands over a block (full, or ``RETIRE_MS`` after its
first frame), ``take`` reads it: every frame becomes a ``SegmentEvent`` (who sent it, to
whom, relative numbers, scaled window, notes) and is kept for the export.

Bounds. A connection's payload is captured whole up to ``share`` bytes; past that its
segments are kept without payload (the filter cuts them in the kernel, so a flood costs
headers, not copies). What is kept is at most ``max_frames`` frames and ``max_bytes``
bytes; the oldest go first, counted. The kernel's own drops (a ring full while the lab
was busy) are counted from PACKET_STATISTICS. All of it is in the ``CaptureEvent``s.
"""

from __future__ import annotations

import collections
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from sockscope.engine.core import frames
from sockscope.engine.core.segments import Conversations, Segment
from sockscope.engine.packetring import CaptureRefused, PacketRing, wall_to_monotonic_ns
from sockscope.events import CaptureEvent, SegmentEvent

if TYPE_CHECKING:
    from sockscope.engine.context import LabContext
    from sockscope.engine.sockets import LabSocket

Pair = tuple[int, int]
SHARE_BYTES = 2 * 1024 * 1024  # payload captured whole per connection (the 1 MiB lesson fits)
MAX_FRAMES = 20_000
MAX_BYTES = 8 * 1024 * 1024
HOLD_NS = 100_000_000  # how long a segment waits for the lab to know its ends
REPORT_NS = 500_000_000  # the counts are told at most twice a second
_CAPTURING: set[int] = set()  # the labs of this process whose lane is open (LabPolicy.capture_labs)
_CAPTURING_LOCK = threading.Lock()


class KeptFrame(NamedTuple):
    """A captured frame as the export writes it (a tuple: kept by the thousand)."""

    number: int  # from 1
    wire_ns: int  # monotonic, as the lab's events
    wall_ns: int  # as the kernel stamped it (the export's timestamps)
    length: int  # on the wire
    data: bytes  # as captured (shorter than ``length`` when cut)
    event_seq: int  # the SegmentEvent that describes it


@dataclass(frozen=True, slots=True)
class CaptureCopy:
    """What the wire lane holds at one moment (``LabEngine.capture_frames``)."""

    frames: list[KeptFrame]
    status: dict[str, object]  # as the lab's snapshot shows it


@dataclass(frozen=True, slots=True)
class Plan:
    """Which segments are the lab's: what the kernel filter is made of."""

    listening: frozenset[int]
    pairs: frozenset[Pair]
    short: frozenset[Pair]

    def program(self) -> bytes:
        return frames.build_filter(self.listening, self.pairs, self.short)


def pair(a: int, b: int) -> Pair:
    return (a, b) if a <= b else (b, a)


class _Lane:
    """One network's ring (the machine's ``lo``, or the lab's private one), its filter and
    the story of its connections."""

    def __init__(self, network: str, ring: PacketRing) -> None:
        self.network, self.ring = network, ring
        self.plan = Plan(frozenset(), frozenset(), frozenset())
        self.conversations = Conversations()
        self.payload: dict[Pair, int] = {}  # payload bytes captured, per connection
        self.short: set[Pair] = set()  # connections past their share: headers only
        self.since: dict[Pair, int] = {}  # (local, remote) port pair -> when the lab had it
        # parsed, read in order, waiting to be named: (frame, segment, wall, wire, length, data)
        self.waiting: collections.deque[tuple[frames.Frame, Segment, int, int, int, bytes]] = (
            collections.deque()
        )

    def refilter(self, plan: Plan) -> None:
        if plan != self.plan:
            self.plan = plan
            self.ring.set_filter(plan.program())

    def follow(self, sockets: Iterable[LabSocket], closed: Iterable[Pair], now: int) -> None:
        listening: set[int] = set()
        pairs: set[Pair] = {pair(a, b) for a, b in closed}
        for ls in sockets:
            if ls.datagram or ls.network != self.network or ls.local is None:
                continue
            peer = ls.peer or (ls.target if ls.role == "connecting" else None)
            if ls.role == "listening":
                listening.add(ls.local[1])
            elif peer is not None:
                pairs.add(pair(ls.local[1], peer[1]))
                self.since.setdefault((ls.local[1], peer[1]), now)
        short = self.short & pairs
        self.refilter(Plan(frozenset(listening), frozenset(pairs - short), frozenset(short)))

    def clear(self) -> None:
        self.waiting.clear()
        self.payload.clear()
        self.short.clear()
        self.conversations = Conversations()


class LabCapture:
    """The lab's wire lane: a lane per network it has sockets in. Lab thread only."""

    def __init__(
        self,
        *,
        share: int = SHARE_BYTES,
        max_frames: int = MAX_FRAMES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.share, self.max_frames, self.max_bytes = share, max_frames, max_bytes
        self.state: Literal["on", "unavailable", "off"] = "off"
        self.reason: str | None = None
        self.lanes: dict[str, _Lane] = {}
        self.kept: collections.deque[KeptFrame] = collections.deque()
        self.kept_bytes = 0
        self.frames = self.dropped_kept = self.cut = 0
        self._reported: tuple[object, ...] = ()
        self._reported_at = -REPORT_NS

    @property
    def socks(self) -> tuple[socket.socket, ...]:
        """What select() waits on: each readable when the kernel hands a block over."""
        return tuple(lane.ring.sock for lane in self.lanes.values())

    def start(self, lab: LabContext) -> None:
        """Open the machine's ring and say so; a refusal is said once and the lab goes on
        without its wire lane."""
        if self.state != "off":
            return
        limit = lab.policy.capture_labs
        with _CAPTURING_LOCK:
            full = len(_CAPTURING) >= limit
            if not full:
                _CAPTURING.add(id(self))
        try:
            if full:
                raise CaptureRefused(
                    f"this server captures {limit} labs at once, and that many are capturing"
                    " (each one's filter runs on every frame of the loopback)"
                )
            made = PacketRing.open(frames.build_filter(set(), set()))
        except CaptureRefused as exc:
            self._release()
            self.state, self.reason = "unavailable", str(exc)
        else:
            self.lanes["host"] = _Lane("host", made)
            self.state, self.reason = "on", None
        self.report(lab, force=True)

    def _release(self) -> None:
        with _CAPTURING_LOCK:
            _CAPTURING.discard(id(self))

    def add_network(self, lab: LabContext, network: str, sock: socket.socket) -> None:
        """A lane for another network (the lab's private one), on an unbound packet socket
        its helper opened there, where the helper's user namespace holds CAP_NET_RAW."""
        if network in self.lanes:
            sock.close()
            return
        try:
            ring = PacketRing.adopt(sock, frames.build_filter(set(), set()))
        except CaptureRefused as exc:
            lab.emit_notice(None, f"the private network's segments are not captured: {exc}")
            return
        self.lanes[network] = _Lane(network, ring)
        if self.state != "on":  # the machine's lane was refused; this one works
            self.state = "on"
            self.reason = None
        self.report(lab, force=True)

    def drop_network(self, network: str) -> None:
        lane = self.lanes.pop(network, None)
        if lane is not None:
            lane.ring.close()

    def follow(
        self, sockets: Iterable[LabSocket], closed: Iterable[tuple[str, int, int]], now: int
    ) -> None:
        """Keep each lane's filter on the lab's own segments there: its TCP sockets' and
        those of its closed connections the kernel still has. ``now``: the lab's clock,
        when a connection first shows (what ``Ends`` names by)."""
        listed = list(sockets)
        gone = list(closed)
        for lane in self.lanes.values():
            lane.follow(listed, [(a, b) for net, a, b in gone if net == lane.network], now)

    def take(
        self,
        lab: LabContext,
        sockets: Iterable[LabSocket],
        closed: dict[tuple[str, int, int], str],
    ) -> int:
        """Read what the kernel handed over into the log, each segment's ends named by the
        lab's ``sockets`` (and its ``closed`` connections' names: (network, local port,
        remote port) -> name). A segment the lab cannot name yet (a connect() whose SYN
        left before the call returned) waits, and those after it, until it can or
        ``HOLD_NS`` have gone by. Returns how many were logged."""
        if not self.lanes:
            return 0
        shift = wall_to_monotonic_ns() - lab.t0
        listed = list(sockets)
        now, count = lab.now_ns(), 0
        for lane in self.lanes.values():
            read = lane.conversations.read
            for wall_ns, length, data in lane.ring.frames():
                frame = frames.parse(data)
                if frame is not None:  # read in the kernel's order, always
                    lane.waiting.append(
                        (frame, read(frame), wall_ns, wall_ns + shift, length, data)
                    )
            if not lane.waiting:
                continue
            mine = [ls for ls in listed if ls.network == lane.network]
            names = {(a, b): n for (net, a, b), n in closed.items() if net == lane.network}
            ends = Ends(mine, names, lane.since)
            while lane.waiting:
                frame, segment, wall_ns, wire_ns, length, data = lane.waiting[0]
                sender, receiver = ends(frame.src[1], frame.dst[1], wire_ns)
                if (sender is None or receiver is None) and now - wire_ns < HOLD_NS:
                    break
                lane.waiting.popleft()
                self._log(lab, lane, frame, segment, wall_ns, wire_ns, length, data,
                          sender, receiver)  # fmt: skip
                count += 1
            if lane.short - lane.plan.short:
                # connections that used up their share: cut their payload in the kernel now
                short = lane.short & (lane.plan.pairs | lane.plan.short)
                lane.refilter(Plan(lane.plan.listening, lane.plan.pairs - short, frozenset(short)))
        return count

    def _log(
        self,
        lab: LabContext,
        lane: _Lane,
        frame: frames.Frame,
        segment: Segment,
        wall_ns: int,
        wire_ns: int,
        length: int,
        data: bytes,
        sender: str | None,
        receiver: str | None,
    ) -> None:
        self.frames += 1
        key = pair(frame.src[1], frame.dst[1])
        if frame.length and len(frame.payload) < frame.length:
            self.cut += 1
        elif frame.length and key not in lane.short:
            got = lane.payload.get(key, 0) + frame.length
            lane.payload[key] = got
            if got >= self.share:
                lane.short.add(key)
        event = lab.emit(
            SegmentEvent,
            wire_ns=wire_ns,
            frame=self.frames,
            sender=sender,
            receiver=receiver,
            src=segment.src,
            dst=segment.dst,
            flags=frames.flag_names(segment.flags),
            rel_seq=segment.seq,
            rel_ack=segment.ack,
            length=segment.length,
            window=segment.window,
            wscale=segment.wscale,
            mss=segment.mss,
            offset=segment.offset,
            notes=segment.notes,
        )
        self._keep(KeptFrame(self.frames, wire_ns, wall_ns, length, data, event.seq))

    def _keep(self, kept: KeptFrame) -> None:
        self.kept.append(kept)
        self.kept_bytes += len(kept.data)
        while len(self.kept) > self.max_frames or self.kept_bytes > self.max_bytes:
            old = self.kept.popleft()
            self.kept_bytes -= len(old.data)
            self.dropped_kept += 1

    def counts(self) -> tuple[int, int, int, int, int]:
        """(frames, kept, dropped_kept, dropped_kernel, cut)."""
        dropped = sum(lane.ring.statistics()[1] for lane in self.lanes.values())
        return self.frames, len(self.kept), self.dropped_kept, dropped, self.cut

    def report(self, lab: LabContext, *, force: bool = False) -> None:
        """A CaptureEvent when the counts moved since the last one, at most every
        ``REPORT_NS`` (or at once when ``force``)."""
        at = lab.now_ns()
        if not force and at - self._reported_at < REPORT_NS:
            return
        counts = self.counts()
        now = (self.state, *counts)
        if not force and now == self._reported:
            return
        self._reported, self._reported_at = now, at
        frames_, kept, dropped_kept, dropped_kernel, cut = counts
        lab.emit(CaptureEvent, state=self.state, reason=self.reason, frames=frames_, kept=kept,
                 dropped_kept=dropped_kept, dropped_kernel=dropped_kernel, cut=cut)  # fmt: skip

    def status(self) -> dict[str, object]:
        """For the lab's snapshot."""
        names = ("frames", "kept", "dropped_kept", "dropped_kernel", "cut")
        return {
            "state": self.state,
            "reason": self.reason,
            **dict(zip(names, self.counts(), strict=True)),
        }

    def clear(self) -> None:
        """Forget what was captured (a lab reset): the next connection starts a new story."""
        self.kept.clear()
        self.kept_bytes = 0
        for lane in self.lanes.values():
            lane.clear()

    def close(self) -> None:
        for lane in self.lanes.values():
            lane.ring.close()
        self.lanes.clear()
        self._release()
        self.state = "off" if self.state == "on" else self.state


class Ends:
    """The lab's names for the two ends of a segment, from its ports and its time: the
    connected socket, from the moment the lab had it (``since``: a connect(), an accept()
    returning it), else the listener whose port it is (a handshake, and what a client
    sent before accept()), else the closed socket whose connection it was; None: not a
    socket of this lab."""

    def __init__(
        self, sockets: Iterable[LabSocket], closed: dict[Pair, str], since: dict[Pair, int]
    ) -> None:
        self._pairs: dict[Pair, str] = dict(closed)  # (local port, remote port) -> name
        self._since = since
        self._listeners: dict[int, str] = {}
        for ls in sockets:
            if ls.datagram or ls.local is None:
                continue
            peer = ls.peer or (ls.target if ls.role == "connecting" else None)
            if ls.role == "listening":
                self._listeners[ls.local[1]] = ls.name
            elif peer is not None:
                self._pairs[(ls.local[1], peer[1])] = ls.name

    def name(self, local: int, remote: int, at: int) -> str | None:
        found = self._pairs.get((local, remote))
        listener = self._listeners.get(local)
        if found is None or (listener is not None and at < self._since.get((local, remote), 0)):
            return listener
        return found

    def __call__(self, src: int, dst: int, at: int) -> tuple[str | None, str | None]:
        return self.name(src, dst, at), self.name(dst, src, at)
