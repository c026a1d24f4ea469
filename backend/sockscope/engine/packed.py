"""Packed events: a flood's loop calls and select() turns, kept as a few bytes each.

A flooding lab records tens of thousands of events a second, nearly all of two shapes: a
send() or recv() its loop made on a stream socket, and a select() turn. Made as event
objects, they cost the lab thread a few microseconds each and the log some 900 bytes
(bench 1 and 3). Here each is one ``bytes`` record instead:

- its numbers packed with :mod:`struct`; its seq is its place in the log, not stored;
- its strings (the socket's name, the call's line, the error; select()'s lists) interned
  in the log's :class:`Strings`, bounded (a lab that makes too many distinct ones has the
  rest recorded as objects, as before);
- the payload's bytes kept only as far as the event shows them (all of them up to
  ``FULL_BYTES``, else the first ``PREVIEW_BYTES``), and not at all when they are the
  pattern (:func:`payload.pattern`) at their stream offset, which makes them again.

:func:`unpack` makes the very event the object path makes (tests/engine/test_packed.py
compares them field by field); it runs when a reader asks for objects. Nothing is
sampled or dropped: every call is still recorded with what was asked and what the
kernel returned.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgspec

from sockscope.engine.core.payload import (
    FULL_BYTES,
    PREVIEW_BYTES,
    PatternSpan,
    pattern,
    pattern_matches,
    preview,
)
from sockscope.events import BytesInfo, CallEvent, Event, SelectEvent

CALL = 1
SELECT = 2

# kind, t_ns, call_id, site, line_arg, asked, done, offset, started_ns, duration_ns, error,
# note, flags; then the kept bytes.
_CALL = struct.Struct("<BqqIqqqqqqIBB")
# kind, t_ns, iteration, lists, timeout, blocked_ns, woken, idle_before, and which of the
# readers and of the writers were ready (bit i: the i-th name of the list)
_SELECT = struct.Struct("<BqqIdqBqQQ")
SELECT_RECORD = _SELECT  # packed by the lab's turn itself: SELECT_RECORD.pack(SELECT, ...)
MASK_NAMES = 64  # a list longer than this is not packed (its ready sets need more bits)

NO_ARG = -1  # the line has no number in it
NOTE_BYTES, NOTE_PEER_CLOSED, NOTE_SHUT_DOWN = 0, 1, 2
PATTERN = 1  # flags: the payload is the pattern at its offset; no bytes kept
RECV = 2  # flags: the result reads as a recv()'s (the bytes), not a send()'s (a count)
STRINGS_MAX = 4096


class Strings:
    """A log's interned values: each distinct one stored once, named by a number (0: none).

    Bounded: past ``limit`` values, :meth:`number` answers ``None`` and the event is kept as
    an object. Only the lab thread adds; readers look up numbers they were given."""

    def __init__(self, limit: int = STRINGS_MAX) -> None:
        self.limit = limit
        self._numbers: dict[Any, int] = {}
        self.values: list[Any] = [None]
        self.json: dict[int, tuple[str, ...]] = {}  # a value's parts as JSON (wire_text)

    def number(self, value: Any) -> int | None:
        found = self._numbers.get(value)
        if found is not None:
            return found
        if len(self.values) >= self.limit:
            return None
        self._numbers[value] = n = len(self.values)
        self.values.append(value)
        return n


def pack_call(
    strings: Strings,
    t_ns: int,
    call_id: int,
    number: int,
    arg: int,
    asked: int,
    data: bytes | memoryview | PatternSpan | None,
    offset: int,
    started_ns: int,
    duration_ns: int,
    error: tuple[str, str] | None,
    note: int,
    recv: bool,
) -> bytes | None:
    """A loop call's record (``via="loop"``), or None when it must be an object.

    ``number`` is its site (socket, op, line head, line tail) as interned in ``strings``,
    and ``arg`` the number between the two parts of the line ("cli.send(view[", 4096,
    ":])"), or NO_ARG when the head is all of it. ``data`` is what was transferred (None
    for a failed call); ``error`` (errno name, the exception as Python prints it) for a
    failed one. Positional: it runs for every call."""
    failed = 0 if error is None else strings.number(error)
    if failed is None:
        return None
    flags = RECV if recv else 0
    if data is None:
        return _CALL.pack(CALL, t_ns, call_id, number, arg, asked, -1, offset, started_ns,
                          duration_ns, failed, note, flags)  # fmt: skip
    size = len(data)
    shown = data if size <= FULL_BYTES else data[:PREVIEW_BYTES]
    if isinstance(shown, PatternSpan):  # a streamed send's bytes: the pattern by making
        shown = bytes(shown)
    if size and pattern_matches(shown, offset):
        return _CALL.pack(CALL, t_ns, call_id, number, arg, asked, size, offset, started_ns,
                          duration_ns, failed, note, flags | PATTERN)  # fmt: skip
    return _CALL.pack(CALL, t_ns, call_id, number, arg, asked, size, offset, started_ns,
                      duration_ns, failed, note, flags) + bytes(shown)  # fmt: skip


def pack_recv(
    t_ns: int,
    call_id: int,
    number: int,
    asked: int,
    data: bytes,
    offset: int,
    started_ns: int,
    duration_ns: int,
) -> bytes:
    """:func:`pack_call` of a loop recv() that read ``data`` (not empty) and did not fail,
    its line with no number: a flood's recv(), packed by the lab's turn itself, in one call
    (tests/engine/test_turn.py compares it with what the object path records)."""
    size = len(data)
    shown = data if size <= FULL_BYTES else data[:PREVIEW_BYTES]
    if pattern_matches(shown, offset):
        return _CALL.pack(CALL, t_ns, call_id, number, NO_ARG, asked, size, offset, started_ns,
                          duration_ns, 0, NOTE_BYTES, RECV | PATTERN)  # fmt: skip
    return _CALL.pack(CALL, t_ns, call_id, number, NO_ARG, asked, size, offset, started_ns,
                      duration_ns, 0, NOTE_BYTES, RECV) + shown  # fmt: skip


def pack_select(
    strings: Strings,
    *,
    t_ns: int,
    iteration: int,
    lists: tuple[tuple[str, ...], tuple[str, ...]],
    ready: tuple[tuple[str, ...], tuple[str, ...]],
    timeout: float,
    blocked_ns: int,
    woken: bool,
    idle_before: int,
) -> bytes | None:
    """A select() turn's record, or None. ``lists`` (readers, writers) are interned; which
    of them were ``ready`` is two bit masks, so the many ready sets of a busy lab take no
    room in the strings."""
    ready_r, ready_w = mask(lists[0], ready[0]), mask(lists[1], ready[1])
    if ready_r is None or ready_w is None:
        return None
    number = strings.number(lists)
    if number is None:
        return None
    return pack_select_masks(
        t_ns, iteration, number, timeout, blocked_ns, woken, idle_before, ready_r, ready_w
    )


def pack_select_masks(
    t_ns: int,
    iteration: int,
    number: int,
    timeout: float,
    blocked_ns: int,
    woken: bool,
    idle_before: int,
    ready_r: int,
    ready_w: int,
) -> bytes:
    """A select() turn's record from its interned lists' ``number`` and its ready masks."""
    return _SELECT.pack(
        SELECT, t_ns, iteration, number, timeout, blocked_ns, woken, idle_before, ready_r, ready_w
    )


def mask(names: tuple[str, ...], subset: tuple[str, ...]) -> int | None:
    """Bit i set for each of ``subset`` that is ``names[i]``; None when ``subset`` is not
    some of ``names`` in their order (select() answers in the order it was asked)."""
    if len(names) > MASK_NAMES:
        return None
    found, last = 0, -1
    for name in subset:
        try:
            at = names.index(name, last + 1)
        except ValueError:
            return None
        found, last = found | 1 << at, at
    return found


def picked(names: tuple[str, ...], bits: int) -> list[str]:
    """The names whose bits are set in ``bits``."""
    return [name for i, name in enumerate(names) if bits >> i & 1]


def _shown(record: bytes, done: int, offset: int, flags: int) -> bytes:
    """The bytes a call event shows (all up to FULL_BYTES, else the first PREVIEW_BYTES):
    made again when they are the pattern, else kept after the record's numbers."""
    if flags & PATTERN:
        return pattern(offset, done if done <= FULL_BYTES else PREVIEW_BYTES)
    return record[_CALL.size :]


def unpack(record: bytes, seq: int, strings: Strings) -> Event:
    """The event ``record`` stands for, numbered ``seq``."""
    values = strings.values
    if record[0] == SELECT:
        _, t_ns, iteration, number, timeout, blocked_ns, woken, idle, mask_r, mask_w = (
            _SELECT.unpack(record)
        )
        readers, writers = values[number]
        return SelectEvent(
            seq=seq,
            t_ns=t_ns,
            iteration=iteration,
            readers=list(readers),
            writers=list(writers),
            errors=[],
            timeout=timeout,
            ready_readers=picked(readers, mask_r),
            ready_writers=picked(writers, mask_w),
            ready_errors=[],
            blocked_ns=blocked_ns,
            woken=bool(woken),
            idle_before=idle,
        )
    fields = _CALL.unpack_from(record)
    _, t_ns, call_id, site, arg, asked, done, offset, started, duration, failed, note, flags = (
        fields
    )
    socket, op, line_head, line_tail = values[site]
    line = line_head if arg == NO_ARG else f"{line_head}{arg}{line_tail}"
    common = {
        "seq": seq,
        "t_ns": t_ns,
        "call_id": call_id,
        "socket": socket,
        "op": op,
        "line": line,
        "via": "loop",
        "asked": asked,
        "started_ns": started,
        "duration_ns": duration,
    }
    if failed:
        name, text = values[failed]
        return CallEvent(
            **common,
            done=None,
            data=None,
            result=None,
            result_text=name,
            errno=name,
            error=text,
        )
    shown = _shown(record, done, offset, flags)
    head, _ = preview(shown)
    truncated = done > PREVIEW_BYTES
    info = BytesInfo(
        len=done,
        offset=offset,
        head=head,
        truncated=truncated,
        hex=shown.hex() if done <= FULL_BYTES else None,
    )
    if not flags & RECV:
        text = str(done)
    elif done:
        text = f"{head}{'...' if truncated else ''} ({done} bytes)"
    elif note == NOTE_SHUT_DOWN:
        text = "b'' (this side was shut down)"
    else:
        text = "b'' (peer closed)"
    return CallEvent(
        **common,
        done=done,
        data=info,
        result=done,
        result_text=text,
        errno=None,
        error=None,
    )


# -- straight to the wire ------------------------------------------------------------------
# What a viewer is sent, made from the record without the event object: the same text as
# log.encode(unpack(record)) (tests/engine/test_packed.py compares them), for a third of
# the cost. Strings go through msgspec's JSON string writer; the interned ones once.

_json = msgspec.json.Encoder()

_CALL_JSON = (
    '{"kind":"call","seq":%d,"t_ns":%d,"call_id":%d,"socket":%s,"op":%s,"line":%s,'
    '"via":"loop","asked":%d,"done":%s,"data":%s,"result":%s,"result_text":%s,"errno":%s,'
    '"error":%s,"started_ns":%d,"duration_ns":%d}'
)
_DATA_JSON = '{"len":%d,"offset":%d,"head":%s,"truncated":%s,"hex":%s}'
_SELECT_JSON = (
    '{"kind":"select","seq":%d,"t_ns":%d,"iteration":%d,"readers":%s,"writers":%s,'
    '"errors":[],"timeout":%s,"ready_readers":%s,"ready_writers":%s,"ready_errors":[],'
    '"blocked_ns":%d,"woken":%s,"idle_before":%d}'
)


def _text(value: Any) -> str:
    return _json.encode(value).decode()


def _fragments(strings: Strings, number: int) -> tuple[str, ...]:
    """The JSON of an interned value's parts, made once (readers share them: a dict's
    assignment is atomic)."""
    found = strings.json.get(number)
    if found is None:
        found = strings.json[number] = tuple(_text(part) for part in strings.values[number])
    return found


def wire_text(record: bytes, seq: int, strings: Strings) -> str:
    """The JSON text of the event ``record`` stands for, numbered ``seq``."""
    if record[0] == SELECT:
        _, t_ns, iteration, number, timeout, blocked_ns, woken, idle, mask_r, mask_w = (
            _SELECT.unpack(record)
        )
        readers, writers = _fragments(strings, number)
        names = strings.values[number]
        ready_r = _text(picked(names[0], mask_r)) if mask_r else "[]"
        ready_w = _text(picked(names[1], mask_w)) if mask_w else "[]"
        return _SELECT_JSON % (seq, t_ns, iteration, readers, writers, _text(timeout), ready_r,
                               ready_w, blocked_ns, "true" if woken else "false", idle)  # fmt: skip
    fields = _CALL.unpack_from(record)
    _, t_ns, call_id, site, arg, asked, done, offset, started, duration, failed, note, flags = (
        fields
    )
    socket, op, head_json, tail_json = _fragments(strings, site)
    line = head_json if arg == NO_ARG else f"{head_json[:-1]}{arg}{tail_json[1:]}"
    if failed:
        name, text = _fragments(strings, failed)
        return _CALL_JSON % (seq, t_ns, call_id, socket, op, line, asked, "null", "null",
                             "null", name, name, text, started, duration)  # fmt: skip
    shown = _shown(record, done, offset, flags)
    if flags & PATTERN:  # hex digits and bars: its repr and JSON need no escapes
        head = f"\"b'{shown[:PREVIEW_BYTES].decode()}'\""
    else:
        head = _text(preview(shown)[0])
    truncated = done > PREVIEW_BYTES
    hex_text = f'"{shown.hex()}"' if done <= FULL_BYTES else "null"
    data = _DATA_JSON % (done, offset, head, "true" if truncated else "false", hex_text)
    if not flags & RECV:
        result_text = f'"{done}"'
    elif done:
        result_text = f'{head[:-1]}{"..." if truncated else ""} ({done} bytes)"'
    elif note == NOTE_SHUT_DOWN:
        result_text = "\"b'' (this side was shut down)\""
    else:
        result_text = "\"b'' (peer closed)\""
    return _CALL_JSON % (seq, t_ns, call_id, socket, op, line, asked, done, data, done,
                         result_text, "null", "null", started, duration)  # fmt: skip


# -- rows: the compact wire form ----------------------------------------------------------
# A viewer that asks for rows (ws.py, ``?rows=1``: the lab page) is sent a packed event as
# its record's numbers, a JSON array, and the interned strings those numbers name once per
# connection; docs/api.md spells the form out and frontend/src/protocol/rows.ts reads it.
# A row is the record's fields in order (kind first: 1 a call, 2 a select() turn); a call
# whose bytes are kept (not the pattern) has two more: their repr (the event's head) and
# their hex. The pattern's bytes are made again by the reader from the offset.

SAFE_MASK = 1 << 53  # a mask from here up is no exact JSON number for a browser
_CALL_FIELDS = 13  # a call row's numbers; then, if its bytes are kept, their repr and hex


def row_texts(
    items: list[Any], first: int, strings: Strings, encode_object: Callable[[Any], str]
) -> list[str]:
    """The row of each packed record of ``items`` (the first numbered ``first``) as JSON
    text; for the rest, and for a record with no row (a ready mask past what a browser's
    numbers hold exactly), the object's text. One loop, no call per event but msgspec's
    (a viewer's batch; a lab host's news)."""
    out: list[str] = []
    encode = _json.encode
    unpack_select, unpack_call, size = _SELECT.unpack, _CALL.unpack_from, _CALL.size
    for i, item in enumerate(items):
        if item.__class__ is not bytes:
            out.append(encode_object(item))
        elif item[0] == SELECT:
            fields = unpack_select(item)
            if fields[8] >= SAFE_MASK or fields[9] >= SAFE_MASK:
                out.append(wire_text(item, first + i, strings))
            else:
                out.append(encode(fields).decode())
        elif len(item) == size:
            out.append(encode(unpack_call(item)).decode())
        else:
            kept = item[size:]
            row = (*unpack_call(item), repr(kept[:PREVIEW_BYTES]), kept.hex())
            out.append(encode(row).decode())
    return out


def from_row(row: list[Any]) -> bytes:
    """The record a row was made of (the reader of a lab host's rows, in the web process)."""
    if row[0] == SELECT:
        return _SELECT.pack(*row)
    if len(row) > _CALL_FIELDS:
        return _CALL.pack(*row[:_CALL_FIELDS]) + bytes.fromhex(row[_CALL_FIELDS + 1])
    return _CALL.pack(*row)
