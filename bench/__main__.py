"""Run every benchmark, print a table of medians and ratios; exit 1 if a check failed.

``python -m bench`` runs them all; ``python -m bench 1 3`` runs a selection (4: the lab page,
5: the home page's first load, 6: the closed-connection watch, 7: a room of N participants,
8: the server's CPU per event, end to end).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from . import endtoend, memory, page, room, stream, throughput, ui, watch
from .common import BenchTimeout, Check, Row, print_table

BENCHES: dict[str, Callable[[], tuple[list[Row], list[Check]]]] = {
    "1": throughput.run,
    "2": stream.run,
    "3": memory.run,
    "4": ui.run,
    "5": page.run,
    "6": watch.run,
    "7": room.run,
    "8": endtoend.run,
}
NAMES = {
    "1": "engine throughput",
    "2": "event stream",
    "3": "memory",
    "4": "lab page",
    "5": "home page load",
    "6": "closed-connection watch",
    "7": "a room of participants",
    "8": "end to end",
}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    chosen = argv or list(BENCHES)
    unknown = [c for c in chosen if c not in BENCHES]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}")
        return 2
    rows: list[Row] = []
    checks: list[Check] = []
    t0 = time.perf_counter()
    for key in chosen:
        started = time.perf_counter()
        try:
            more_rows, more_checks = BENCHES[key]()
        except BenchTimeout as exc:
            more_rows, more_checks = [], [Check(f"{key} {NAMES[key]}", False, str(exc))]
        rows += more_rows
        checks += more_checks
        print(f"    ({time.perf_counter() - started:.1f} s)")
    print_table(rows, checks)
    total = time.perf_counter() - t0
    print(f"\n  total {total:.1f} s; every ratio compares medians measured in this run")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
