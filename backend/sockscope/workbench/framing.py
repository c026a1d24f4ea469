"""Message framing on a byte stream (pure): bytes in, whole messages out.

TCP keeps no message boundaries: one recv() may hold half a message, or the end of
one and the start of the next. The HOWTO's way out: "messages must either be fixed
length, or be delimited, or indicate how long they are, or end by shutting down the
connection". One config per way, :func:`encode` to put messages on the wire, and an
incremental :class:`Decoder` (from :func:`decoder_for`) that is fed whatever recv()
returned and holds back the bytes of a message not yet complete.

Texts for people count messages from 1 and stream bytes from 0.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import assert_never

from sockscope.workbench.byteorder import parse_int_format

MAX_MESSAGE_SIZE = 16 * 1024 * 1024


class FramingError(Exception):
    """The stream breaks its framing: a bad length prefix, an oversized or unfinished message.

    ``offset`` is where the message at fault starts in the stream; ``messages`` are the
    ones the failing call had completed before it met the fault.
    """

    def __init__(self, reason: str, *, offset: int, messages: Sequence[bytes] = ()) -> None:
        super().__init__(f"{reason} (message starting at byte {offset})")
        self.offset = offset
        self.messages = list(messages)


@dataclass(frozen=True, slots=True)
class FixedLength:
    size: int

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"a fixed length must be at least 1 byte, not {self.size}")


@dataclass(frozen=True, slots=True)
class Delimited:
    delimiter: bytes = b"\n"

    def __post_init__(self) -> None:
        if not self.delimiter:
            raise ValueError("the delimiter must not be empty")


@dataclass(frozen=True, slots=True)
class LengthPrefixText:
    """The length as ``digits`` zero-padded ASCII decimal digits, then the message."""

    digits: int = 5

    def __post_init__(self) -> None:
        if self.digits < 1:
            raise ValueError(f"a length prefix needs at least 1 digit, not {self.digits}")


@dataclass(frozen=True, slots=True)
class LengthPrefixBinary:
    """The length packed with struct format ``fmt`` (``'!I'``, ``'<H'``...), then the message.

    Unsigned codes only: a length is never negative.
    """

    fmt: str = "!I"

    def __post_init__(self) -> None:
        if parse_int_format(self.fmt).signed:
            raise ValueError(f"a length prefix must be unsigned: {self.fmt!r} is signed")


@dataclass(frozen=True, slots=True)
class ShutdownTerminated:
    """One message per connection: every byte until the sender shuts down (EOF)."""


Strategy = FixedLength | Delimited | LengthPrefixText | LengthPrefixBinary | ShutdownTerminated


def encode(strategy: Strategy, messages: Sequence[bytes]) -> bytes:
    """``messages`` framed for the wire, back to back.

    Raises:
        ValueError: as :func:`frames`.
    """
    return b"".join(frames(strategy, messages))


def frames(strategy: Strategy, messages: Sequence[bytes]) -> list[bytes]:
    """Each message as it goes on the wire, framing included.

    What a receiver would see if each recv() returned exactly one message: the list to
    :func:`compare` :func:`naive_receive` against.

    Raises:
        ValueError: a message the strategy cannot carry (wrong size, holds the delimiter,
            too long for the prefix; anything but exactly one for ShutdownTerminated).
    """
    if isinstance(strategy, ShutdownTerminated) and len(messages) != 1:
        raise ValueError(f"one message per connection, not {len(messages)}")
    return [_frame(strategy, number, message) for number, message in enumerate(messages, 1)]


def _frame(strategy: Strategy, number: int, message: bytes) -> bytes:
    match strategy:
        case FixedLength(size):
            if len(message) != size:
                raise ValueError(f"message {number} is {len(message)} bytes, not {size}")
            return bytes(message)
        case Delimited(delimiter):
            # find() on message + delimiter also catches a message whose tail starts an
            # overlapping delimiter (b"ab" before b"aba"): the reader would stop early.
            if (message + delimiter).find(delimiter) != len(message):
                raise ValueError(f"message {number} would be cut at delimiter {delimiter!r}")
            return message + delimiter
        case LengthPrefixText(digits):
            if len(message) >= 10**digits:
                raise ValueError(
                    f"message {number} is {len(message)} bytes: {digits} digits hold "
                    f"at most {10**digits - 1}"
                )
            return b"%0*d" % (digits, len(message)) + message
        case LengthPrefixBinary(fmt):
            limit = parse_int_format(fmt).maximum
            if len(message) > limit:
                raise ValueError(
                    f"message {number} is {len(message)} bytes: {fmt!r} holds at most {limit}"
                )
            return struct.pack(fmt, len(message)) + message
        case ShutdownTerminated():
            return bytes(message)
        case _:
            assert_never(strategy)


class Decoder(ABC):
    """Feed it recv() results in order; it returns each message once it is whole."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._offset = 0  # where the buffer starts in the stream
        self._ended = False

    @property
    def pending(self) -> bytes:
        """The bytes held back: a message (or prefix) not yet complete."""
        return bytes(self._buffer)

    def feed(self, chunk: bytes) -> list[bytes]:
        """The messages ``chunk`` completed, in order (often none, maybe several).

        Raises:
            FramingError: the stream breaks the framing, or already ended.
        """
        self._check_open()
        self._buffer += chunk
        messages: list[bytes] = []
        try:
            while (message := self._take()) is not None:
                messages.append(message)
        except FramingError as exc:
            exc.messages = messages
            raise
        return messages

    def eof(self) -> list[bytes]:
        """The end of the stream (recv() returned ``b""``): the messages it completes.

        Raises:
            FramingError: the stream ended inside a message, or had already ended.
        """
        self._check_open()
        self._ended = True
        if self._buffer:
            raise self._error(f"the stream ended inside a message: {self._leftover()}")
        return []

    def _check_open(self) -> None:
        if self._ended:
            raise self._error("the stream had already ended")

    def _error(self, reason: str) -> FramingError:
        return FramingError(reason, offset=self._offset)

    def _pop(self, start: int, stop: int, consumed: int) -> bytes:
        message = bytes(self._buffer[start:stop])
        del self._buffer[:consumed]
        self._offset += consumed
        return message

    def _check_size(self, length: int, *, at_least: bool = False) -> None:
        if length > self.max_size:
            size = f"{'at least ' if at_least else ''}{length} bytes"
            raise self._error(f"a message of {size} is over the {self.max_size}-byte limit")

    @abstractmethod
    def _take(self) -> bytes | None:
        """The next whole message off the buffer, or ``None`` until there is one."""

    def _leftover(self) -> str:
        """What the bytes left in the buffer are, for an error."""
        return f"{len(self._buffer)} bytes"


class _FixedLengthDecoder(Decoder):
    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(max_size)
        self.size = size

    def _take(self) -> bytes | None:
        if len(self._buffer) < self.size:
            return None
        return self._pop(0, self.size, self.size)

    def _leftover(self) -> str:
        return f"{len(self._buffer)} of its {self.size} bytes"


class _DelimitedDecoder(Decoder):
    def __init__(self, delimiter: bytes, max_size: int) -> None:
        super().__init__(max_size)
        self.delimiter = delimiter
        self._scanned = 0  # the buffer holds no delimiter starting before this

    def _take(self) -> bytes | None:
        end = self._buffer.find(self.delimiter, self._scanned)
        if end < 0:
            self._scanned = max(0, len(self._buffer) - len(self.delimiter) + 1)
            self._check_size(self._scanned, at_least=True)
            return None
        self._check_size(end)
        self._scanned = 0
        return self._pop(0, end, end + len(self.delimiter))

    def _leftover(self) -> str:
        return f"{len(self._buffer)} bytes and no delimiter {self.delimiter!r}"


class _LengthPrefixDecoder(Decoder):
    def __init__(self, prefix_size: int, max_size: int) -> None:
        super().__init__(max_size)
        self.prefix_size = prefix_size

    @abstractmethod
    def _length(self, prefix: bytes) -> int:
        """The message length a prefix (whole or, to fail early, partial) says; -1 if partial."""

    def _take(self) -> bytes | None:
        length = self._length(bytes(self._buffer[: self.prefix_size]))
        if length < 0:
            return None
        self._check_size(length)
        end = self.prefix_size + length
        if len(self._buffer) < end:
            return None
        return self._pop(self.prefix_size, end, end)

    def _leftover(self) -> str:
        if len(self._buffer) < self.prefix_size:
            return f"{len(self._buffer)} of the {self.prefix_size} bytes of its length prefix"
        length = self._length(bytes(self._buffer[: self.prefix_size]))
        return f"{len(self._buffer) - self.prefix_size} of its {length} bytes"


class _TextPrefixDecoder(_LengthPrefixDecoder):
    def _length(self, prefix: bytes) -> int:
        # bytes.isdigit() is ASCII-only; checking a partial prefix fails as early as possible.
        if prefix and not prefix.isdigit():
            raise self._error(f"length prefix {prefix!r} is not {self.prefix_size} decimal digits")
        return int(prefix) if len(prefix) == self.prefix_size else -1


class _BinaryPrefixDecoder(_LengthPrefixDecoder):
    def __init__(self, fmt: str, max_size: int) -> None:
        super().__init__(struct.calcsize(fmt), max_size)
        self.fmt = fmt

    def _length(self, prefix: bytes) -> int:
        if len(prefix) < self.prefix_size:
            return -1
        (length,) = struct.unpack(self.fmt, prefix)
        return int(length)


class _ShutdownDecoder(Decoder):
    def _take(self) -> None:
        self._check_size(len(self._buffer), at_least=True)

    def eof(self) -> list[bytes]:
        self._check_open()
        self._ended = True
        return [self._pop(0, len(self._buffer), len(self._buffer))]


def decoder_for(strategy: Strategy, *, max_size: int = MAX_MESSAGE_SIZE) -> Decoder:
    """A fresh decoder for one stream framed with ``strategy``.

    ``max_size`` guards memory: a longer message (as announced or as accumulated) is a
    FramingError instead of a buffer that grows without end.

    Raises:
        ValueError: a FixedLength size over ``max_size``.
    """
    match strategy:
        case FixedLength(size):
            if size > max_size:
                raise ValueError(f"fixed length {size} is over the {max_size}-byte limit")
            return _FixedLengthDecoder(size, max_size)
        case Delimited(delimiter):
            return _DelimitedDecoder(delimiter, max_size)
        case LengthPrefixText(digits):
            return _TextPrefixDecoder(digits, max_size)
        case LengthPrefixBinary(fmt):
            return _BinaryPrefixDecoder(fmt, max_size)
        case ShutdownTerminated():
            return _ShutdownDecoder(max_size)
        case _:
            assert_never(strategy)


def naive_receive(chunks: Sequence[bytes]) -> list[bytes]:
    """The broken receiver: takes each recv() result for one message, as it is."""
    return [bytes(chunk) for chunk in chunks]


def slice_stream(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the stream positions ``cuts`` (any order, repeats ignored).

    Never yields an empty chunk: recv() returns ``b""`` only at the end of the stream.

    Raises:
        ValueError: a cut outside ``0..len(data)``.
    """
    outside = [cut for cut in cuts if not 0 <= cut <= len(data)]
    if outside:
        raise ValueError(f"cut {outside[0]} is outside the {len(data)}-byte stream")
    edges = sorted({0, len(data), *cuts})
    return [data[start:stop] for start, stop in pairwise(edges) if stop > start]


def compare(expected: Sequence[bytes], got: Sequence[bytes]) -> str:
    """A one-line verdict on ``got`` (what a receiver took for messages) against ``expected``.

    Names the messages glued together, split across reads, cut short or missing; when the
    bytes themselves differ, where they start to.
    """
    if list(expected) == list(got):
        count = len(expected)
        if count < 2:
            return "1 message, intact" if count else "no messages, as expected"
        return f"{count} messages, all intact"
    head = f"expected {_messages(len(expected))}, got {len(got)}"
    sent, received = b"".join(expected), b"".join(got)
    same = _common_prefix(sent, received)
    if same == len(sent) < len(received):
        extra = len(received) - same
        return f"{head}: {extra} extra byte{'' if extra == 1 else 's'} after the last message"
    if same < len(received):
        number = next(n for n, (_, stop) in enumerate(_spans(expected), 1) if stop > same)
        return f"{head}: the bytes differ from byte {same} on (in message {number})"
    return f"{head}: {'; '.join(_boundary_problems(expected, got))}"


def _common_prefix(first: bytes, second: bytes) -> int:
    """How many leading bytes the two share (by bisection: slices compare at C speed)."""
    same, differ = 0, min(len(first), len(second)) + 1
    while differ - same > 1:
        middle = (same + differ) // 2
        if first[:middle] == second[:middle]:
            same = middle
        else:
            differ = middle
    return same


def _messages(count: int) -> str:
    return f"{count} message{'' if count == 1 else 's'}"


def _spans(pieces: Sequence[bytes]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for piece in pieces:
        spans.append((start, start + len(piece)))
        start += len(piece)
    return spans


def _boundary_problems(expected: Sequence[bytes], got: Sequence[bytes]) -> list[str]:
    """What went wrong, when ``got`` joined is ``expected`` joined or the start of it."""
    messages = _spans(expected)
    filled = [(n, start, stop) for n, (start, stop) in enumerate(messages, 1) if start < stop]
    filled_starts, filled_stops = [start for _, start, _ in filled], [stop for *_, stop in filled]
    reads = [(a, b) for a, b in _spans(got) if a < b]
    starts, stops = [a for a, _ in reads], [b for _, b in reads]
    end = stops[-1] if stops else 0
    found: list[tuple[int, str]] = []  # (first message number concerned, text)
    missing: list[int] = []
    for number, start, stop in filled:
        if start >= end:
            missing.append(number)
            continue
        if stop > end:
            found.append(
                (number, f"message {number} cut short: {end - start} of {stop - start} bytes")
            )
        parts = bisect_left(starts, stop) - bisect_right(stops, start)
        if parts > 1:
            found.append((number, f"message {number} split across {parts} reads"))
    for a, b in reads:
        first = filled[bisect_right(filled_stops, a)][0]
        last = filled[bisect_left(filled_starts, b) - 1][0]
        if last == first + 1:
            found.append((first, f"message {first} glued to message {last}"))
        elif last > first:
            found.append((first, f"messages {first}-{last} glued together"))
    # An empty message leaves no bytes: it is there if an empty piece stands at its place.
    empty_pieces = Counter(a for a, b in _spans(got) if a == b)
    for number, (start, stop) in enumerate(messages, 1):
        if start < stop:
            continue
        if empty_pieces[start]:
            empty_pieces[start] -= 1
            continue
        around = bisect_left(starts, start) - 1
        if around < 0 or stops[around] <= start:  # else inside a glued read, named above
            missing.append(number)
    if missing:
        found.append((missing[0], _missing(missing)))
    problems = [text for _, text in sorted(found, key=lambda item: item[0])]
    return problems + [
        f"an unexpected empty message at byte {at}" for at in empty_pieces.elements()
    ]


def _missing(numbers: list[int]) -> str:
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    if len(numbers) == 1:
        return f"message {numbers[0]} missing"
    named = ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
    return f"messages {named} missing"
