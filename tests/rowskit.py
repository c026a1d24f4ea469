"""A lab whose loop calls come in every shape a row has, and a viewer that reads its event
messages (tests/api/test_rows.py, tests/contract/test_conformance.py)."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import connect

from live import LiveServer


def messages_until(url: str, last: int) -> list[dict[str, Any]]:
    """The event messages a viewer of ``url`` gets up to seq ``last`` (from the start)."""
    got: list[dict[str, Any]] = []
    seq = 0
    deadline = time.monotonic() + 10
    with connect(url, max_size=None) as ws:
        while seq < last:
            assert time.monotonic() < deadline, f"got up to {seq} of {last}"
            message: dict[str, Any] = json.loads(ws.recv(timeout=5))
            if message["type"] == "events/batch":
                got.append(message)
                seq = message["events"][-1]["seq"]
            elif message["type"] == "events/rows":
                got.append(message)
                seq = message["first"] + len(message["events"]) - 1
    return got


def flood_lab(live: LiveServer) -> str:
    lab = live.new_lab()
    options = {"blocking": False, "auto_accept": True, "auto_recv": "discard", "bufsize": 100}
    live.ok(lab, {"op": "socket", "name": "srv", "options": options})
    port = live.ok(lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    live.ok(lab, {"op": "listen", "socket": "srv"})
    live.ok(lab, {"op": "socket", "name": "cli", "options": {"blocking": False}})
    address = ["127.0.0.1", port["result"]["address"][1]]
    live.command(lab, {"op": "connect", "socket": "cli", "address": address})
    deadline = time.monotonic() + 10
    while True:
        roles = {
            s["name"]: s["role"] for s in live.client.get(f"/api/labs/{lab}").json()["sockets"]
        }
        if roles.get("cli") == "connected" and roles.get("conn") == "connected":
            break
        assert time.monotonic() < deadline, roles
        time.sleep(0.02)
    for size in (1, 47, 48, 49, 255, 256, 257, 3000, 70_000):
        live.ok(lab, {"op": "sendall", "socket": "cli", "size": size})
    typed = "quote ' and \" back\\slash tab\t nl\n nul\x00 high\u00e9 \u2603 " * 3
    live.ok(lab, {"op": "send", "socket": "cli", "text": typed})
    live.ok(lab, {"op": "send", "socket": "cli", "text": "x" * 300})  # kept in part
    live.ok(lab, {"op": "shutdown", "socket": "cli", "how": "SHUT_WR"})  # conn: recv() -> b''
    return lab
