"""A viewer that resumes during a flood gets every event after its cursor, or a gap naming
exactly the ones it was not sent (issue 9: a gap 15360-35007 followed by events from 56556)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from sockscope.settings import Settings

from live import LiveServer, serve


@pytest.fixture(scope="module")
def tiny_log() -> Iterator[LiveServer]:
    yield from serve(Settings(event_log_capacity=64, commands_per_second=1000))


def flood(live: LiveServer) -> str:
    """A lab whose echo pair writes far more events than its log holds, for a while."""
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "srv", "options": {"blocking": False}})
    bound = live.ok(lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    live.ok(lab, {"op": "listen", "socket": "srv"})
    live.ok(lab, {"op": "socket", "name": "cli"})
    live.ok(lab, {"op": "connect", "socket": "cli", "address": bound["result"]["address"]})
    live.ok(lab, {"op": "accept", "socket": "srv"})
    live.ok(lab, {"op": "auto", "socket": "conn", "recv": "echo", "bufsize": 256})
    live.ok(lab, {"op": "auto", "socket": "cli", "recv": "discard", "bufsize": 256})
    live.command(lab, {"op": "sendall", "socket": "cli", "size": 16 * 1024 * 1024})
    return lab


def check_stream(messages: list[dict[str, Any]], after: int) -> int:
    """Every event after ``after`` arrives, or is named by a gap; returns how many were gaps."""
    cursor, missed = after, 0
    for message in messages:
        if message["type"] == "lab/snapshot":
            seq, gap = message["snapshot"]["seq"], message["gap"]
            if seq > cursor:
                assert gap == {"from": cursor + 1, "to": seq}, (cursor, seq, gap)
                missed += seq - cursor
            else:
                assert gap is None, (cursor, seq, gap)
            cursor = max(cursor, seq)
        elif message["type"] == "events/batch":
            seqs = [e["seq"] for e in message["events"]]
            assert seqs == list(range(cursor + 1, cursor + 1 + len(seqs))), (cursor, seqs[:3])
            cursor = seqs[-1]
    return missed


def test_a_viewer_resuming_during_a_flood_misses_nothing_unnamed(tiny_log: LiveServer) -> None:
    lab = flood(tiny_log)
    # The flood has run past the log's capacity: what follows seq 1 is gone from it.
    tiny_log.client.get(f"/api/labs/{lab}/events?after=1").json()
    last = tiny_log.client.get(f"/api/labs/{lab}/events").json()["last_seq"]
    assert last > 200, last
    for after in (1, last // 2):
        messages: list[dict[str, Any]] = []
        with connect(f"{tiny_log.ws_url}/api/labs/{lab}/ws?after={after}") as ws:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                messages.append(json.loads(ws.recv(timeout=5)))
        assert messages[0]["type"] == "lab/snapshot" and messages[0]["gap"] is not None
        check_stream(messages, after)
    still = tiny_log.client.get(f"/api/labs/{lab}/events").json()["last_seq"]
    assert still > last  # the flood went on while the viewers read
    tiny_log.client.delete(f"/api/labs/{lab}")
