"""A lab's bounded event log: one writer (the engine thread), many readers.

Readers keep a cursor (the last ``seq`` they have) and ask for what follows.
When the log has dropped what a reader still needed, :meth:`EventLog.after`
says so (a gap) instead of silently skipping: memory stays bounded and no
viewer can slow the engine down.

:class:`BoundedLog` is the bound, the cursor and the listeners over items of any kind:
:class:`EventLog` keeps events; a lab host's mirror in the web process keeps their JSON
text instead (:class:`sockscope.labs.remote.MirrorLog`). Both answer ``after`` (events) and
``wire_after`` (each event's JSON text, what a viewer is sent).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from sockscope.engine import packed
from sockscope.events import Event

T = TypeVar("T")

# msgspec writes a dataclass as to_wire() + json.dumps(separators=(",", ":"),
# ensure_ascii=False) do (fields in order, tuples as arrays, Unicode as is), at some
# 0.6 us an event where those took 9 (bench 2; tests/engine/test_log.py compares them).
_encoder = msgspec.json.Encoder()


def encode(event: Event) -> str:
    """An event's JSON text, as a websocket viewer gets it (Starlette's send_json makes the
    same: no spaces, Unicode as is)."""
    return _encoder.encode(event).decode()


@dataclass(frozen=True, slots=True)
class Page:
    events: list[Event]
    gap: tuple[int, int] | None  # (first missing seq, last missing seq) when part was dropped
    last_seq: int  # newest seq in the log when read


@dataclass(frozen=True, slots=True)
class WirePage:
    texts: list[str]  # each event's JSON text, oldest first
    last: int  # the seq of the last of them (the reader's next cursor); the cursor if none
    gap: tuple[int, int] | None
    last_seq: int


def wire_page(
    texts: list[str], first: int, seq: int, gap: tuple[int, int] | None, last: int
) -> WirePage:
    """A page of texts whose first has seq ``first``, read after cursor ``seq``."""
    end = first + len(texts) - 1 if texts else max(seq, gap[1] if gap else 0)
    return WirePage(texts, end, gap, last)


class BoundedLog(Generic[T]):
    """The newest ``capacity`` (up to 1.25 times that) items, numbered from 1."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._events: list[T] = []
        self._first_seq = 1  # seq of self._events[0]
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[], None], ...] = ()

    @property
    def capacity(self) -> int:
        return self._capacity

    @capacity.setter
    def capacity(self, capacity: int) -> None:
        self._capacity = max(16, capacity)
        self._trim_above = self._capacity + self._capacity // 4  # trimmed past this

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._first_seq + len(self._events) - 1

    @property
    def first_seq(self) -> int:
        with self._lock:
            return self._first_seq

    def _trimmed(self) -> tuple[Callable[[], None], ...]:
        """Under the lock, after adding: drop the oldest past capacity*1.25 (down to the
        capacity, so trimming is rare); the listeners to tell, once the lock is let go."""
        if len(self._events) > self._trim_above:
            drop = len(self._events) - self.capacity
            del self._events[:drop]
            self._first_seq += drop
            self._dropped(drop)
        return self._listeners

    def _dropped(self, count: int) -> None:
        """Under the lock: the oldest ``count`` items were trimmed (what is kept beside them
        goes too)."""

    def _slice(self, seq: int, limit: int) -> tuple[list[T], int, tuple[int, int] | None, int]:
        """(items above ``seq``, at most ``limit``; the seq of the first; the gap; last_seq)."""
        seq = max(seq, 0)
        with self._lock:
            last = self._first_seq + len(self._events) - 1
            gap = None
            if seq + 1 < self._first_seq:
                gap = (seq + 1, self._first_seq - 1)
                seq = self._first_seq - 1
            start = max(0, seq + 1 - self._first_seq)
            return self._events[start : start + limit], self._first_seq + start, gap, last

    def add_listener(self, notify: Callable[[], None]) -> None:
        """``notify`` runs on the writer's thread after each append: keep it cheap."""
        with self._lock:
            self._listeners = (*self._listeners, notify)

    def remove_listener(self, notify: Callable[[], None]) -> None:
        with self._lock:
            if notify in self._listeners:
                at = self._listeners.index(notify)
                self._listeners = self._listeners[:at] + self._listeners[at + 1 :]


KEPT_BESIDE = 2000  # the newest events whose text and object are kept once made


class EventLog(BoundedLog["Event | bytes"]):
    """A lab's events: objects, or packed records (:mod:`sockscope.engine.packed`: a flood's
    loop calls and select() turns) made objects again when a reader asks; and the JSON text
    of those a viewer was sent, encoded once, by the first reader to ask
    (:meth:`wire_after`), for all viewers.

    What readers make (texts, objects, rows) is kept beside the newest :data:`KEPT_BESIDE`
    events only: live viewers and the room's flags read those, again and again; a reader
    further back makes its own. The writer never looks at what is kept (it runs for every
    event); a reader that adds some drops what is no longer among the newest, the oldest
    first, and all of it once a quarter more than that is kept. So a watched log holds
    at most 1.25 x KEPT_BESIDE texts, objects and rows more."""

    def __init__(self, capacity: int, *, keep_texts: bool = True) -> None:
        super().__init__(capacity)
        self.strings = packed.Strings()  # what the packed records name by number
        self._texts: dict[int, str] = {}  # seq -> its text, once a reader made it
        self._made: dict[int, Event] = {}  # seq -> its object, once unpacked
        self._rows: dict[int, str] = {}  # seq -> its row text (rows_after), once made
        self.keep_texts = keep_texts  # a lab host's log has one reader: nothing to share

    def append(self, event: Event | bytes) -> None:
        """Add an event, or a packed record (its seq is the next: the writer numbers both)."""
        with self._lock:  # this runs for every event a lab records: keep it short
            self._events.append(event)
            listeners = self._trimmed()
        for notify in listeners:
            notify()

    def extend(self, records: list[bytes]) -> None:
        """Add a select() turn's packed records together: one lock and one notice for all
        of them (their seqs are the next ones, in order)."""
        with self._lock:
            events = self._events
            events.extend(records)
            # _trimmed's test inline: this runs for every turn of a flood
            listeners = self._trimmed() if len(events) > self._trim_above else self._listeners
        for notify in listeners:
            notify()

    def _dropped(self, count: int) -> None:
        # Only the newest (1.25 x KEPT_BESIDE at most) are ever kept, so what is trimmed has
        # nothing beside it, unless the capacity is smaller than that (tests): drop what went.
        for cache in (self._texts, self._made, self._rows):
            for seq in [seq for seq in cache if seq < self._first_seq]:
                del cache[seq]

    def _cached(
        self,
        cache: dict[int, Any],
        items: list[Event | bytes],
        first: int,
        make: Callable[[Event | bytes, int], Any],
        keep: bool,
        make_all: Callable[[list[Event | bytes], int], list[Any]] | None = None,
    ) -> list[Any]:
        """What ``make`` makes of each item (numbered from ``first``), taking what ``cache``
        holds (``make_all`` makes them all at once, when the cache holds none of them): made
        outside the lock (the writer never waits for it), kept for the next reader when
        among the newest."""
        seqs = range(first, first + len(items))
        with self._lock:
            known = list(map(cache.get, seqs)) if cache else [None] * len(items)
        if make_all is not None and (not cache or known.count(None) == len(known)):
            made = make_all(items, first)
        else:
            pairs = zip(seqs, known, items, strict=True)
            made = [k if k is not None else make(e, seq) for seq, k, e in pairs]
        if keep and None in known:
            with self._lock:
                newest = self._first_seq + len(self._events) - KEPT_BESIDE
                low = max(first, newest, self._first_seq)
                if low < seqs.stop:
                    cache.update(zip(range(low, seqs.stop), made[low - first :], strict=True))
                # The reader drops what left the newest: from the front (kept in the order
                # made, nearly always the seqs'), and past the bound all of it.
                if len(cache) > KEPT_BESIDE + KEPT_BESIDE // 4:
                    stale = [seq for seq in cache if seq < newest]
                else:
                    stale = list(itertools.takewhile(newest.__gt__, cache))
                for old in stale:
                    del cache[old]
        return made

    def _object(self, item: Event | bytes, seq: int) -> Event:
        return packed.unpack(item, seq, self.strings) if isinstance(item, bytes) else item

    def _text(self, item: Event | bytes, seq: int) -> str:
        return (
            packed.wire_text(item, seq, self.strings) if isinstance(item, bytes) else encode(item)
        )

    def after(self, seq: int, limit: int = 1000) -> Page:
        """Events with a sequence number above ``seq``, oldest first, at most ``limit``."""
        items, first, gap, last = self._slice(seq, limit)
        return Page(self._cached(self._made, items, first, self._object, True), gap, last)

    def wire_after(self, seq: int, limit: int = 1000) -> WirePage:
        """The same events as JSON text (packed records straight to text)."""
        items, first, gap, last = self._slice(seq, limit)
        texts = self._cached(self._texts, items, first, self._text, self.keep_texts)
        return wire_page(texts, first, seq, gap, last)

    def _row(self, item: Event | bytes, seq: int) -> str:
        return packed.row_texts([item], seq, self.strings, encode)[0]

    def rows_after(self, seq: int, limit: int = 1000) -> WirePage:
        """The same events in the rows form (packed.row_texts; an event with no row, its
        object text): the numbers of each, read with the strings they name
        (:meth:`strings_from`, asked for after this)."""
        items, first, gap, last = self._slice(seq, limit)
        if not self.keep_texts:  # one reader (a lab host): nothing kept, all made at once
            texts = self._rows_of(items, first)
        else:
            texts = self._cached(self._rows, items, first, self._row, True, self._rows_of)
        return wire_page(texts, first, seq, gap, last)

    def _rows_of(self, items: list[Event | bytes], first: int) -> list[str]:
        return packed.row_texts(items, first, self.strings, encode)

    def strings_from(self, known: int) -> list[Any]:
        """The interned values numbered ``known`` and up (numbers only grow: asked after a
        page of rows, they cover every number the rows hold)."""
        return self.strings.values[known:]
