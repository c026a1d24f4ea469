"""Read what the kernel holds for a socket: queues, buffer sizes, TCP_INFO.

The numbers come from ioctl(SIOCINQ/SIOCOUTQ/SIOCOUTQNSD), getsockopt(SO_RCVBUF,
SO_SNDBUF) and getsockopt(TCP_INFO); decoding TCP_INFO is left to the pure
:mod:`sockscope.engine.core.tcpinfo`.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import time

from sockscope.engine.context import LabContext
from sockscope.engine.core.tcpinfo import TcpInfo, decode_tcp_info
from sockscope.engine.sockets import LabSocket
from sockscope.events import Figures, ProbeEvent

SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
SIOCOUTQNSD = 0x894B
TCP_INFO_LEN = 256
_LISTEN = 10
_CLOSE = 7  # never connected, or fully closed: no path, so no rtt or window to show


def ioctl_int(sock: socket.socket, request: int) -> int | None:
    """One integer ioctl; ``None`` where the kernel refuses it for this socket."""
    try:
        raw = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
    except OSError:
        return None
    return int(struct.unpack("i", raw)[0])


def read_tcp_info(sock: socket.socket) -> TcpInfo | None:
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)
    except OSError:
        return None
    return decode_tcp_info(raw) if raw else None


def figures_from(
    info: TcpInfo | None,
    *,
    rcvbuf: int,
    sndbuf: int,
    recv_queue: int | None,
    send_queue: int | None,
    unsent: int | None,
) -> Figures:
    """Combine the raw readings into one :class:`Figures` record (pure)."""
    listening = info is not None and info.state == _LISTEN
    connected = info is not None and info.state not in (_LISTEN, _CLOSE)
    return Figures(
        state=info.state_name if info is not None else "UNCONNECTED",
        recv_queue=None if listening else recv_queue,
        send_queue=None if listening else send_queue,
        unsent=None if listening else unsent,
        rcvbuf=rcvbuf,
        sndbuf=sndbuf,
        accept_queue=info.unacked if listening and info is not None else None,
        backlog=info.sacked if listening and info is not None else None,
        rtt_us=info.rtt_us if connected and info is not None else None,
        cwnd=info.snd_cwnd if connected and info is not None else None,
        unacked=info.unacked if connected and info is not None else None,
        retransmits=info.retransmits if connected and info is not None else None,
        total_retrans=info.total_retrans if connected and info is not None else None,
        snd_wnd=info.snd_wnd if connected and info is not None else None,
        bytes_acked=info.bytes_acked if connected and info is not None else None,
        bytes_received=info.bytes_received if connected and info is not None else None,
        probes=info.probes if connected and info is not None else None,
        backoff=info.backoff if connected and info is not None else None,
    )


def probe(sock: socket.socket) -> Figures:
    """Read every figure for ``sock`` (a handful of syscalls, none blocking).

    A TCP socket that was never connected or bound reports state CLOSE in
    TCP_INFO; it is shown as such.
    """
    return figures_from(
        read_tcp_info(sock),
        rcvbuf=sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        sndbuf=sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
        recv_queue=ioctl_int(sock, SIOCINQ),
        send_queue=ioctl_int(sock, SIOCOUTQ),
        unsent=ioctl_int(sock, SIOCOUTQNSD),
    )


def probe_now(lab: LabContext, *sockets: LabSocket) -> None:
    """Probe each socket still in the lab; a changed reading becomes a probe event."""
    for ls in sockets:
        if ls.name not in lab.sockets:
            continue
        try:
            figures = probe(ls.sock)
        except OSError:
            continue
        ls.probed_ns = time.monotonic_ns()
        lab.dirty.discard(ls.name)
        if figures != ls.figures:
            ls.figures = figures
            lab.emit(ProbeEvent, socket=ls.name, figures=figures)


class ProbeClock:
    """When the lab probes: every socket (and link, and the closed-connection watch) each
    ``period_ns``; in between, the sockets a call changed, at most every ``min_ns`` each."""

    LOOK_NS = 1_000_000  # the dirty sockets are looked at at most every 1 ms

    def __init__(self, period_ns: int, min_ns: int) -> None:
        self.period_ns, self.min_ns = period_ns, min_ns
        self.last_all = 0
        self.next_look = 0  # before this, nothing can be due: a turn checks one number

    def all_due(self, now_ns: int) -> bool:
        """True (and the clock restarted) when a probe of everything is due."""
        if now_ns - self.last_all < self.period_ns:
            return False
        self.last_all = now_ns
        return True

    def probe_dirty(self, lab: LabContext, now_ns: int) -> None:
        """Probe the sockets a call changed that were not probed for ``min_ns``; then wait
        LOOK_NS (or until the next probe of everything) before looking again: a flood's
        turns (tens of thousands a second) look at the clock, not at the sockets."""
        self.next_look = min(now_ns + self.LOOK_NS, self.last_all + self.period_ns)
        if not lab.dirty:
            return
        due = [
            lab.sockets[name]
            for name in lab.dirty
            if name in lab.sockets and now_ns - lab.sockets[name].probed_ns >= self.min_ns
        ]
        if due:
            probe_now(lab, *due)
