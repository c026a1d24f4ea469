"""Decode Linux's ``struct tcp_info`` (include/uapi/linux/tcp.h) from raw bytes.

Pure: bytes in, a frozen record out. ``getsockopt(IPPROTO_TCP, TCP_INFO, 256)``
returns as many bytes as the running kernel knows about; older kernels return
fewer, so every field past the ones present decodes to ``None``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TCP_STATES: dict[int, str] = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
}

# (name, offset, struct format) -- little-endian, as the kernel lays them out on x86/arm.
_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("state", 0, "<B"),
    ("retransmits", 2, "<B"),
    ("probes", 3, "<B"),
    ("backoff", 4, "<B"),
    ("rto_us", 8, "<I"),
    ("snd_mss", 16, "<I"),
    ("rcv_mss", 20, "<I"),
    ("unacked", 24, "<I"),
    ("sacked", 28, "<I"),
    ("lost", 32, "<I"),
    ("retrans", 36, "<I"),
    ("rtt_us", 68, "<I"),
    ("rttvar_us", 72, "<I"),
    ("snd_ssthresh", 76, "<I"),
    ("snd_cwnd", 80, "<I"),
    ("total_retrans", 100, "<I"),
    ("rcv_space", 96, "<I"),
    ("bytes_acked", 120, "<Q"),
    ("bytes_received", 128, "<Q"),
    ("segs_out", 136, "<I"),
    ("notsent_bytes", 144, "<I"),
    ("min_rtt_us", 148, "<I"),
    ("bytes_sent", 200, "<Q"),
    ("snd_wnd", 228, "<I"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpInfo:
    """The fields of ``struct tcp_info`` Sockscope shows; ``None`` when not returned.

    For a LISTEN socket the kernel reuses two fields: ``unacked`` is the current
    accept-queue length and ``sacked`` the backlog (what ``ss`` prints as Recv-Q/Send-Q).
    """

    state: int
    retransmits: int | None = None
    probes: int | None = None
    backoff: int | None = None
    rto_us: int | None = None
    snd_mss: int | None = None
    rcv_mss: int | None = None
    unacked: int | None = None
    sacked: int | None = None
    lost: int | None = None
    retrans: int | None = None
    rtt_us: int | None = None
    rttvar_us: int | None = None
    snd_ssthresh: int | None = None
    snd_cwnd: int | None = None
    total_retrans: int | None = None
    rcv_space: int | None = None
    bytes_acked: int | None = None
    bytes_received: int | None = None
    segs_out: int | None = None
    notsent_bytes: int | None = None
    min_rtt_us: int | None = None
    bytes_sent: int | None = None
    snd_wnd: int | None = None

    @property
    def state_name(self) -> str:
        return state_name(self.state)


def state_name(number: int) -> str:
    return TCP_STATES.get(number, f"UNKNOWN({number})")


def decode_tcp_info(raw: bytes) -> TcpInfo:
    """Decode what ``getsockopt(TCP_INFO)`` returned.

    Raises:
        ValueError: ``raw`` is empty (not even the state byte came back).
    """
    if not raw:
        raise ValueError("TCP_INFO returned no bytes")
    values: dict[str, int] = {}
    for name, offset, fmt in _FIELDS:
        end = offset + struct.calcsize(fmt)
        if end <= len(raw):
            (values[name],) = struct.unpack_from(fmt, raw, offset)
    return TcpInfo(**values)
