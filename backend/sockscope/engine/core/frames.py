"""Frames seen on ``lo`` by a packet socket: their TCP headers, and the kernel filter that
picks a lab's own (pure: bytes and numbers in, values out).

A frame on ``lo`` is a 14-byte Ethernet header (addresses zero), then IPv4 or IPv6, then
TCP. ``parse`` reads what a ladder needs from it; it never trusts a length it was not
given (a frame may be cut at the snap length: its payload is then shorter than
``length`` says).

The filter is classic BPF (``SO_ATTACH_FILTER``), run by the kernel on every frame before
a copy reaches the ring. It drops ``lo``'s second copy of each frame (the kernel shows a
frame once leaving, once arriving: the outgoing one is dropped), everything but TCP, and
every segment that is not the lab's: a lab's segments are those of its listening ports
(either direction) and of the exact port pairs of its connections, never a port alone,
since an ephemeral port of a lab client can be the same number as a browser's connection
to the server itself. Each rule ends in its own ``ret``, so no jump is longer than one
instruction: classic BPF's jumps are 8 bits.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ETH_HEADER = 14
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
IPPROTO_TCP = 6
SNAP_FULL = 65535  # a whole frame (lo's MTU is 65536)
SNAP_HEADERS = ETH_HEADER + 60 + 60  # the longest IPv4 and TCP headers: payload cut away
PACKET_OUTGOING = 4  # sll_pkttype of the leaving copy

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
              (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"))  # fmt: skip

_TCP = struct.Struct("!HHIIBBH")  # ports, seq, ack, data offset, flags, window


class Frame(NamedTuple):
    """One TCP segment's headers, as it crossed ``lo`` (a tuple: a flood makes thousands)."""

    family: int  # 4 or 6
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    ack: int
    flags: int
    window: int  # as sent: not yet scaled (the SYN's window-scale option says how)
    length: int  # payload bytes the segment carried (the IP header's count)
    wscale: int | None  # the window-scale option (SYN and SYN-ACK only)
    mss: int | None
    payload: bytes | memoryview  # what the snap length kept of it (maybe less than ``length``)


def flag_names(flags: int) -> str:
    """``"SYN ACK"``, ``"PSH ACK"``, ... (SYN and FIN first, the way a ladder reads)."""
    return " ".join(name for bit, name in FLAG_NAMES if flags & bit) or "none"


def parse(frame: bytes) -> Frame | None:
    """The TCP segment in an Ethernet frame from ``lo``; None for anything else, or a frame
    cut before the end of its TCP header. Its ``payload`` is a view of ``frame`` (no copy:
    a flood's segments are read by the thousand)."""
    size = len(frame)
    if size < ETH_HEADER + 20:
        return None
    kind = frame[12] << 8 | frame[13]
    if kind == ETH_P_IP:
        first, total, proto, src_raw, dst_raw = _IPV4.unpack_from(frame, ETH_HEADER)
        header = (first & 0x0F) * 4
        at = ETH_HEADER + header
        if proto != IPPROTO_TCP or header < 20 or size < at + 20:
            return None
        family, ip_payload = 4, total - header
        src_ip, dst_ip = _address(src_raw), _address(dst_raw)
    elif kind == ETH_P_IPV6:
        at = ETH_HEADER + 40
        if size < at + 20:
            return None
        ip_payload, proto, src_raw, dst_raw = _IPV6.unpack_from(frame, ETH_HEADER)
        if proto != IPPROTO_TCP:  # extension headers: not on a lab's lo
            return None
        family = 6
        src_ip, dst_ip = _address(src_raw), _address(dst_raw)
    else:
        return None
    sport, dport, seq, ack, offset, flags, window = _TCP.unpack_from(frame, at)
    tcp_header = (offset >> 4) * 4
    if tcp_header < 20 or size < at + tcp_header:
        return None
    wscale = mss = None
    if flags & SYN:
        wscale, mss = _options(frame[at + 20 : at + tcp_header])
    length = max(ip_payload - tcp_header, 0)
    start = at + tcp_header
    return Frame(family, (src_ip, sport), (dst_ip, dport), seq, ack, flags, window, length,
                 wscale, mss, memoryview(frame)[start : start + length])  # fmt: skip


_IPV4 = struct.Struct("!BxH5xB2x4s4s")  # version+IHL, total length, protocol, addresses
_IPV6 = struct.Struct("!4xHB1x16s16s")  # payload length, next header, addresses
_ADDRESSES: dict[bytes, str] = {}  # a lab's few addresses, written once each


def _address(raw: bytes) -> str:
    known = _ADDRESSES.get(raw)
    if known is None:
        import ipaddress

        known = str(ipaddress.ip_address(raw))
        if len(_ADDRESSES) < 4096:
            _ADDRESSES[raw] = known
    return known


def _options(raw: bytes) -> tuple[int | None, int | None]:
    """The window scale and MSS options of a SYN (RFC 7323, RFC 9293 3.2)."""
    wscale = mss = None
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:  # end of options
            break
        if kind == 1:  # no-operation
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            break
        size = raw[i + 1]
        if kind == 2 and size == 4 and i + 4 <= len(raw):
            mss = int.from_bytes(raw[i + 2 : i + 4], "big")
        elif kind == 3 and size == 3 and i + 3 <= len(raw):
            wscale = min(raw[i + 2], 14)  # RFC 7323 2.3: larger values are taken as 14
        i += size
    return wscale, mss


# -- the kernel filter ------------------------------------------------------------------

# Classic BPF opcodes (linux/filter.h).
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS = 0x20, 0x28, 0x30
_LD_H_IND = 0x48
_LDX_B_MSH, _LDX_IMM = 0xB1, 0x01
_LD_MEM, _ST = 0x60, 0x02
_JA, _JEQ, _JSET = 0x05, 0x15, 0x45
_RET = 0x06
_SKF_AD_PKTTYPE = -0x1000 + 4  # the ancillary load of skb->pkt_type
_INSN = struct.Struct("HBBI")

# (opcode, k, jump if true, jump if false): a jump is a label, or None for the next one
_Op = tuple[int, int, str | None, str | None]


def _assemble(ops: list[_Op | str]) -> bytes:
    """Classic BPF from ops and labels (a str is a label: the next op's index)."""
    where: dict[str, int] = {}
    index = 0
    for item in ops:
        if isinstance(item, str):
            where[item] = index
        else:
            index += 1
    out: list[bytes] = []
    for item in ops:
        if isinstance(item, str):
            continue
        code, k, yes, no = item
        at = len(out)
        jt, jf = (0 if label is None else where[label] - at - 1 for label in (yes, no))
        if code == _JA:
            out.append(_INSN.pack(code, 0, 0, jt))
        else:
            out.append(_INSN.pack(code, jt, jf, k & 0xFFFFFFFF))
    return b"".join(out)


def build_filter(
    listening: set[int] | frozenset[int],
    pairs: set[tuple[int, int]] | frozenset[tuple[int, int]],
    short_pairs: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
) -> bytes:
    """The program (struct sock_filter[]) that keeps a lab's segments: those from or to a
    port in ``listening``, and those between the two ports of a pair, in either direction.
    A pair in ``short_pairs`` is kept without its payload (snap ``SNAP_HEADERS``): its
    connection has used up what the capture keeps of its bytes. Returns the instructions;
    ``len(result) // 8`` is their count."""
    ops: list[_Op | str] = [
        (_LD_W_ABS, _SKF_AD_PKTTYPE, None, None),
        (_JEQ, PACKET_OUTGOING, "drop", None),  # lo's leaving copy: the arriving one is kept
        (_LD_H_ABS, 12, None, None),
        (_JEQ, ETH_P_IP, None, "ipv6"),
        (_LD_B_ABS, ETH_HEADER + 9, None, None),  # IPv4: TCP, and not a later fragment
        (_JEQ, IPPROTO_TCP, None, "drop"),
        (_LD_H_ABS, ETH_HEADER + 6, None, None),
        (_JSET, 0x1FFF, "drop", None),
        (_LDX_B_MSH, ETH_HEADER, None, None),  # X = the IP header's length
        (_JA, 0, "ports", None),
        "ipv6",
        (_JEQ, ETH_P_IPV6, None, "drop"),  # IPv6 without extension headers: X = 40
        (_LD_B_ABS, ETH_HEADER + 6, None, None),
        (_JEQ, IPPROTO_TCP, None, "drop"),
        (_LDX_IMM, 40, None, None),
        (_JA, 0, "ports", None),
        "drop",
        (_RET, 0, None, None),
        "ports",  # M[0] = the source port, M[1] = the destination port
        (_LD_H_IND, ETH_HEADER, None, None),
        (_ST, 0, None, None),
        (_LD_H_IND, ETH_HEADER + 2, None, None),
        (_ST, 1, None, None),
    ]
    n = 0
    for group, snap in ((sorted(short_pairs), SNAP_HEADERS), (sorted(pairs), SNAP_FULL)):
        for a, b in group:
            for one, other in ((a, b), (b, a)):
                n += 1
                ops += [
                    (_LD_MEM, 0, None, None),
                    (_JEQ, one, None, f"r{n}"),
                    (_LD_MEM, 1, None, None),
                    (_JEQ, other, None, f"r{n}"),
                    (_RET, snap, None, None),
                    f"r{n}",
                ]
    for port in sorted(listening):
        n += 1
        ops += [
            (_LD_MEM, 0, None, None),
            (_JEQ, port, f"k{n}", None),
            (_LD_MEM, 1, None, None),
            (_JEQ, port, None, f"r{n}"),
            f"k{n}",
            (_RET, SNAP_FULL, None, None),
            f"r{n}",
        ]
    ops.append((_RET, 0, None, None))
    return _assemble(ops)
