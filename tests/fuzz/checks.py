"""After a fuzz: the lab's log, its stream and the server still work."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from live import LiveServer


def still_working(live: LiveServer, lab: str) -> None:
    assert live.client.get("/healthz").json()["ok"] is True
    page = live.client.get(f"/api/labs/{lab}/events?after=0")
    assert page.status_code == 200, page.text[:300]
    last = page.json()["last_seq"]
    assert live.client.get(f"/api/labs/{lab}").status_code == 200
    with connect(f"{live.ws_url}/api/labs/{lab}/ws?after=0") as ws:
        seen = 0
        while seen < last:
            message = json.loads(ws.recv(timeout=10))
            if message["type"] == "lab/snapshot":
                seen = max(seen, message["snapshot"]["seq"])
            else:
                assert message["type"] == "events/batch", message["type"]
                seen = message["events"][-1]["seq"]
    trace = live.client.get(f"/api/labs/{lab}/trace")
    assert trace.status_code == 200 and trace.text.count("\n") >= 1
