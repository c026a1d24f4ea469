"""The cyclic garbage collector, told what a long-running server holds.

A collection walks the objects of its generation holding the GIL, and every command and
event in flight waits for it. In issue 11's room of 300 (the room bench, 2 lab hosts) the
web process held some 400,000 tracked objects: with CPython's defaults (700, 10, 10) it ran a
full collection every 2-3 s that took 100-300 ms, and that was the commands' p99 (385 ms
against a target of 100). What changed:

* what was imported and built at start-up (the app, its routes, its models: some 80,000
  objects) never becomes garbage, so :func:`settle` collects once and freezes it, out of
  every later collection's sight;
* a lab's history keeps light entries (:class:`sockscope.engine.tickets.Kept`), not the
  tickets with their futures, locks and conditions (about 25 objects a command);
* the thresholds: the youngest generation is collected every :data:`THRESHOLDS`\\[0]
  allocations (cheap: about 1 ms), the middle one after 10 of those (at most 20,000
  objects: 10-40 ms measured), and a full collection waits for 100 middle ones (about 2
  million allocations, over a minute at a room of 300's pace) instead of 10.

Almost all of a server's garbage (events, answers, requests) is freed by reference counting
the moment it is dropped; the collector is there for cycles (an exception and its frames, an
asyncio task's callbacks), which a less frequent full collection still finds.
"""

from __future__ import annotations

import gc

THRESHOLDS = (2000, 10, 100)


def settle() -> None:
    """Collect once, freeze what is left (later collections skip it), set the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
