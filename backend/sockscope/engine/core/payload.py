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


def pattern_matches(data: bytes | memoryview, offset: int) -> bool:
    """Whether ``data`` is ``pattern(offset, len(data))``: cheap for a few hundred bytes,
    what a recorded event shows of a payload (pattern() slices and translates the sheet)."""
    return pattern(offset, len(data)) == data


def preview(data: bytes | memoryview, limit: int = PREVIEW_BYTES) -> tuple[str, bool]:
    """The Python repr of the first ``limit`` bytes, and whether it was cut."""
    return repr(bytes(data[:limit])), len(data) > limit


def literal(data: bytes, limit: int = 64) -> str:
    """A bytes literal for a Python line; long data is shortened with a comment."""
    if len(data) <= limit:
        return repr(bytes(data))
    return f"{bytes(data[:limit])!r}...  # {len(data)} bytes"
