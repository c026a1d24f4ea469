"""A lab's bounded event log: one writer (the engine thread), many readers.

Readers keep a cursor (the last ``seq`` they have) and ask for what follows.
When the log has dropped what a reader still needed, :meth:`EventLog.after`
says so (a gap) instead of silently skipping: memory stays bounded and no
viewer can slow the engine down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sockscope.events import Event


@dataclass(frozen=True, slots=True)
class Page:
    events: list[Event]
    gap: tuple[int, int] | None  # (first missing seq, last missing seq) when part was dropped
    last_seq: int  # newest seq in the log when read


class EventLog:
    def __init__(self, capacity: int) -> None:
        self.capacity = max(16, capacity)
        self._events: list[Event] = []
        self._first_seq = 1  # seq of self._events[0]
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._first_seq + len(self._events) - 1

    @property
    def first_seq(self) -> int:
        with self._lock:
            return self._first_seq

    def append(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            listeners = self._trimmed()
        for notify in listeners:
            notify()

    def _trimmed(self) -> tuple[Callable[[], None], ...]:
        """Under the lock, after adding: drop the oldest past capacity*1.25 (down to the
        capacity, so trimming is rare); the listeners to tell, once the lock is let go."""
        if len(self._events) > self.capacity + self.capacity // 4:
            drop = len(self._events) - self.capacity
            del self._events[:drop]
            self._first_seq += drop
        return tuple(self._listeners)

    def after(self, seq: int, limit: int = 1000) -> Page:
        """Events with a sequence number above ``seq``, oldest first, at most ``limit``."""
        seq = max(seq, 0)
        with self._lock:
            last = self._first_seq + len(self._events) - 1
            gap = None
            if seq + 1 < self._first_seq:
                gap = (seq + 1, self._first_seq - 1)
                seq = self._first_seq - 1
            start = max(0, seq + 1 - self._first_seq)
            return Page(self._events[start : start + limit], gap, last)

    def add_listener(self, notify: Callable[[], None]) -> None:
        """``notify`` runs on the writer's thread after each append: keep it cheap."""
        with self._lock:
            self._listeners.append(notify)

    def remove_listener(self, notify: Callable[[], None]) -> None:
        with self._lock:
            if notify in self._listeners:
                self._listeners.remove(notify)
