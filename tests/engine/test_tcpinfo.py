"""TCP_INFO decoding and the figures derived from it, on hand-built bytes (no sockets)."""

from __future__ import annotations

import struct

import pytest

from sockscope.engine.core.tcpinfo import TcpInfo, decode_tcp_info, state_name
from sockscope.engine.probes import figures_from

# The layout of include/uapi/linux/tcp.h, written out here independently of the decoder's
# own table: (field, offset, struct format, a value that only fits the right width).
DOCUMENTED: tuple[tuple[str, int, str, int], ...] = (
    ("state", 0, "<B", 1),
    ("retransmits", 2, "<B", 0xC3),
    ("rto_us", 8, "<I", 0x8000_0007),  # top bit set: a signed read would go negative
    ("unacked", 24, "<I", 24_001),
    ("sacked", 28, "<I", 28_002),
    ("rtt_us", 68, "<I", 68_003),
    ("snd_cwnd", 80, "<I", 80_004),
    ("total_retrans", 100, "<I", 100_005),
    ("bytes_acked", 120, "<Q", (1 << 40) + 120),  # wider than 32 bits
    ("bytes_received", 128, "<Q", (1 << 50) + 128),
    ("snd_wnd", 228, "<I", 228_006),
)
FULL_LENGTH = 232  # everything up to and including tcpi_snd_wnd


def packed(length: int = FULL_LENGTH, background: int = 0xAA) -> bytes:
    """The documented fields packed at their offsets, over a noisy background byte."""
    raw = bytearray([background] * length)
    for _name, offset, fmt, value in DOCUMENTED:
        if offset + struct.calcsize(fmt) <= length:
            struct.pack_into(fmt, raw, offset, value)
    return bytes(raw)


@pytest.mark.parametrize(("name", "offset", "fmt", "value"), DOCUMENTED)
def test_every_documented_field_reads_back(name: str, offset: int, fmt: str, value: int) -> None:
    info = decode_tcp_info(packed())
    assert getattr(info, name) == value


def test_fields_read_only_their_own_bytes() -> None:
    # Over a zero background every field not packed must stay 0: a field read at the
    # wrong offset or width would pick up a neighbour's value.
    info = decode_tcp_info(packed(background=0))
    documented = {name: value for name, _offset, _fmt, value in DOCUMENTED}
    for field in TcpInfo.__dataclass_fields__:
        assert getattr(info, field) == documented.get(field, 0), field


@pytest.mark.parametrize("length", [1, 3, 104, 127, 128, 136, 228, 231, FULL_LENGTH, 256])
def test_a_short_buffer_gives_none_past_its_end(length: int) -> None:
    info = decode_tcp_info(packed(length))
    for name, offset, fmt, value in DOCUMENTED:
        present = offset + struct.calcsize(fmt) <= length
        assert getattr(info, name) == (value if present else None), (name, length)


def test_what_an_older_kernel_returns() -> None:
    info = decode_tcp_info(packed(104))
    assert info.total_retrans == 100_005
    assert info.bytes_acked is None
    assert info.bytes_received is None
    assert info.snd_wnd is None


def test_empty_bytes_raise() -> None:
    with pytest.raises(ValueError, match="no bytes"):
        decode_tcp_info(b"")


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (1, "ESTABLISHED"),
        (2, "SYN_SENT"),
        (3, "SYN_RECV"),
        (4, "FIN_WAIT1"),
        (5, "FIN_WAIT2"),
        (6, "TIME_WAIT"),
        (7, "CLOSE"),
        (8, "CLOSE_WAIT"),
        (9, "LAST_ACK"),
        (10, "LISTEN"),
        (11, "CLOSING"),
    ],
)
def test_state_names(number: int, name: str) -> None:
    assert state_name(number) == name
    assert decode_tcp_info(bytes([number])).state_name == name


@pytest.mark.parametrize("number", [0, 12, 255])
def test_an_unknown_state_shows_its_number(number: int) -> None:
    assert state_name(number) == f"UNKNOWN({number})"
    assert decode_tcp_info(bytes([number])).state_name == f"UNKNOWN({number})"


def test_a_listening_socket_shows_its_accept_queue_and_backlog() -> None:
    info = TcpInfo(
        state=10, unacked=3, sacked=128, rtt_us=50, snd_cwnd=10, retransmits=0,
        total_retrans=0, snd_wnd=65535, bytes_acked=0, bytes_received=0,
    )  # fmt: skip
    figures = figures_from(
        info, rcvbuf=131072, sndbuf=16384, recv_queue=3, send_queue=128, unsent=0
    )
    assert figures.state == "LISTEN"
    assert (figures.accept_queue, figures.backlog) == (3, 128)
    # The kernel reuses the queue readings for a listener: they would mislead.
    assert (figures.recv_queue, figures.send_queue, figures.unsent) == (None, None, None)
    assert (figures.rtt_us, figures.cwnd, figures.unacked, figures.snd_wnd) == (None,) * 4
    assert (figures.rcvbuf, figures.sndbuf) == (131072, 16384)


def test_a_connected_socket_shows_its_tcp_figures() -> None:
    info = TcpInfo(
        state=1, unacked=7, sacked=2, rtt_us=42, snd_cwnd=11, retransmits=1,
        total_retrans=5, snd_wnd=65000, bytes_acked=1 << 33, bytes_received=12345,
    )  # fmt: skip
    figures = figures_from(
        info, rcvbuf=131072, sndbuf=16384, recv_queue=100, send_queue=200, unsent=50
    )
    assert figures.state == "ESTABLISHED"
    assert (figures.recv_queue, figures.send_queue, figures.unsent) == (100, 200, 50)
    assert (figures.accept_queue, figures.backlog) == (None, None)
    assert figures.rtt_us == 42
    assert figures.cwnd == 11
    assert figures.unacked == 7
    assert figures.retransmits == 1
    assert figures.total_retrans == 5
    assert figures.snd_wnd == 65000
    assert figures.bytes_acked == 1 << 33
    assert figures.bytes_received == 12345


def test_a_connected_socket_decoded_from_an_older_kernel_keeps_its_nones() -> None:
    info = decode_tcp_info(packed(104))
    figures = figures_from(info, rcvbuf=1, sndbuf=2, recv_queue=0, send_queue=0, unsent=0)
    assert figures.rtt_us == 68_003
    assert figures.bytes_acked is None
    assert figures.snd_wnd is None


def test_without_tcp_info_a_socket_is_unconnected() -> None:
    figures = figures_from(None, rcvbuf=1, sndbuf=2, recv_queue=4, send_queue=5, unsent=6)
    assert figures.state == "UNCONNECTED"
    assert (figures.recv_queue, figures.send_queue, figures.unsent) == (4, 5, 6)
    assert (figures.accept_queue, figures.backlog, figures.rtt_us, figures.cwnd) == (None,) * 4


def test_a_socket_in_close_has_no_path_figures() -> None:
    """A new (never connected) socket reports CLOSE: rtt and cwnd mean nothing yet."""
    raw = bytearray(256)
    struct.pack_into("<B", raw, 0, 7)
    struct.pack_into("<I", raw, 80, 10)  # the kernel's initial cwnd
    figures = figures_from(
        decode_tcp_info(bytes(raw)),
        rcvbuf=1,
        sndbuf=1,
        recv_queue=0,
        send_queue=0,
        unsent=0,
    )
    assert figures.state == "CLOSE"
    assert figures.cwnd is None and figures.rtt_us is None
    assert figures.recv_queue == 0
