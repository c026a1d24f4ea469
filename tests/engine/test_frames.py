"""Frames off lo, their TCP headers, and the kernel filter, without sockets (pure).

The filter is checked by running it: a small classic BPF interpreter below executes the
program ``build_filter`` makes on frames made here, as the kernel would (the real kernel
runs it in tests/engine/test_capture.py).
"""

from __future__ import annotations

import ipaddress
import struct

import pytest

from sockscope.engine.core import frames
from sockscope.engine.core.frames import ACK, FIN, PSH, SYN, Frame, build_filter, parse
from sockscope.engine.core.segments import Conversations

HOST, OUTGOING = 0, 4


def tcp_header(sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
               options: bytes = b"") -> bytes:  # fmt: skip
    options += b"\x00" * (-len(options) % 4)
    offset = (20 + len(options)) // 4 << 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset, flags, window, 0, 0) + options


def ipv4_frame(sport: int, dport: int, *, flags: int = ACK, seq: int = 1000, ack: int = 0,
               window: int = 512, payload: bytes = b"", options: bytes = b"",
               ip_options: bytes = b"", fragment: int = 0, proto: int = 6) -> bytes:  # fmt: skip
    tcp = tcp_header(sport, dport, seq, ack, flags, window, options) + payload
    ihl = (20 + len(ip_options)) // 4
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(tcp), 1, fragment, 64, proto,
                     0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + ip_options  # fmt: skip
    return bytes(12) + b"\x08\x00" + ip + tcp


def ipv6_frame(sport: int, dport: int, *, payload: bytes = b"", flags: int = ACK) -> bytes:
    tcp = tcp_header(sport, dport, 7, 9, flags, 100) + payload
    one = ipaddress.IPv6Address("::1").packed
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, one, one)
    return bytes(12) + b"\x86\xdd" + ip + tcp


def run_bpf(program: bytes, frame: bytes, pkttype: int = HOST) -> int:
    """Classic BPF, the opcodes build_filter uses: what the kernel returns (the snap)."""
    code = [struct.unpack_from("HBBI", program, i) for i in range(0, len(program), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    for _ in range(10_000):
        op, jt, jf, k = code[pc]
        pc += 1
        if op == 0x20 and k == (-0x1000 + 4) & 0xFFFFFFFF:
            a = pkttype
        elif op in (0x20, 0x28, 0x30, 0x48):
            size = {0x20: 4, 0x28: 2, 0x30: 1, 0x48: 2}[op]
            at = k + (x if op == 0x48 else 0)
            if at + size > len(frame):
                return 0  # the kernel's answer to a load past the end
            a = int.from_bytes(frame[at : at + size], "big")
        elif op == 0xB1:
            x = (frame[k] & 0x0F) * 4
        elif op == 0x01:
            x = k
        elif op == 0x60:
            a = mem[k]
        elif op == 0x02:
            mem[k] = a
        elif op == 0x05:
            pc += k
        elif op == 0x15:
            pc += jt if a == k else jf
        elif op == 0x45:
            pc += jt if a & k else jf
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"opcode {op:#x} not in the interpreter")
    raise AssertionError("the program never returned")


LAB = build_filter({20000}, {(20000, 41000), (20001, 45000)}, {(20001, 45000)})


@pytest.mark.parametrize(
    ("frame", "pkttype", "snap"),
    [
        (ipv4_frame(41000, 20000), HOST, frames.SNAP_FULL),  # a pair of the lab's
        (ipv4_frame(20000, 41000), HOST, frames.SNAP_FULL),  # ... either way
        (ipv4_frame(41000, 20000), OUTGOING, 0),  # lo's leaving copy
        (ipv4_frame(50000, 20000, flags=SYN), HOST, frames.SNAP_FULL),  # to a listener
        (ipv4_frame(20001, 45000), HOST, frames.SNAP_HEADERS),  # past its share: headers
        (ipv4_frame(41000, 8000), HOST, 0),  # the lab's client port, to the web server
        (ipv4_frame(41000, 20000, proto=17), HOST, 0),  # not TCP
        (ipv4_frame(41000, 20000, fragment=0x0010), HOST, 0),  # a later fragment
        (ipv4_frame(41000, 20000, ip_options=b"\x01" * 8), HOST, frames.SNAP_FULL),  # IHL 7
        (ipv6_frame(41000, 20000), HOST, frames.SNAP_FULL),
        (ipv6_frame(41000, 9999), HOST, 0),
        (bytes(12) + b"\x08\x06" + bytes(28), HOST, 0),  # ARP
    ],
)
def test_the_filter_keeps_the_labs_segments_only(frame: bytes, pkttype: int, snap: int) -> None:
    assert run_bpf(LAB, frame, pkttype) == snap


def test_a_filter_for_many_connections_has_only_short_jumps() -> None:
    pairs = {(20000 + i, 40000 + i) for i in range(64)}
    program = build_filter(set(range(20000, 20016)), pairs, set(list(pairs)[:8]))
    count = len(program) // 8
    assert count < 4096  # BPF_MAXINSNS
    jumps = [struct.unpack_from("HBBI", program, i)[1:3] for i in range(0, len(program), 8)]
    assert all(jt + i < count and jf + i < count for i, (jt, jf) in enumerate(jumps))
    assert run_bpf(program, ipv4_frame(40063, 20063)) == frames.SNAP_FULL


def test_parse_reads_a_syn_with_its_options() -> None:
    options = b"\x02\x04\xff\xd7" + b"\x01" + b"\x03\x03\x07" + b"\x04\x02"  # MSS, NOP, WS, SACK
    frame = parse(ipv4_frame(41000, 20000, flags=SYN, seq=5, window=65495, options=options))
    assert frame == Frame(family=4, src=("127.0.0.1", 41000), dst=("127.0.0.1", 20000), seq=5,
                          ack=0, flags=SYN, window=65495, length=0, wscale=7, mss=65495,
                          payload=b"")  # fmt: skip


def test_parse_knows_a_cut_payload_by_the_ip_length() -> None:
    whole = ipv4_frame(41000, 20000, flags=PSH | ACK, payload=b"x" * 100)
    cut = parse(whole[: len(whole) - 60])
    assert cut is not None and cut.length == 100 and cut.payload == b"x" * 40
    assert parse(whole[:40]) is None  # the TCP header itself is cut
    six = parse(ipv6_frame(41000, 20000, payload=b"hi"))
    assert six is not None and six.family == 6 and six.src == ("::1", 41000) and six.length == 2


def test_a_window_scale_above_14_is_taken_as_14() -> None:
    frame = parse(ipv4_frame(1, 2, flags=SYN, options=b"\x03\x03\x20"))
    assert frame is not None and frame.wscale == 14


def test_flag_names_read_syn_and_fin_first() -> None:
    assert frames.flag_names(SYN | ACK) == "SYN ACK"
    assert frames.flag_names(FIN | PSH | ACK) == "FIN PSH ACK"


# -- a conversation ----------------------------------------------------------------------

C, S = ("127.0.0.1", 41000), ("127.0.0.1", 20000)


def seg(src: tuple[str, int], flags: int, seq: int, ack: int = 0, *, window: int = 512,
        length: int = 0, wscale: int | None = None) -> Frame:  # fmt: skip
    dst = S if src == C else C
    return Frame(4, src, dst, seq, ack, flags, window, length, wscale, None, b"")


def handshake(talk: Conversations, *, client_ws: int | None = 7, server_ws: int | None = 2) -> None:
    talk.read(seg(C, SYN, 1000, wscale=client_ws, window=65495))
    talk.read(seg(S, SYN | ACK, 5000, 1001, wscale=server_ws, window=65483))
    talk.read(seg(C, ACK, 1001, 5001))


def test_numbers_are_relative_and_windows_scaled_once_both_syns_agree() -> None:
    talk = Conversations()
    syn = talk.read(seg(C, SYN, 1000, wscale=7, window=65495))
    assert (syn.seq, syn.ack, syn.window) == (0, None, 65495)  # a SYN's window is not scaled
    reply = talk.read(seg(S, SYN | ACK, 5000, 1001, wscale=2, window=65483))
    assert (reply.seq, reply.ack) == (0, 1)
    data = talk.read(seg(C, PSH | ACK, 1001, 5001, window=512, length=11))
    assert (data.seq, data.ack, data.window, data.offset, data.notes) == (1, 1, 512 << 7, 0, ())
    back = talk.read(seg(S, ACK, 5001, 1012, window=100))
    assert (back.ack, back.window) == (12, 400)


def test_without_both_window_scale_options_nothing_is_scaled() -> None:
    talk = Conversations()
    handshake(talk, server_ws=None)
    assert talk.read(seg(C, ACK, 1001, 5001, window=512)).window == 512


def test_a_retransmission_a_zero_window_a_probe_and_the_update() -> None:
    talk = Conversations()
    handshake(talk)
    talk.read(seg(C, ACK, 1001, 5001, length=1000))
    again = talk.read(seg(C, ACK, 1001, 5001, length=1000))
    assert again.notes == ("retransmission",)
    zero = talk.read(seg(S, ACK, 5001, 2001, window=0))
    assert zero.notes == ("zero window",)
    probe = talk.read(seg(C, ACK, 2000, 5001))  # one before its next byte, no data
    assert probe.notes == ("window probe",)
    assert talk.read(seg(S, ACK, 5001, 2001, window=0)).notes == ("zero window",)
    update = talk.read(seg(S, ACK, 5001, 2001, window=64))
    assert update.notes == ("window update",)
    assert talk.read(seg(C, ACK, 2000, 5001)).notes == ("keepalive",)  # the window is open


def test_a_duplicate_ack_while_data_is_outstanding() -> None:
    talk = Conversations()
    handshake(talk)
    talk.read(seg(C, ACK, 1001, 5001, length=100))
    talk.read(seg(C, ACK, 1101, 5001, length=100))
    first = talk.read(seg(S, ACK, 5001, 1101))
    assert first.notes == ()
    assert talk.read(seg(S, ACK, 5001, 1101)).notes == ("duplicate ack",)


def test_a_new_syn_on_the_same_ports_starts_a_new_story() -> None:
    talk = Conversations()
    handshake(talk)
    talk.read(seg(C, FIN | ACK, 1001, 5001))
    fresh = talk.read(seg(C, SYN, 777_000, wscale=7))
    assert fresh.seq == 0 and fresh.notes == ()
    retried = talk.read(seg(C, SYN, 777_000, wscale=7))  # the same SYN again: a retry
    assert retried.notes == ("retransmission",)
