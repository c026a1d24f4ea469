"""The lab's event rate: over its share in a 100 ms window, the loop waits out the window.

The kernel's behaviour is unchanged (the bytes wait in its buffers); only the loop,
and so the flood of events it records, is slowed, so the server stays responsive.
"""

from __future__ import annotations

WINDOW_NS = 100_000_000


class EventRate:
    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.events = 0  # counted by the lab's emit() in the current window
        self._window_start = 0
        self._throttled = False

    def over(self, now_ns: int) -> tuple[float, bool] | None:
        """None when the loop may run; else (seconds to wait, whether to say so first)."""
        if now_ns - self._window_start >= WINDOW_NS:
            if self.events <= self.per_second // 20:
                self._throttled = False  # calm again: a later flood gets its own notice
            self._window_start, self.events = now_ns, 0
            return None
        if self.events <= self.per_second // 10:
            return None
        first, self._throttled = not self._throttled, True
        return (WINDOW_NS - (now_ns - self._window_start)) / 1e9, first

    def bounds(self) -> tuple[int, int]:
        """(the most events the current window may count, the monotonic ns it ends at): what
        ``over`` checks, for a loop that checks them itself between its calls."""
        return self.per_second // 10, self._window_start + WINDOW_NS

    def share(self, per_second: int) -> None:
        """A new share (the number of labs on the server changed): a flood over it is told
        the new number, even if it was told the old one."""
        if per_second != self.per_second:
            self.per_second, self._throttled = max(1, per_second), False

    def notice(self) -> str:
        return (
            f"over {self.per_second} events a second, this lab's share of the server: the loop"
            " is slowed down so the server stays responsive (the kernel's behaviour is"
            " unchanged)"
        )
