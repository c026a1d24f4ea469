"""The byte-order workbench: one integer in either byte order, against int.to_bytes (pure)."""

from __future__ import annotations

import sys
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockscope.workbench.byteorder import (
    decode_both,
    encode_value,
    hexdump,
    network_equivalents,
    parse_int_format,
    text_vs_binary,
)

# Standard sizes and byte orders, written out here independently of the module.
SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 4, "L": 4, "q": 8, "Q": 8}
ORDERS: dict[str, Literal["big", "little"]] = {
    "!": "big",
    ">": "big",
    "<": "little",
    "=": sys.byteorder,
}
FORMATS = [prefix + code for prefix in ORDERS for code in SIZES]
OTHER: dict[str, Literal["big", "little"]] = {"big": "little", "little": "big"}


def value_range(fmt: str) -> tuple[int, int]:
    bits = SIZES[fmt[1]] * 8
    if fmt[1].islower():
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


@st.composite
def values_with_formats(draw: st.DrawFn) -> tuple[int, str]:
    fmt = draw(st.sampled_from(FORMATS))
    low, high = value_range(fmt)
    return draw(st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, 1]))), fmt


def test_one_in_network_order_and_little_endian() -> None:
    assert encode_value(1, "!I") == b"\x00\x00\x00\x01"
    assert encode_value(1, ">I") == b"\x00\x00\x00\x01"
    assert encode_value(1, "<I") == b"\x01\x00\x00\x00"
    assert encode_value(1, "!H") == b"\x00\x01"  # the HOWTO's Motorola
    assert encode_value(1, "<H") == b"\x01\x00"  # ... and its Intel
    assert encode_value(1, "!Q") == b"\x00" * 7 + b"\x01"


def test_the_wrong_order_reads_a_different_number() -> None:
    little = decode_both(b"\x00\x00\x00\x01", "<I")
    assert little["value"] == 16777216
    assert (little["opposite_fmt"], little["opposite_value"]) == (">I", 1)
    assert (little["order"], little["opposite_order"]) == ("little", "big")
    network = decode_both(b"\x00\x00\x00\x01", "!I")
    assert network["value"] == 1
    assert (network["opposite_fmt"], network["opposite_value"]) == ("<I", 16777216)
    assert network["meaning"] == "network order (big-endian)"
    assert network["hex"] == "00 00 00 01"


def test_native_order_says_which_it_is_here() -> None:
    native = decode_both(b"\x01\x00", "=H")
    assert native["order"] == native["host_order"] == sys.byteorder
    assert native["meaning"] == f"native order ({sys.byteorder}-endian on this machine)"
    assert native["opposite_order"] == OTHER[sys.byteorder]
    assert native["value"] == (1 if sys.byteorder == "little" else 256)
    assert native["opposite_value"] == (256 if sys.byteorder == "little" else 1)


@given(values_with_formats())
def test_values_round_trip_in_every_format(case: tuple[int, str]) -> None:
    value, fmt = case
    size, order, signed = SIZES[fmt[1]], ORDERS[fmt[0]], fmt[1].islower()
    data = encode_value(value, fmt)
    assert data == value.to_bytes(size, order, signed=signed)
    both = decode_both(data, fmt)
    assert both["value"] == value
    assert both["order"] == order
    assert both["opposite_value"] == int.from_bytes(data, OTHER[order], signed=signed)
    assert both["hex"] == " ".join(f"{byte:02x}" for byte in data)


@given(st.integers(0, 0xFFFF))
def test_htons_is_network_bytes_read_in_host_order(value: int) -> None:
    found = network_equivalents(value)
    as_host = decode_both(encode_value(value, "!H"), "=H")["value"]
    assert found["htons"] == found["ntohs"] == as_host
    assert found["host_little_endian"] == (sys.byteorder == "little")
    assert found["host_order"] == sys.byteorder


@given(st.integers(0, 0xFFFF_FFFF))
def test_htonl_is_network_bytes_read_in_host_order(value: int) -> None:
    found = network_equivalents(value)
    as_host = decode_both(encode_value(value, "!I"), "=I")["value"]
    assert found["htonl"] == found["ntohl"] == as_host
    if value > 0xFFFF:
        assert found["htons"] is None and found["ntohs"] is None


@pytest.mark.skipif(sys.byteorder != "little", reason="swaps only on a little-endian host")
def test_a_little_endian_host_swaps() -> None:
    found = network_equivalents(1)
    assert (found["htons"], found["htonl"]) == (256, 16777216)
    assert found["host_little_endian"] is True


@pytest.mark.parametrize(
    ("value", "fmt", "text_bytes", "binary_bytes", "smaller"),
    [
        (0, "!I", 1, 4, "text"),  # the HOWTO's "0": shorter as text (no C terminator here)
        (1, "!I", 1, 4, "text"),
        (1000, "!I", 4, 4, "same"),
        (4294967295, "!I", 10, 4, "binary"),
        (65535, "!H", 5, 2, "binary"),
    ],
)
def test_text_vs_binary(
    value: int, fmt: str, text_bytes: int, binary_bytes: int, smaller: str
) -> None:
    found = text_vs_binary(value, fmt)
    assert (found["text_bytes"], found["binary_bytes"], found["smaller"]) == (
        text_bytes,
        binary_bytes,
        smaller,
    )
    assert found["text"] == str(value)
    assert found["binary_fmt"] == fmt


def test_text_vs_binary_shows_both_encodings() -> None:
    found = text_vs_binary(258)
    assert found["text"] == "258"
    assert found["binary_hex"] == "00 00 01 02"


@pytest.mark.parametrize(
    ("data", "dump"),
    [(b"", ""), (b"\x00\x00\x00\x01", "00 00 00 01"), (b"\xab\x10", "ab 10")],
)
def test_hexdump(data: bytes, dump: str) -> None:
    assert hexdump(data) == dump


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        ("I", "'I' must start with a byte-order prefix"),
        ("", "must start with a byte-order prefix"),
        ("@I", r"'@' means native size and alignment: use '='"),
        ("xI", "must start with a byte-order prefix"),
        ("!", "must be a prefix and one integer code"),
        ("!II", "must be a prefix and one integer code"),
        ("!2I", "must be a prefix and one integer code"),
        ("!f", "must be a prefix and one integer code"),
        ("!?", "must be a prefix and one integer code"),
        ("!x", "must be a prefix and one integer code"),
        ("!n", "must be a prefix and one integer code"),
    ],
)
def test_a_format_that_is_not_one_prefixed_integer_is_refused(fmt: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode_value(1, fmt)
    with pytest.raises(ValueError, match=reason):
        decode_both(b"\x00\x00\x00\x00", fmt)


@pytest.mark.parametrize(
    ("value", "fmt", "reason"),
    [
        (65536, "!H", "65536 does not fit '!H', an unsigned 2-byte integer: 0 to 65535"),
        (-1, "!I", "-1 does not fit '!I', an unsigned 4-byte integer: 0 to 4294967295"),
        (128, "<b", "128 does not fit '<b', a 1-byte integer: -128 to 127"),
        (-129, "<b", "-129 does not fit"),
        (2**64, "!Q", "does not fit '!Q', an unsigned 8-byte integer: 0 to 18446744073709551615"),
    ],
)
def test_a_value_out_of_range_is_refused(value: int, fmt: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode_value(value, fmt)


@given(values_with_formats())
def test_the_range_of_every_format(case: tuple[int, str]) -> None:
    _value, fmt = case
    low, high = value_range(fmt)
    spec = parse_int_format(fmt)
    assert (spec.minimum, spec.maximum, spec.size) == (low, high, SIZES[fmt[1]])
    with pytest.raises(ValueError, match="does not fit"):
        encode_value(high + 1, fmt)
    with pytest.raises(ValueError, match="does not fit"):
        encode_value(low - 1, fmt)


@pytest.mark.parametrize("value", [-1, 2**32])
def test_network_equivalents_refuse_what_is_not_32_bit_unsigned(value: int) -> None:
    with pytest.raises(ValueError, match="does not fit '!I'"):
        network_equivalents(value)


def test_decoding_needs_exactly_the_bytes_the_format_reads() -> None:
    with pytest.raises(ValueError, match="'!I' reads 4 bytes, got 3"):
        decode_both(b"\x00\x00\x01", "!I")
    with pytest.raises(ValueError, match="'!H' reads 2 bytes, got 4"):
        decode_both(b"\x00\x00\x00\x01", "!H")
