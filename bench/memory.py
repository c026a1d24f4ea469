"""Bench 3: the event log stays bounded through a flood of more than 100k events.

One LabEngine (default LabPolicy: event_log_capacity 20000) floods its log with
cli.sendall(16 MiB) received by conn with bufsize 256 (one recv() and one select()
per 256 bytes: ~131k events). A sampler reads ``len(log._events)`` while it runs;
tracemalloc measures the memory the process gained during the flood (the 16 MiB
payload is a literal parsed before tracing starts). Not a timing: run once.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from dataclasses import fields, is_dataclass
from typing import Any

from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.log import EventLog

from .common import Check, Deadline, EngineLab, LogReader, MiB, Row, event_cap, received_to

SIZE = 16 * MiB
BUFSIZE = 256
MIN_EVENTS = 100_000
MAX_FLOODS = 4
FLOOD_SECONDS = 40.0


def deep_size(root: Any) -> int:
    """Bytes held by ``root`` and everything it references (each object counted once)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, bool):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif is_dataclass(obj) and not isinstance(obj, type):
            stack.extend(getattr(obj, f.name) for f in fields(obj))
    return total


def events_list(log: EventLog) -> list[Any]:
    internal: list[Any] = log._events  # the brief asks for the internal list's length
    return internal


def run() -> tuple[list[Row], list[Check]]:
    lab = EngineLab(LabPolicy())
    print(
        f"[3] memory: floods of {SIZE // MiB} MiB at bufsize {BUFSIZE} until > {MIN_EVENTS:,}"
        f" ({event_cap(lab.policy)})"
    )
    capacity = lab.engine.log.capacity
    bound = capacity + capacity // 4
    max_len = 0
    samples = 0
    try:
        lab.discard_pair(BUFSIZE)
        # The payload is made before tracing starts (a literal, reused by every flood), so
        # the traced growth is the lab's own: the log, and what each loop turn allocates.
        sendall = parse_command({"op": "sendall", "socket": "cli", "text": "x" * SIZE}, lab.policy)
        seq0 = lab.engine.log.last_seq
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        t0 = time.perf_counter()
        floods = 0
        while lab.engine.log.last_seq - seq0 <= MIN_EVENTS and floods < MAX_FLOODS:
            floods += 1
            reader = LogReader(lab.engine, lab.engine.log.last_seq)
            result = lab.engine.submit(sendall).future.result(FLOOD_SECONDS)
            if not result.ok:
                raise RuntimeError(f"sendall failed: {result.error}")
            deadline = Deadline(FLOOD_SECONDS, "a flood to reach conn")
            done = False
            while not done:
                max_len = max(max_len, len(events_list(lab.engine.log)))
                samples += 1
                done = any(received_to(e, "conn", floods * SIZE) for e in reader.new())
                if not done:
                    deadline.check()
                    time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        current, peak = tracemalloc.get_traced_memory()
        peak_growth = peak - base
        retained = current - base
        tracemalloc.stop()
        kept = list(events_list(lab.engine.log))
        end_len = len(kept)
        total_events = lab.engine.log.last_seq - seq0
        log_bytes = deep_size(kept)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        lab.close()

    per_event = log_bytes / max(1, end_len)
    unbounded = per_event * total_events
    print(
        f"    {total_events:,} events in {floods} flood(s), {elapsed:.1f} s under tracemalloc;"
        f" log list max {max_len:,} ({samples} samples), end {end_len:,}, bound {bound:,}"
    )
    print(
        f"    log holds {log_bytes / MiB:.1f} MiB ({per_event:.0f} B/event); tracemalloc growth:"
        f" peak {peak_growth / MiB:.1f} MiB, retained {retained / MiB:.1f} MiB;"
        f" unbounded would be ~{unbounded / MiB:.0f} MiB"
    )
    name = "3 memory"
    rows = [
        Row(name, "events recorded in the flood", float(total_events), "events",
            runs=(total_events,)),
        Row(name, "log list length, max sampled", float(max_len), "events",
            float(bound), "capacity*1.25", (max_len,)),
        Row(name, "tracemalloc peak growth in flood", peak_growth / MiB, "MiB",
            unbounded / MiB, "est. unbounded", (peak_growth,)),
        Row(name, "log size at end (deep sizeof)", log_bytes / MiB, "MiB", runs=(log_bytes,)),
        Row(name, "log bytes per event", per_event, "B", runs=(per_event,)),
    ]  # fmt: skip
    checks = [
        Check(
            "3 memory: flood produced > 100k events",
            total_events > MIN_EVENTS,
            f"{total_events:,}",
        ),
        Check(
            "3 memory: len(log._events) <= capacity*1.25",
            max_len <= bound and end_len <= bound,
            f"max {max_len:,}, end {end_len:,}, bound {bound:,}",
        ),
    ]
    return rows, checks
