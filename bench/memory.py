"""Bench 3: the event log stays bounded through a flood of more than 100k events.

One LabEngine (default LabPolicy: event_log_capacity 20000) floods its log with
cli.sendall(16 MiB) received by conn with bufsize 256 (one recv() and one select()
per 256 bytes: ~131k events). A sampler reads ``len(log._events)`` while it runs;
tracemalloc measures the memory the process gained during the flood (the 16 MiB
payload, ``size``: the pattern, made by the lab, counts in its peak). Then a smaller
flood of typed bytes (``text``, which a packed record keeps as far as an event shows
them: all 256 of each recv) is measured on its own. Not a timing: run once.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from dataclasses import fields, is_dataclass
from typing import Any

from sockscope.engine.core.commands import Command, parse_command
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.log import EventLog

from .common import Check, Deadline, EngineLab, LogReader, MiB, Row, event_cap, received_to

SIZE = 16 * MiB
BUFSIZE = 256
MIN_EVENTS = 100_000
MAX_FLOODS = 4
TYPED = 2 * MiB  # the typed flood: ~16k events, all still in the log at its end
LOG_BYTES_TARGET = 150  # issue 12: log memory per event
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


def log_overhead(log: EventLog) -> int:
    """What the log keeps beside its events: the packed records' strings, and the texts and
    objects readers made of the newest (engine/log.py's KEPT_BESIDE)."""
    return deep_size(log.strings.values) + deep_size(log._texts) + deep_size(log._made)


def watched(log: EventLog) -> None:
    """Read the log as a viewer that saw all of it does, and the room's flags (the newest
    400 as objects)."""
    cursor = log.first_seq - 1
    while cursor < log.last_seq:
        cursor = log.wire_after(cursor, 2000).last
    log.after(log.last_seq - 400, 400)


def typed_flood(lab: EngineLab, received: int) -> float:
    """Bytes per event of a flood of typed bytes (not the pattern), measured on its own."""
    first = lab.engine.log.last_seq
    command = parse_command({"op": "sendall", "socket": "cli", "text": "x" * TYPED}, lab.policy)
    result = lab.engine.submit(command).future.result(FLOOD_SECONDS)
    if not result.ok:
        raise RuntimeError(f"sendall failed: {result.error}")
    reader = LogReader(lab.engine, first)
    deadline = Deadline(FLOOD_SECONDS, "the typed flood to reach conn")
    while not any(received_to(e, "conn", received + TYPED) for e in reader.new()):
        deadline.check()
        time.sleep(0.01)
    count = lab.engine.log.last_seq - first
    ours = events_list(lab.engine.log)[-count:]
    return deep_size(list(ours)) / max(1, count)


def events_list(log: EventLog) -> list[Any]:
    internal: list[Any] = log._events  # the brief asks for the internal list's length
    return internal


def flood_until(lab: EngineLab, sendall: Command, seq0: int) -> tuple[int, int, int]:
    """Flood until the log recorded MIN_EVENTS after ``seq0``: (floods, the longest the
    log's list was when sampled, samples)."""
    floods = max_len = samples = 0
    log = lab.engine.log
    while log.last_seq - seq0 <= MIN_EVENTS and floods < MAX_FLOODS:
        floods += 1
        result = lab.engine.submit(sendall).future.result(FLOOD_SECONDS)
        if not result.ok:
            raise RuntimeError(f"sendall failed: {result.error}")
        deadline = Deadline(FLOOD_SECONDS, "a flood to reach conn")
        while True:
            max_len = max(max_len, len(events_list(log)))
            samples += 1
            newest = log.after(log.last_seq - 4, 4).events  # not all: a sample is cheap
            if any(received_to(e, "conn", floods * SIZE) for e in newest):
                break
            deadline.check()
            time.sleep(0.01)
    return floods, max_len, samples


def run() -> tuple[list[Row], list[Check]]:
    lab = EngineLab(LabPolicy())
    print(
        f"[3] memory: floods of {SIZE // MiB} MiB at bufsize {BUFSIZE} until > {MIN_EVENTS:,}"
        f" ({event_cap(lab.policy)})"
    )
    capacity = lab.engine.log.capacity
    bound = capacity + capacity // 4
    try:
        lab.discard_pair(BUFSIZE)
        sendall = parse_command({"op": "sendall", "socket": "cli", "size": SIZE}, lab.policy)
        seq0 = lab.engine.log.last_seq
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        t0 = time.perf_counter()
        floods, max_len, samples = flood_until(lab, sendall, seq0)
        elapsed = time.perf_counter() - t0
        current, peak = tracemalloc.get_traced_memory()
        peak_growth = peak - base
        retained = current - base
        tracemalloc.stop()
        kept = list(events_list(lab.engine.log))
        end_len = len(kept)
        total_events = lab.engine.log.last_seq - seq0
        log_bytes = deep_size(kept) + log_overhead(lab.engine.log)
        watched(lab.engine.log)
        watched_bytes = deep_size(kept) + log_overhead(lab.engine.log)
        typed_per_event = typed_flood(lab, floods * SIZE)
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
        f" unbounded would be ~{unbounded / MiB:.0f} MiB;"
        f" typed bytes: {typed_per_event:.0f} B/event"
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
        Row(name, "... watched (texts of the newest kept)", watched_bytes / max(1, end_len), "B",
            runs=(watched_bytes,)),
        Row(name, "... of typed bytes (256 kept each)", typed_per_event, "B",
            runs=(typed_per_event,)),
    ]  # fmt: skip
    checks = [
        Check(
            f"3 memory: log bytes per event <= {LOG_BYTES_TARGET} (issue 12)",
            per_event <= LOG_BYTES_TARGET,
            f"{per_event:.0f} B (typed bytes: {typed_per_event:.0f} B, the bytes themselves kept)",
        ),
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
