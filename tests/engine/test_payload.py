"""The endless send pattern and byte previews (pure)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockscope.engine.core.payload import (
    FULL_BYTES,
    PREVIEW_BYTES,
    SHEET_BYTES,
    PatternSpan,
    PatternStream,
    literal,
    pattern,
    pattern_matches,
    preview,
)

PAGE = 256 * 8  # the generator builds the pattern 2048 bytes (256 blocks) at a time
BLOCKS = 12 * 256 + 37  # twelve pages and a part
REFERENCE = "".join(f"{n:07x}|" for n in range(BLOCKS)).encode()

any_offset = st.integers(0, len(REFERENCE))
near_a_page_edge = st.builds(
    lambda page, delta: min(max(page * PAGE + delta, 0), len(REFERENCE)),
    st.integers(0, len(REFERENCE) // PAGE),
    st.integers(-9, 9),
)
offsets = st.one_of(any_offset, near_a_page_edge)


@st.composite
def spans(draw: st.DrawFn) -> tuple[int, int]:
    offset = draw(offsets)
    room = len(REFERENCE) - offset
    size = draw(st.one_of(st.integers(0, room), st.integers(0, min(room, 20))))
    return offset, size


@given(spans())
def test_pattern_is_a_slice_of_the_naive_reference(span: tuple[int, int]) -> None:
    offset, size = span
    assert pattern(offset, size) == REFERENCE[offset : offset + size]


@given(spans(), st.integers(-3, 3), st.booleans())
def test_pattern_matches_exactly_the_pattern_at_its_offset(
    span: tuple[int, int], shift: int, as_view: bool
) -> None:
    """What a packed event relies on to keep no bytes: a match only where the bytes are the
    pattern at that offset (the reference says so), across page edges too."""
    offset, size = span
    data = REFERENCE[offset : offset + size]
    other = max(0, offset + shift)
    expected = pattern(other, size) == data  # pattern() is the naive reference's, above
    given_data = memoryview(data) if as_view else data
    assert pattern_matches(given_data, other) == expected
    if size:
        changed = bytes([data[0] ^ 1]) + data[1:]
        assert not pattern_matches(changed, offset)


def test_pattern_across_each_page_edge() -> None:
    for page in range(1, len(REFERENCE) // PAGE + 1):
        edge = page * PAGE
        assert pattern(edge - 5, 10) == REFERENCE[edge - 5 : edge + 5], page


def test_pattern_of_nothing_is_empty() -> None:
    assert pattern(123, 0) == b""
    assert pattern(123, -4) == b""


def test_first_blocks_read_as_documented() -> None:
    assert pattern(0, 16) == b"0000000|0000001|"
    assert pattern(8 * 0x1234, 8) == b"0001234|"


@given(
    start=offsets,
    cuts=st.lists(st.integers(0, len(REFERENCE)), max_size=12),
)
def test_pattern_cut_anywhere_concatenates_to_the_whole(start: int, cuts: list[int]) -> None:
    # A socket's second send continues where its stream stands: pieces must join seamlessly.
    end = len(REFERENCE)
    points = sorted({start, end, *(c for c in cuts if start <= c <= end)})
    pieces = [pattern(a, b - a) for a, b in pairwise(points)]
    assert b"".join(pieces) == pattern(start, end - start)
    assert [len(p) for p in pieces] == [b - a for a, b in pairwise(points)]


def test_preview_of_short_data_is_its_repr() -> None:
    assert preview(b"hi\n\x00") == ("b'hi\\n\\x00'", False)


def test_preview_at_the_limit_is_not_cut() -> None:
    data = bytes(range(PREVIEW_BYTES))
    assert preview(data) == (repr(data), False)


def test_preview_past_the_limit_is_cut() -> None:
    data = b"x" * PREVIEW_BYTES + b"TAIL"
    text, truncated = preview(data)
    assert truncated is True
    assert text == repr(b"x" * PREVIEW_BYTES)
    assert "TAIL" not in text


def test_preview_takes_a_limit_and_any_buffer() -> None:
    assert preview(bytearray(b"abcdef"), limit=3) == ("b'abc'", True)
    assert preview(memoryview(b"abc"), limit=3) == ("b'abc'", False)


def test_literal_keeps_short_data_whole() -> None:
    assert literal(b"GET / HTTP/1.0\r\n") == "b'GET / HTTP/1.0\\r\\n'"
    assert literal(b"a" * 64) == repr(b"a" * 64)


def test_literal_shortens_long_data_and_says_how_long() -> None:
    assert literal(b"a" * 65) == repr(b"a" * 64) + "...  # 65 bytes"
    assert literal(bytearray(b"abcdef"), limit=2) == "b'ab'...  # 6 bytes"


def naive(offset: int, size: int) -> bytes:
    """The pattern by its definition: block k is k in seven hex digits and a bar."""
    first, last = offset // 8, (offset + size + 7) // 8
    text = b"".join(b"%07x|" % (k % 16**7) for k in range(first, last))
    return text[offset - first * 8 : offset - first * 8 + size]


@pytest.mark.parametrize(
    ("offset", "size"),
    [
        (0, SHEET_BYTES),  # one whole sheet
        (5, SHEET_BYTES),  # cut inside the first and the second
        (SHEET_BYTES - 3, SHEET_BYTES + 10),  # three sheets, the first 3 bytes of one
        (123_456_789, 3 * SHEET_BYTES + 77),
        (4095 * SHEET_BYTES + 1, SHEET_BYTES + 5),  # where the sheets' three digits roll over
        (2**31 - 1000, 2 * SHEET_BYTES),  # where the whole pattern wraps (2 GiB)
    ],
)
def test_a_large_pattern_is_the_pattern_by_its_definition(offset: int, size: int) -> None:
    assert pattern(offset, size) == naive(offset, size)


# A stream's offsets: anywhere, at a sheet's edge, where the sheets' three digits roll over
# (sheet 4095 -> 4096) and where the whole pattern wraps (2 GiB).
stream_offsets = st.one_of(
    st.integers(0, 40 * SHEET_BYTES),
    st.builds(lambda k, d: max(k * SHEET_BYTES + d, 0), st.integers(0, 40), st.integers(-9, 9)),
    st.integers(4094 * SHEET_BYTES, 4097 * SHEET_BYTES),
    st.integers(2**31 - 3 * SHEET_BYTES, 2**31 + SHEET_BYTES),
)


@given(
    offset=stream_offsets,
    size=st.integers(0, 6 * SHEET_BYTES),
    steps=st.lists(
        st.tuples(st.integers(0, 3 * SHEET_BYTES), st.floats(0, 1)), min_size=1, max_size=40
    ),
)
def test_a_streams_windows_are_the_pattern_whatever_the_sender_takes(
    offset: int, size: int, steps: list[tuple[int, float]]
) -> None:
    """A sender that takes any part of each window, as a kernel does, gets the pattern; the
    buffers a stream rewrites in place for later sheets never show a stale byte."""
    stream = PatternStream(offset, size)
    got = bytearray()
    for reach, share in steps * 50:
        views = stream.window(len(got), reach)
        offered = b"".join(views)
        if len(got) == size:
            assert views == []
            break
        assert offered, "a window with bytes left offered none"
        assert len(offered) >= min(max(reach, 1), size - len(got))
        assert all(len(v) <= SHEET_BYTES for v in views)
        got += offered[: max(1, int(len(offered) * share))]
    assert bytes(got) == pattern(offset, len(got))
    assert bytes(got) == naive(offset, len(got))


def test_a_64_mib_stream_holds_a_few_sheets_not_the_payload() -> None:
    stream = PatternStream(12_345, 64 * 1024 * 1024)
    sent, buffers = 0, set()
    while sent < stream.size:
        views = stream.window(sent, 4 * 1024 * 1024)
        buffers.update(id(view.obj) for view in views)
        sent += sum(map(len, views)) * 3 // 4 or 1
    assert len(buffers) <= 12, f"{len(buffers)} sheet buffers for a 4 MiB window"


@given(offset=stream_offsets, size=st.integers(0, 3 * SHEET_BYTES), data=st.data())
def test_a_pattern_span_is_the_pattern_it_stands_for(
    offset: int, size: int, data: st.DataObject
) -> None:
    span = PatternSpan(offset, size)
    assert len(span) == size
    start = data.draw(st.integers(0, size))
    stop = data.draw(st.integers(start, size))
    cut = span[start:stop]
    if stop - start <= FULL_BYTES:
        assert isinstance(cut, bytes)  # what an event shows is made, a few hundred bytes
    else:
        assert isinstance(cut, PatternSpan)
    assert bytes(cut) == pattern(offset + start, stop - start)
    assert preview(span) == preview(pattern(offset, min(size, PREVIEW_BYTES + 1)))


def test_a_pattern_span_is_cut_in_one_piece() -> None:
    with pytest.raises(ValueError, match="one piece"):
        PatternSpan(0, 100)[::2]
    assert len(PatternSpan(0, -5)) == 0
