"""The byte-order workbench (pure): one integer, its bytes in either order, as text.

The HOWTO's "Binary Data": a 16-bit 1 is ``00 01`` on a Motorola chip and ``01 00``
on Intel; ``htons``/``htonl``/``ntohs``/``ntohl`` swap where host order is not network
order (big-endian). Formats are :mod:`struct` formats of exactly one integer code
behind an explicit byte-order prefix (``'!'``, ``'>'``, ``'<'``, ``'='``), so the
size is the standard one and no padding hides in the bytes.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass
from typing import Literal, TypedDict

from sockscope.contract.workbench import NetworkEquivalents, Order, TextVsBinary

_PREFIXES = "!><="
_INTEGER_CODES = "bBhHiIlLqQ"
_OPPOSITE_PREFIX: dict[Order, str] = {"big": "<", "little": ">"}


def _describe_prefix(prefix: str) -> str:
    if prefix == "!":
        return "network order (big-endian)"
    if prefix == "=":
        return f"native order ({sys.byteorder}-endian on this machine)"
    return "big-endian" if prefix == ">" else "little-endian"


@dataclass(frozen=True, slots=True)
class IntFormat:
    """A checked one-integer struct format: its byte order, width and range."""

    fmt: str
    order: Order
    size: int
    signed: bool
    minimum: int
    maximum: int

    @property
    def meaning(self) -> str:
        """Words for the prefix, e.g. ``"network order (big-endian)"``."""
        return _describe_prefix(self.fmt[0])

    @property
    def kind(self) -> str:
        """Words for the integer, e.g. ``"an unsigned 4-byte integer"``."""
        return f"a{'' if self.signed else 'n unsigned'} {self.size}-byte integer"


def parse_int_format(fmt: str) -> IntFormat:
    """Check ``fmt`` is a byte-order prefix and one integer code (``'!I'``, ``'<H'``...).

    Raises:
        ValueError: anything else, saying what is wrong.
    """
    if not fmt or fmt[0] not in _PREFIXES:
        hint = " ('@' means native size and alignment: use '=')" if fmt[:1] == "@" else ""
        raise ValueError(
            f"format {fmt!r} must start with a byte-order prefix: '!', '>', '<' or '='{hint}"
        )
    if len(fmt) != 2 or fmt[1] not in _INTEGER_CODES:
        raise ValueError(
            f"format {fmt!r} must be a prefix and one integer code out of {_INTEGER_CODES!r}"
        )
    order: Order = sys.byteorder if fmt[0] == "=" else "little" if fmt[0] == "<" else "big"
    size = struct.calcsize(fmt)
    signed = fmt[1].islower()
    bits = size * 8
    if signed:
        return IntFormat(fmt, order, size, True, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return IntFormat(fmt, order, size, False, 0, (1 << bits) - 1)


def _check_fits(value: int, spec: IntFormat) -> None:
    if not spec.minimum <= value <= spec.maximum:
        raise ValueError(
            f"{value} does not fit {spec.fmt!r}, {spec.kind}: {spec.minimum} to {spec.maximum}"
        )


def encode_value(value: int, fmt: str) -> bytes:
    """``value`` packed with ``fmt``.

    Raises:
        ValueError: ``fmt`` is not a prefixed one-integer format, or ``value`` is out of range.
    """
    spec = parse_int_format(fmt)
    _check_fits(value, spec)
    return struct.pack(fmt, value)


class BothOrders(TypedDict):
    """Bytes read both ways, as :func:`decode_both` found them (the readings pick from it)."""

    hex: str
    fmt: str
    meaning: str  # what the prefix means, for '=' on this machine
    order: Order  # the order ``fmt`` reads in
    value: int
    opposite_fmt: str
    opposite_order: Order
    opposite_value: int  # what a reader with the wrong byte order gets
    host_order: Order


def decode_both(data: bytes, fmt: str) -> BothOrders:
    """``data`` read with ``fmt`` and with the opposite byte order.

    Raises:
        ValueError: a bad ``fmt``, or ``data`` is not exactly as long as ``fmt`` reads.
    """
    spec = parse_int_format(fmt)
    if len(data) != spec.size:
        raise ValueError(f"{fmt!r} reads {spec.size} bytes, got {len(data)}")
    opposite = _OPPOSITE_PREFIX[spec.order] + fmt[1]
    (value,) = struct.unpack(fmt, data)
    (opposite_value,) = struct.unpack(opposite, data)
    return BothOrders(
        hex=hexdump(data),
        fmt=fmt,
        meaning=spec.meaning,
        order=spec.order,
        value=value,
        opposite_fmt=opposite,
        opposite_order="little" if spec.order == "big" else "big",
        opposite_value=opposite_value,
        host_order=sys.byteorder,
    )


def network_equivalents(value: int) -> NetworkEquivalents:
    """What the socket module's ``hton*``/``ntoh*`` make of ``value`` on this host.

    Raises:
        ValueError: ``value`` does not fit an unsigned 32-bit integer.
    """
    _check_fits(value, parse_int_format("!I"))
    short = value <= 0xFFFF
    return NetworkEquivalents(
        value=value,
        htons=socket.htons(value) if short else None,
        ntohs=socket.ntohs(value) if short else None,
        htonl=socket.htonl(value),
        ntohl=socket.ntohl(value),
        host_order=sys.byteorder,
        host_little_endian=sys.byteorder == "little",
    )


def text_vs_binary(value: int, fmt: str = "!I") -> TextVsBinary:
    """The size of ``value`` sent as decimal text against packed with ``fmt``.

    Raises:
        ValueError: a bad ``fmt``, or ``value`` does not fit it.
    """
    text = str(value).encode()
    binary = encode_value(value, fmt)
    smaller: Literal["text", "binary", "same"] = (
        "same" if len(text) == len(binary) else "text" if len(text) < len(binary) else "binary"
    )
    return TextVsBinary(
        value=value,
        text=text.decode(),
        text_bytes=len(text),
        binary_hex=hexdump(binary),
        binary_fmt=fmt,
        binary_bytes=len(binary),
        smaller=smaller,
    )


def hexdump(data: bytes) -> str:
    """Bytes as two-digit hex pairs separated by spaces: ``"00 00 00 01"``."""
    return data.hex(" ")
