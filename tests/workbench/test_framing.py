"""Message framing on a byte stream, cut every which way (pure: no sockets)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockscope.workbench.framing import (
    MAX_MESSAGE_SIZE,
    Delimited,
    FixedLength,
    FramingError,
    LengthPrefixBinary,
    LengthPrefixText,
    ShutdownTerminated,
    Strategy,
    compare,
    decoder_for,
    encode,
    frames,
    naive_receive,
    slice_stream,
)

# The largest length each unsigned code holds, written out here, not asked of the module.
PREFIX_LIMITS = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFF_FFFF, "L": 0xFFFF_FFFF, "Q": 2**64 - 1}
BINARY_FORMATS = ["!I", "!H", "<I", ">I", "=H", "!B", "<Q", "!L"]
DELIMITERS = [b"\n", b"\r\n", b"\0", b"||", b"aba", b"\xff\xfe"]


@st.composite
def framed_messages(draw: st.DrawFn) -> tuple[Strategy, list[bytes]]:
    """A strategy and messages it can carry: binary, empty ones wherever allowed."""
    kind = draw(st.sampled_from(["fixed", "delimited", "text", "binary", "shutdown"]))
    if kind == "fixed":
        size = draw(st.integers(1, 8))
        return FixedLength(size), draw(st.lists(st.binary(min_size=size, max_size=size)))
    if kind == "delimited":
        delimiter = draw(st.one_of(st.sampled_from(DELIMITERS), st.binary(min_size=1, max_size=3)))
        # Messages avoiding the delimiter's first byte can neither hold it nor run into it;
        # the filtered ones may hold its other bytes, or its first one elsewhere.
        avoiding = st.lists(st.integers(0, 255).filter(lambda b: b != delimiter[0])).map(bytes)
        valid = st.binary(max_size=12).filter(lambda m: (m + delimiter).find(delimiter) == len(m))
        return Delimited(delimiter), draw(st.lists(st.one_of(avoiding, valid)))
    if kind == "text":
        digits = draw(st.integers(1, 6))
        return LengthPrefixText(digits), draw(st.lists(st.binary(max_size=min(10**digits - 1, 40))))
    if kind == "binary":
        fmt = draw(st.sampled_from(BINARY_FORMATS))
        return LengthPrefixBinary(fmt), draw(st.lists(st.binary(max_size=40)))
    return ShutdownTerminated(), [draw(st.binary(max_size=64))]


@st.composite
def framed_and_cut(draw: st.DrawFn) -> tuple[Strategy, list[bytes], list[int]]:
    strategy, messages = draw(framed_messages())
    size = len(encode(strategy, messages))
    every_byte = list(range(size + 1))
    cuts = draw(st.one_of(st.lists(st.integers(0, size)), st.just(every_byte)))
    return strategy, messages, cuts


@given(framed_and_cut())
def test_any_slicing_gives_back_the_messages_as_soon_as_each_is_whole(
    case: tuple[Strategy, list[bytes], list[int]],
) -> None:
    strategy, messages, cuts = case
    data = encode(strategy, messages)
    # Where each message's last byte lies in the stream: framing included.
    ends = list(accumulate(len(frame) for frame in frames(strategy, messages)))
    if isinstance(strategy, ShutdownTerminated):
        ends = []  # nothing is whole before EOF
    decoder = decoder_for(strategy)
    received: list[bytes] = []
    position = 0
    for chunk in slice_stream(data, cuts):
        received += decoder.feed(chunk)
        position += len(chunk)
        whole = sum(1 for end in ends if end <= position)
        assert received == messages[:whole]
        assert decoder.pending == data[(ends[whole - 1] if whole else 0) : position]
    received += decoder.eof()
    assert received == messages
    assert decoder.pending == b""


@pytest.mark.parametrize(
    ("strategy", "messages", "wire"),
    [
        (FixedLength(3), [b"abc", b"\0\n\0"], b"abc\0\n\0"),
        (Delimited(), [b"hi", b"", b"there"], b"hi\n\nthere\n"),
        (Delimited(b"\r\n"), [b"a\rb\n"], b"a\rb\n\r\n"),
        (LengthPrefixText(), [b"hello", b""], b"00005hello00000"),
        (LengthPrefixText(2), [b"x" * 12], b"12" + b"x" * 12),
        (LengthPrefixBinary(), [b"hello"], b"\0\0\0\x05hello"),
        (LengthPrefixBinary("<I"), [b"hello"], b"\x05\0\0\0hello"),
        (LengthPrefixBinary("!H"), [b"\x01" * 258], b"\x01\x02" + b"\x01" * 258),
        (ShutdownTerminated(), [b"all\nof it"], b"all\nof it"),
        (ShutdownTerminated(), [b""], b""),
    ],
)
def test_the_wire_format(strategy: Strategy, messages: list[bytes], wire: bytes) -> None:
    assert encode(strategy, messages) == wire
    decoder = decoder_for(strategy)
    assert decoder.feed(wire) + decoder.eof() == messages


def test_a_text_prefix_cut_in_its_middle_waits_for_the_rest() -> None:
    decoder = decoder_for(LengthPrefixText())
    assert decoder.feed(b"00") == []
    assert decoder.feed(b"0") == []
    assert decoder.pending == b"000"
    assert decoder.feed(b"05hel") == []
    assert decoder.feed(b"lo000") == [b"hello"]
    assert decoder.pending == b"000"
    assert decoder.feed(b"02ok") == [b"ok"]


@pytest.mark.parametrize("fmt", ["!I", "<I", "!H", "<Q"])
def test_a_binary_prefix_cut_in_its_middle_waits_for_the_rest(fmt: str) -> None:
    wire = struct.pack(fmt, 3) + b"abc"
    decoder = decoder_for(LengthPrefixBinary(fmt))
    assert decoder.feed(wire[:1]) == []
    assert decoder.feed(wire[1:-1]) == []
    assert decoder.feed(wire[-1:]) == [b"abc"]


def test_a_delimiter_cut_in_its_middle_is_still_found() -> None:
    decoder = decoder_for(Delimited(b"\r\n"))
    assert decoder.feed(b"one\r") == []
    assert decoder.feed(b"\ntwo\r\n\r") == [b"one", b"two"]
    assert decoder.pending == b"\r"
    assert decoder.feed(b"\n") == [b""]


def test_shutdown_terminated_gives_everything_at_eof() -> None:
    decoder = decoder_for(ShutdownTerminated())
    assert decoder.feed(b"GET / HTTP/1.0\r\n") == []
    assert decoder.feed(b"\r\n") == []
    assert decoder.pending == b"GET / HTTP/1.0\r\n\r\n"
    assert decoder.eof() == [b"GET / HTTP/1.0\r\n\r\n"]


# The broken receiver, side by side with a decoder.


def test_naive_receive_glues_back_to_back_messages() -> None:
    messages = [b"hello", b"world"]
    chunks = [encode(Delimited(), messages)]  # both arrived before the first recv()
    assert naive_receive(chunks) == [b"hello\nworld\n"]
    assert compare(frames(Delimited(), messages), naive_receive(chunks)) == (
        "expected 2 messages, got 1: message 1 glued to message 2"
    )
    decoder = decoder_for(Delimited())
    assert decoder.feed(chunks[0]) == messages


def test_naive_receive_splits_a_message_cut_by_recv() -> None:
    messages = [b"hello"]
    chunks = slice_stream(encode(LengthPrefixText(), messages), [3])  # inside the prefix
    assert naive_receive(chunks) == [b"000", b"05hello"]
    assert compare(frames(LengthPrefixText(), messages), naive_receive(chunks)) == (
        "expected 1 message, got 2: message 1 split across 2 reads"
    )
    decoder = decoder_for(LengthPrefixText())
    assert [m for chunk in chunks for m in decoder.feed(chunk)] == messages


def test_frames_are_the_messages_as_they_go_on_the_wire() -> None:
    assert frames(LengthPrefixText(2), [b"ab", b""]) == [b"02ab", b"00"]
    assert frames(Delimited(b"|"), [b"ab", b""]) == [b"ab|", b"|"]
    assert frames(LengthPrefixBinary("!H"), [b"ab"]) == [b"\x00\x02ab"]
    assert frames(FixedLength(2), [b"ab", b"cd"]) == [b"ab", b"cd"]
    assert frames(ShutdownTerminated(), [b"ab"]) == [b"ab"]


def test_naive_receive_is_right_only_when_recv_cuts_on_message_boundaries() -> None:
    messages = [b"one", b"two"]
    assert naive_receive(slice_stream(b"onetwo", [3])) == messages
    assert naive_receive(slice_stream(b"onetwo", [2])) != messages


# Errors.


def test_a_non_digit_prefix_fails_as_soon_as_it_arrives() -> None:
    decoder = decoder_for(LengthPrefixText())
    with pytest.raises(FramingError, match=r"length prefix b'0x' is not 5 decimal digits") as err:
        decoder.feed(b"0x")
    assert err.value.offset == 0


def test_an_error_keeps_the_messages_completed_before_it() -> None:
    decoder = decoder_for(LengthPrefixText())
    with pytest.raises(FramingError, match=r"b'-0001' is not 5 .* at byte 12\)") as err:
        decoder.feed(b"00001a00001b-0001c")
    assert err.value.messages == [b"a", b"b"]
    assert err.value.offset == 12
    with pytest.raises(FramingError, match="at byte 12"):
        decoder.feed(b"more")  # the stream stays broken


@pytest.mark.parametrize(
    ("strategy", "wire", "leftover"),
    [
        (FixedLength(4), b"abcdef", "2 of its 4 bytes"),
        (Delimited(), b"one\ntwo", "3 bytes and no delimiter b'\\\\n'"),
        (LengthPrefixText(), b"00003abc000", "3 of the 5 bytes of its length prefix"),
        (LengthPrefixText(), b"00009abc", "3 of its 9 bytes"),
        (LengthPrefixBinary("!H"), b"\x00\x09ab", "2 of its 9 bytes"),
        (LengthPrefixBinary("!I"), b"\x00\x00", "2 of the 4 bytes of its length prefix"),
    ],
)
def test_eof_inside_a_message_is_an_error(strategy: Strategy, wire: bytes, leftover: str) -> None:
    decoder = decoder_for(strategy)
    decoder.feed(wire)
    with pytest.raises(FramingError, match=f"the stream ended inside a message: {leftover}"):
        decoder.eof()


@pytest.mark.parametrize(
    "strategy",
    [FixedLength(1), Delimited(), LengthPrefixText(), LengthPrefixBinary(), ShutdownTerminated()],
)
def test_nothing_is_taken_after_eof(strategy: Strategy) -> None:
    decoder = decoder_for(strategy)
    decoder.eof()
    with pytest.raises(FramingError, match="already ended"):
        decoder.feed(b"late")
    with pytest.raises(FramingError, match="already ended"):
        decoder.eof()


def test_an_announced_length_over_the_limit_fails_before_the_body_comes() -> None:
    decoder = decoder_for(LengthPrefixBinary())
    with pytest.raises(FramingError, match=f"4294967295 bytes is over the {MAX_MESSAGE_SIZE}"):
        decoder.feed(b"\xff\xff\xff\xff")


@pytest.mark.parametrize(
    ("strategy", "wire_at_limit", "wire_over_limit"),
    [
        (LengthPrefixText(), b"00010" + b"x" * 10, b"00011"),
        (LengthPrefixBinary("!H"), b"\x00\x0a" + b"x" * 10, b"\x00\x0b"),
        (Delimited(b"\r\n"), b"x" * 10 + b"\r\n", b"x" * 11 + b"\r"),
        (Delimited(b"\r\n"), b"x" * 10 + b"\r\n", b"x" * 11 + b"\r\n"),
    ],
)
def test_max_size_allows_the_limit_and_not_one_more(
    strategy: Strategy, wire_at_limit: bytes, wire_over_limit: bytes
) -> None:
    assert decoder_for(strategy, max_size=10).feed(wire_at_limit) == [b"x" * 10]
    with pytest.raises(FramingError, match="11 bytes is over the 10-byte limit"):
        decoder_for(strategy, max_size=10).feed(wire_over_limit)


def test_max_size_bounds_what_is_held_without_a_delimiter_or_before_eof() -> None:
    delimited = decoder_for(Delimited(), max_size=10)
    assert delimited.feed(b"x" * 10) == []
    with pytest.raises(FramingError, match="at least 11 bytes is over the 10-byte limit"):
        delimited.feed(b"x")
    shutdown = decoder_for(ShutdownTerminated(), max_size=10)
    assert shutdown.feed(b"x" * 10) == []
    with pytest.raises(FramingError, match="at least 11 bytes"):
        shutdown.feed(b"x")


def test_a_fixed_length_over_max_size_is_refused() -> None:
    with pytest.raises(ValueError, match="fixed length 11 is over the 10-byte limit"):
        decoder_for(FixedLength(11), max_size=10)


@pytest.mark.parametrize(
    ("strategy", "messages", "reason"),
    [
        (FixedLength(3), [b"abc", b"ab"], "message 2 is 2 bytes, not 3"),
        (Delimited(), [b"a", b"b\nc"], r"message 2 would be cut at delimiter b'\\n'"),
        # b"ab" then b"aba" reads b"ababa": the first b"aba" starts inside the message.
        (Delimited(b"aba"), [b"ab"], "message 1 would be cut at delimiter b'aba'"),
        (LengthPrefixText(1), [b"x" * 10], "message 1 is 10 bytes: 1 digits hold at most 9"),
        (LengthPrefixBinary("!B"), [b"x" * 256], "message 1 is 256 bytes: '!B' holds at most 255"),
        (ShutdownTerminated(), [], "one message per connection, not 0"),
        (ShutdownTerminated(), [b"a", b"b"], "one message per connection, not 2"),
    ],
)
def test_encode_refuses_what_the_framing_cannot_carry(
    strategy: Strategy, messages: list[bytes], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(strategy, messages)


def test_binary_prefix_lengths_up_to_the_limit_of_their_code() -> None:
    for code, limit in PREFIX_LIMITS.items():
        wire = encode(LengthPrefixBinary(f"!{code}"), [b""])
        assert len(wire) == (limit.bit_length() // 8)
    assert encode(LengthPrefixBinary("!B"), [b"x" * 255])[:1] == b"\xff"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: FixedLength(0), "at least 1 byte"),
        (lambda: Delimited(b""), "must not be empty"),
        (lambda: LengthPrefixText(0), "at least 1 digit"),
        (lambda: LengthPrefixBinary("!i"), "must be unsigned"),
        (lambda: LengthPrefixBinary("I"), "byte-order prefix"),
        (lambda: LengthPrefixBinary("!f"), "one integer code"),
    ],
)
def test_impossible_configs_are_refused(make: Callable[[], Strategy], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make()


# slice_stream.


@given(st.binary(max_size=50), st.data())
def test_slice_stream_cuts_exactly_where_asked(data: bytes, draw: st.DataObject) -> None:
    cuts = draw.draw(st.lists(st.integers(0, len(data))))
    chunks = slice_stream(data, cuts)
    assert b"".join(chunks) == data
    assert all(chunks)
    assert list(accumulate(len(c) for c in chunks))[:-1] == sorted(set(cuts) - {0, len(data)})


@pytest.mark.parametrize("cut", [-1, 7])
def test_slice_stream_refuses_cuts_outside_the_stream(cut: int) -> None:
    with pytest.raises(ValueError, match=f"cut {cut} is outside the 6-byte stream"):
        slice_stream(b"abcdef", [2, cut])


# compare.

ABC = [b"aaa", b"bbb", b"ccc"]
GOT_3_OF_3 = "expected 3 messages, got 3: "


@pytest.mark.parametrize(
    ("expected", "got", "verdict"),
    [
        (ABC, ABC, "3 messages, all intact"),
        ([b"x"], [b"x"], "1 message, intact"),
        ([], [], "no messages, as expected"),
        (ABC, [b"aaabbb", b"ccc"], "expected 3 messages, got 2: message 1 glued to message 2"),
        (ABC, [b"aaabbbccc"], "expected 3 messages, got 1: messages 1-3 glued together"),
        (ABC, [b"aaa", b"b", b"bb", b"ccc"], "expected 3 messages, got 4: "
                                             "message 2 split across 2 reads"),
        (
            ABC,
            [b"aa", b"abb", b"bccc"],
            GOT_3_OF_3 + "message 1 split across 2 reads; message 1 glued to message 2; "
            "message 2 split across 2 reads; message 2 glued to message 3",
        ),
        (ABC, [b"aaa", b"bb"], "expected 3 messages, got 2: message 2 cut short: 2 of 3 bytes; "
                               "message 3 missing"),
        (ABC, [b"aaa"], "expected 3 messages, got 1: messages 2-3 missing"),
        (ABC, [], "expected 3 messages, got 0: messages 1-3 missing"),
        (ABC, [*ABC, b"d"], "expected 3 messages, got 4: 1 extra byte after the last message"),
        (ABC, [b"aaa", b"bxb", b"ccc"], GOT_3_OF_3 + "the bytes differ from byte 4 on "
                                                     "(in message 2)"),
        ([b"a", b"", b"b"], [b"a", b"b"], "expected 3 messages, got 2: message 2 missing"),
        ([b"a", b"", b"b", b"c"], [b"a", b"b"], "expected 4 messages, got 2: "
                                                "messages 2, 4 missing"),
        (ABC, [b"aaa", b"xbb", b"ccc"], GOT_3_OF_3 + "the bytes differ from byte 3 on "
                                                     "(in message 2)"),
        ([b"a", b"", b"b"], [b"ab"], "expected 3 messages, got 1: messages 1-3 glued together"),
        ([b"a", b"b"], [b"a", b"", b"b"], "expected 2 messages, got 3: "
                                          "an unexpected empty message at byte 1"),
        ([b"a", b"b"], [b"b", b"a"], "expected 2 messages, got 2: "
                                     "the bytes differ from byte 0 on (in message 1)"),
    ],
)  # fmt: skip
def test_compare_verdicts(expected: list[bytes], got: list[bytes], verdict: str) -> None:
    assert compare(expected, got) == verdict


@given(st.lists(st.binary(max_size=6), max_size=6), st.data())
def test_compare_calls_intact_exactly_what_is_intact(
    expected: list[bytes], draw: st.DataObject
) -> None:
    joined = b"".join(expected)
    got = draw.draw(
        st.one_of(
            st.lists(st.integers(0, len(joined))).map(lambda cuts: slice_stream(joined, cuts)),
            st.lists(st.binary(max_size=6), max_size=6),
            st.just(expected[:-1]),
            st.just([*expected, b""]),
        )
    )
    verdict = compare(expected, got)
    if got == expected:
        assert not verdict.startswith("expected")
    else:
        head, _, problems = verdict.partition(": ")
        assert (
            head == f"expected {len(expected)} message{'s' * (len(expected) != 1)}, got {len(got)}"
        )
        assert problems
