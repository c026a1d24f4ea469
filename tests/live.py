"""A real Sockscope server on 127.0.0.1, port 0, in a thread (for API and browser tests)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from sockscope.api.app import create_app
from sockscope.api.wire import MAX_WS_MESSAGE
from sockscope.settings import Settings

from helpers import wait_until

# Labs in lab-host processes for every server ``serve`` starts whose settings say 0 (set by
# tests/api/conftest.py's ``lab_hosts`` fixture for the modules that run both ways).
LAB_HOSTS = 0


@dataclass
class LiveServer:
    url: str
    ws_url: str
    client: httpx.Client
    app: Any = None  # the FastAPI app (its state: the registry, the room)

    def new_lab(self) -> str:
        response = self.client.post("/api/labs")
        assert response.status_code == 201, response.text
        lab_id: str = response.json()["id"]
        return lab_id

    def command(self, lab_id: str, command: Any) -> httpx.Response:
        return self.client.post(f"/api/labs/{lab_id}/commands", json=command)

    def ok(self, lab_id: str, command: Any) -> dict[str, Any]:
        response = self.command(lab_id, command)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and body["ok"], body
        return body


def serve(settings: Settings) -> Iterator[LiveServer]:
    if LAB_HOSTS and not settings.lab_hosts:
        settings = dataclasses.replace(settings, lab_hosts=LAB_HOSTS)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws_per_message_deflate=False,
        ws_max_size=MAX_WS_MESSAGE,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=10) as client:
        yield LiveServer(url, f"ws://127.0.0.1:{port}", client, app)
    server.should_exit = True
    thread.join(10)
    assert not thread.is_alive(), "the server did not stop"
