"""A small pcapng writer: what Wireshark and tshark open as is (pure: packets in, bytes out).

The format is the IETF draft "PCAP Next Generation (pcapng) Capture File Format"
(draft-ietf-opsawg-pcapng). A file here is one section: a Section Header Block, one
Interface Description Block (``lo``: Ethernet link type, nanosecond timestamps) and an
Enhanced Packet Block per frame, each with an ``opt_comment`` saying which call caused it
where the lab knows. Every block is little-endian and padded to 32 bits; its total
length opens and closes it, so a reader can walk the file either way.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

SHB, IDB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
LINKTYPE_ETHERNET = 1
OPT_END, OPT_COMMENT = 0, 1
SHB_USERAPPL = 4
IF_NAME, IF_TSRESOL = 2, 9
SNAPLEN = 65535


@dataclass(frozen=True, slots=True)
class Packet:
    wall_ns: int  # nanoseconds since the epoch
    length: int  # on the wire
    data: bytes  # as captured (at most ``length``)
    comment: str | None = None


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _options(pairs: Iterable[tuple[int, bytes]]) -> bytes:
    body = b"".join(_option(code, value) for code, value in pairs)
    return body + struct.pack("<HH", OPT_END, 0) if body else b""


def _block(kind: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", kind, total) + body + struct.pack("<I", total)


def section(application: str = "Sockscope") -> bytes:
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)  # -1: section length not given
    return _block(SHB, body + _options([(SHB_USERAPPL, application.encode())]))


def interface(name: str = "lo") -> bytes:
    body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN)
    return _block(IDB, body + _options([(IF_NAME, name.encode()), (IF_TSRESOL, bytes([9]))]))


def packet(each: Packet) -> bytes:
    high, low = divmod(each.wall_ns, 1 << 32)
    body = struct.pack("<IIIII", 0, high, low, len(each.data), max(each.length, len(each.data)))
    comment = [(OPT_COMMENT, each.comment.encode())] if each.comment else []
    return _block(EPB, body + _pad(each.data) + _options(comment))


def write(packets: Iterable[Packet], *, application: str = "Sockscope") -> bytes:
    """A whole pcapng file of ``packets``, captured on ``lo``."""
    return b"".join([section(application), interface(), *(packet(p) for p in packets)])
