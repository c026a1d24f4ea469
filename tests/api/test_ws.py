"""The viewer websocket: snapshot, batches, commands, resume after a reconnect, gaps, Origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from sockscope.settings import Settings

from live import LiveServer, serve


def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def events_until(ws: ClientConnection, seq: int) -> list[dict[str, Any]]:
    """Read batches until the event with ``seq`` has arrived."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["seq"] < seq:
        message = receive(ws)
        assert message["type"] == "events/batch", message
        events.extend(message["events"])
    return events


def test_snapshot_then_batches_and_commands(live: LiveServer) -> None:
    lab = live.new_lab()
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        first = receive(ws)
        assert first["type"] == "lab/snapshot" and first["gap"] is None
        assert first["snapshot"]["id"] == lab and first["snapshot"]["sockets"] == []
        ws.send(json.dumps({"id": "c1", "op": "socket", "name": "srv"}))
        results, events = [], []
        while not results or not events or events[-1]["seq"] < max(results[0]["seqs"]):
            message = receive(ws)
            if message["type"] == "command/result":
                results.append(message)
            else:
                events.extend(message["events"])
        assert results[0]["id"] == "c1" and results[0]["ok"] is True
        assert results[0]["result"] == {"socket": "srv", "fd": results[0]["result"]["fd"]}
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(first["snapshot"]["seq"] + 1, seqs[-1] + 1))
        assert set(results[0]["seqs"]) <= set(seqs)
        ws.send(json.dumps({"id": "c2", "op": "listen"}))
        bad = receive(ws)
        while bad["type"] != "command/result":
            bad = receive(ws)
        assert bad["ok"] is False and bad["status"] == 400 and bad["error"]["field"] == "socket"
        ws.send("not json")
        reply = receive(ws)
        while reply["type"] == "events/batch":
            reply = receive(ws)
        assert reply["type"] == "error" and "not JSON" in reply["message"]


def test_a_viewer_that_reconnects_loses_no_event(live: LiveServer) -> None:
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "a"})
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        snapshot = receive(ws)["snapshot"]
        live.ok(lab, {"op": "socket", "name": "b"})
        last = live.client.get(f"/api/labs/{lab}/events").json()["last_seq"]
        seen = events_until(ws, last)
    cursor = seen[-1]["seq"]
    # While away: more happens.
    for name in ("c", "d", "e"):
        live.ok(lab, {"op": "socket", "name": name})
    last = live.client.get(f"/api/labs/{lab}/events").json()["last_seq"]
    with connect(f"{live.ws_url}/api/labs/{lab}/ws?after={cursor}") as ws:
        resumed = events_until(ws, last)
    seqs = [e["seq"] for e in seen + resumed]
    assert seqs == list(range(snapshot["seq"] + 1, last + 1))
    names = {e["info"]["name"] for e in resumed if e["kind"] == "socket"}
    assert names == {"c", "d", "e"}


@pytest.fixture(scope="module")
def small_log() -> Iterator[LiveServer]:
    yield from serve(Settings(event_log_capacity=16))


def test_a_viewer_too_far_behind_gets_a_snapshot_and_an_explicit_gap(small_log: LiveServer) -> None:
    lab = small_log.new_lab()
    for n in range(12):
        small_log.ok(lab, {"op": "socket", "name": f"s{n}"})
    first = small_log.client.get(f"/api/labs/{lab}/events").json()
    assert first["gap"] is not None  # the log kept only the newest events
    with connect(f"{small_log.ws_url}/api/labs/{lab}/ws?after=1") as ws:
        message = receive(ws)
    assert message["type"] == "lab/snapshot"
    assert message["gap"]["from"] == 2 and message["gap"]["to"] >= 2
    assert len(message["snapshot"]["sockets"]) == 12


def test_websocket_from_a_foreign_origin_is_refused(live: LiveServer) -> None:
    lab = live.new_lab()
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live.ws_url}/api/labs/{lab}/ws", origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    host = live.url.removeprefix("http://")
    with connect(f"{live.ws_url}/api/labs/{lab}/ws", origin=f"http://{host}") as ws:  # type: ignore[arg-type]
        assert receive(ws)["type"] == "lab/snapshot"


def test_unknown_lab_closes_with_a_reason(live: LiveServer) -> None:
    with connect(f"{live.ws_url}/api/labs/nope/ws") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4404 and ws.close_reason == "no such lab"


def test_a_viewer_that_does_not_read_does_not_slow_the_lab(live: LiveServer) -> None:
    lab = live.new_lab()
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as idle_viewer:
        live.ok(lab, {"op": "socket", "name": "srv", "options": {"blocking": False}})
        port = live.ok(lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})["result"][
            "address"
        ][1]
        live.ok(lab, {"op": "listen", "socket": "srv"})
        live.ok(lab, {"op": "socket", "name": "cli", "options": {"sndbuf": 4096}})
        live.ok(lab, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
        live.ok(lab, {"op": "accept", "socket": "srv"})
        live.ok(lab, {"op": "auto", "socket": "conn", "recv": "discard", "bufsize": 512})
        live.ok(lab, {"op": "sendall", "socket": "cli", "size": 4 * 1024 * 1024})
        # Thousands of recv() events later, the lab still answers at once.
        answer = live.ok(lab, {"op": "getsockopt", "socket": "cli", "option": "SO_SNDBUF"})
        assert answer["result"] == 8192
        assert idle_viewer.protocol.state.name == "OPEN"
