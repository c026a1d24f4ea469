"""A room on a real server (127.0.0.1, port 0), and browsers that join it (one httpx client
each, with its own cookies), for the room's API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sockscope.settings import Settings

from live import LiveServer, serve

TOKEN = "instructor-token-for-tests-0123456789"
LESSON = "server-sockets"


@dataclass
class Browser:
    """One participant's browser: its cookie jar holds the participant's token."""

    client: httpx.Client
    joined: dict[str, Any]

    @property
    def lab(self) -> str:
        lab: str = self.joined["lab"]
        return lab

    def command(self, command: Any) -> httpx.Response:
        return self.client.post(f"/api/labs/{self.lab}/commands", json=command)


@dataclass
class Room:
    live: LiveServer
    code: str
    browsers: list[httpx.Client]

    @property
    def instructor(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.live.client.get(path, headers=self.instructor, **kwargs)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.live.client.post(path, json=body, headers=self.instructor)

    def browser(self) -> httpx.Client:
        client = httpx.Client(base_url=self.live.url, timeout=15)
        self.browsers.append(client)
        return client

    def join(self, name: str = "", code: str | None = None) -> Browser:
        client = self.browser()
        response = client.post("/api/room/join", json={"code": code or self.code, "name": name})
        assert response.status_code == 201, response.text
        return Browser(client, response.json())


@contextmanager
def room_server(data_dir: Path | None, **settings: Any) -> Iterator[Room]:
    values: dict[str, Any] = {"command_wait": 1.0, "instructor_token": TOKEN, **settings}
    server = serve(Settings(data_dir=data_dir, **values))
    live = next(server)
    room = Room(live, "", [])
    try:
        state = live.client.get("/api/room", headers={"Authorization": f"Bearer {TOKEN}"})
        assert state.status_code == 200, state.text
        room.code = state.json()["code"]
        yield room
    finally:
        for client in room.browsers:
            client.close()
        next(server, None)  # stops the server
