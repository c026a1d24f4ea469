"""Payloads: generated patterned bytes, and short previews of bytes (pure).

A "size" payload is cut from one endless pattern that is a function of the
stream offset: 8-byte blocks ``b"0000000|"``, ``b"0000001|"``, ... (the block
number in hex). A socket's second send continues where its stream stands, so
any byte a receiver gets tells where in the sender's stream it was: the cuts
made by recv() can be located by eye.
"""

from __future__ import annotations

import functools

BLOCK = 8
PREVIEW_BYTES = 48
FULL_BYTES = 256  # payloads this small are recorded whole (in hex)
_PAGES_WRAP = 16**5


# 256 blocks share their first five hex digits: fill a template's placeholders
# with bytes.replace (C speed) instead of formatting two million blocks one by one.
_HOLE = b"\0" * 5
_TEMPLATE = b"".join(_HOLE + b"%02x|" % low for low in range(256))
PAGE_BYTES = 256 * BLOCK  # the blocks that share their first five hex digits


# A span of 256 pages (512 KiB) shares the first three hex digits of its blocks: one
# sheet with the other four filled and those three as placeholders (\1 \2 \3, bytes the
# pattern never has) makes any span with one bytes.translate, a single pass at memory speed.
# Made on first use (512 KiB, once a process); a 64 MiB payload is 128 of them, joined.
SHEET_BYTES = 256 * 256 * BLOCK


@functools.cache
def _the_sheet() -> bytes:
    return b"".join(_TEMPLATE.replace(_HOLE, b"\1\2\3%02x" % page) for page in range(256))


@functools.lru_cache(maxsize=64)
def _sheet_table(span: int) -> bytes:
    """The translation that makes sheet ``span % 4096`` of the pattern (its blocks' first
    three hex digits); kept for the spans in use (a stream's events show a few at a time)."""
    table = bytearray(range(256))
    table[1:4] = b"%03x" % (span % 4096)
    return bytes(table)


def pattern(offset: int, size: int) -> bytes:
    """``size`` bytes of the pattern, starting at stream ``offset``."""
    if size <= 0:
        return b""
    if size >= SHEET_BYTES:  # large: whole sheets, translated
        sheet = _the_sheet()
        first, last = offset // SHEET_BYTES, (offset + size - 1) // SHEET_BYTES
        start, end = offset - first * SHEET_BYTES, offset + size - last * SHEET_BYTES
        if first == last:
            return sheet[start:end].translate(_sheet_table(first))
        return b"".join(
            [
                sheet[start:].translate(_sheet_table(first)),
                *(sheet.translate(_sheet_table(span)) for span in range(first + 1, last)),
                sheet[:end].translate(_sheet_table(last)),
            ]
        )
    if size <= PAGE_BYTES:  # small (what an event shows): a slice of the sheet, translated
        span, start = divmod(offset, SHEET_BYTES)
        if start + size <= SHEET_BYTES:
            return _the_sheet()[start : start + size].translate(_sheet_table(span))
        cut = SHEET_BYTES - start
        return pattern(offset, cut) + pattern(offset + cut, size - cut)
    first = offset // BLOCK
    last = (offset + size - 1) // BLOCK
    pages = range(first // 256, last // 256 + 1)
    text = b"".join(_TEMPLATE.replace(_HOLE, b"%05x" % (page % _PAGES_WRAP)) for page in pages)
    start = offset - pages[0] * 256 * BLOCK
    return text[start : start + size]


# A payload larger than this is made as it is sent (PatternStream), never whole.
STREAM_ABOVE = 8 * SHEET_BYTES
_HEX = b"0123456789abcdef"


@functools.lru_cache(maxsize=16)
def _digit_column(digit: int) -> bytes:
    """One hex digit for each block of a sheet: what a sheet's digit column is set to."""
    return _HEX[digit : digit + 1] * (SHEET_BYTES // BLOCK)


class PatternStream:
    """``size`` bytes of the pattern from stream ``offset``, made a sheet (512 KiB) at a time
    as they are sent, so a 64 MiB sendall neither waits for nor holds 64 MiB.

    The sheets ahead of the sender, as far as it reaches, are kept in buffers. When the
    sender is past one, its buffer becomes a later sheet in place: the two sheets differ
    only in the three hex digits that open each block (the sheet's number), so a strided
    slice assignment rewrites the columns that changed (65,536 bytes each, a C loop, 47 us)
    instead of translating 512 KiB again (360 us). A new buffer, while the stream grows to
    its reach, is a copy of one in hand (15 us), rewritten the same way; only the first is
    translated.
    """

    __slots__ = ("_free", "_ready", "margin", "offset", "size")

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size
        self.margin = SHEET_BYTES  # what a window reaches past the send buffer's size
        self._ready: dict[int, bytearray] = {}  # sheet number -> its bytes
        self._free: list[tuple[int, bytearray]] = []  # buffers the sender is past

    def reach_more(self) -> None:
        """Reach further: the kernel took all it was offered (a reader drained the buffer
        while the call ran)."""
        self.margin *= 2

    def window(self, sent: int, reach: int) -> list[memoryview]:
        """The payload from its byte ``sent`` on, at least ``reach`` bytes of it (or all that
        is left), as views of whole-sheet buffers in order: what one sendmsg() is given."""
        start, end = self.offset + sent, self.offset + self.size
        if start >= end:
            return []
        first = start // SHEET_BYTES
        last = min(end - 1, start + max(reach, 1) - 1) // SHEET_BYTES
        for span in [span for span in self._ready if span < first]:
            self._free.append((span, self._ready.pop(span)))
        views = []
        for span in range(first, last + 1):
            buf = self._ready.get(span)
            if buf is None:
                buf = self._ready[span] = self._sheet(span)
            base = span * SHEET_BYTES
            cut = slice(max(start, base) - base, min(end, base + SHEET_BYTES) - base)
            views.append(memoryview(buf)[cut])
        return views

    def _sheet(self, span: int) -> bytearray:
        if self._free:  # a buffer the sender is past becomes this sheet
            was, buf = self._free.pop()
        elif self._ready:  # a copy of a sheet in hand (memcpy, 30x cheaper than translate)
            was, ready = next(iter(self._ready.items()))
            buf = bytearray(ready)
        else:
            return bytearray(_the_sheet().translate(_sheet_table(span)))
        for column in range(3):  # the sheet's number, three hex digits, high first
            shift = 4 * (2 - column)
            digit = span >> shift & 15
            if was >> shift & 15 != digit:
                buf[column::BLOCK] = _digit_column(digit)
        return buf


class PatternSpan:
    """The pattern's bytes from stream ``offset``, ``size`` of them, as a sequence that makes
    only what is read of it: what a record of a streamed send() is given as the bytes sent
    (its length, and the first few hundred bytes an event shows)."""

    __slots__ = ("offset", "size")

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = max(size, 0)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, cut: slice) -> PatternSpan | bytes:
        start, stop, step = cut.indices(self.size)
        if step != 1:
            raise ValueError("a PatternSpan is cut in one piece")
        if stop - start <= FULL_BYTES:
            return pattern(self.offset + start, stop - start)
        return PatternSpan(self.offset + start, stop - start)

    def __bytes__(self) -> bytes:
        return pattern(self.offset, self.size)


def pattern_matches(data: bytes | memoryview, offset: int) -> bool:
    """Whether ``data`` is ``pattern(offset, len(data))``: cheap for a few hundred bytes,
    what a recorded event shows of a payload (pattern() slices and translates the sheet)."""
    size = len(data)
    span, start = divmod(offset, SHEET_BYTES)
    if 0 < size <= PAGE_BYTES and start + size <= SHEET_BYTES:  # pattern()'s small case, inlined
        return _the_sheet()[start : start + size].translate(_sheet_table(span)) == data
    return pattern(offset, size) == data


def preview(data: bytes | memoryview | PatternSpan, limit: int = PREVIEW_BYTES) -> tuple[str, bool]:
    """The Python repr of the first ``limit`` bytes, and whether it was cut."""
    return repr(bytes(data[:limit])), len(data) > limit


def literal(data: bytes, limit: int = 64) -> str:
    """A bytes literal for a Python line; long data is shortened with a comment."""
    if len(data) <= limit:
        return repr(bytes(data))
    return f"{bytes(data[:limit])!r}...  # {len(data)} bytes"
