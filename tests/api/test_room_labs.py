"""A room lab is driven only by its participant (and the instructor); observers watch;
freeze holds every participant's commands."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from roomkit import TOKEN, Room, room_server


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    with room_server(tmp_path) as room:
        yield room


def result_of(ws: ClientConnection, request_id: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if message["type"] == "command/result" and message["id"] == request_id:
            return message


def ws_url(room: Room, lab: str, query: str = "") -> str:
    return f"{room.live.ws_url}/api/labs/{lab}/ws{query}"


SOCKET = {"op": "socket", "name": "srv"}


def test_only_the_participant_and_the_instructor_reach_a_room_lab(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    anonymous = room.live.client.get(f"/api/labs/{ada.lab}")
    assert anonymous.status_code == 401 and "token" in anonymous.json()["error"]["message"]
    other = bob.client.get(f"/api/labs/{ada.lab}")
    assert other.status_code == 403
    assert "another participant" in other.json()["error"]["message"]
    assert bob.client.post(f"/api/labs/{ada.lab}/commands", json=SOCKET).status_code == 403
    assert bob.client.post(f"/api/labs/{ada.lab}/lessons/server-sockets/start").status_code == 403
    assert bob.client.get(f"/api/labs/{ada.lab}/events").status_code == 403
    assert bob.client.delete(f"/api/labs/{ada.lab}").status_code == 403
    assert ada.command(SOCKET).json()["ok"] is True
    assert room.get(f"/api/labs/{ada.lab}").status_code == 200
    instructor = room.live.client.post(
        f"/api/labs/{ada.lab}/commands", json={"op": "close", "socket": "srv"},
        headers=room.instructor,
    )  # fmt: skip
    assert instructor.json()["ok"] is True


def test_a_lab_made_without_the_room_stays_open(room: Room) -> None:
    lab = room.live.new_lab()
    assert room.live.ok(lab, SOCKET)["ok"] is True
    assert room.live.client.get(f"/api/labs/{lab}").status_code == 200


def test_the_websocket_of_a_room_lab_needs_credentials(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    with connect(ws_url(room, ada.lab)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    cookie = {"Cookie": f"sockscope_participant={bob.joined['token']}"}
    with (
        connect(ws_url(room, ada.lab), additional_headers=cookie) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    mine = {"Cookie": f"sockscope_participant={ada.joined['token']}"}
    with connect(ws_url(room, ada.lab), additional_headers=mine) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "lab/snapshot"
        ws.send(json.dumps({"id": "s", **SOCKET}))
        assert result_of(ws, "s")["ok"] is True


def test_an_observer_sees_everything_and_drives_nothing(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    assert bob.client.post("/api/room/observers", json={"lab": ada.lab}).status_code == 403
    link = ada.client.post("/api/room/observers", json={"lab": ada.lab})
    assert link.status_code == 200, link.text
    body = link.json()
    assert body["url"] == f"/labs/{ada.lab}?observe={body['token']}"
    ada.command(SOCKET)
    watcher = room.browser()
    query = {"observe": body["token"]}
    snapshot = watcher.get(f"/api/labs/{ada.lab}", params=query)
    assert snapshot.status_code == 200
    assert [s["name"] for s in snapshot.json()["sockets"]] == ["srv"]
    refused = watcher.post(f"/api/labs/{ada.lab}/commands", params=query, json=SOCKET)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "an observer cannot drive this lab"
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert watcher.get(f"/api/labs/{ada.lab}/events", headers=bearer).status_code == 200
    driven = watcher.post(f"/api/labs/{ada.lab}/commands", headers=bearer, json=SOCKET)
    assert driven.status_code == 403
    assert watcher.get(f"/api/labs/{bob.lab}", params=query).status_code == 403  # not Bob's
    with connect(ws_url(room, ada.lab, f"?observe={body['token']}")) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "lab/snapshot" and first["snapshot"]["sockets"]
        ws.send(json.dumps({"id": "o", "op": "close", "socket": "srv"}))
        answer = result_of(ws, "o")
        assert answer["status"] == 403 and answer["ok"] is False
        assert answer["error"]["message"] == "an observer cannot drive this lab"
    assert [s["name"] for s in ada.client.get(f"/api/labs/{ada.lab}").json()["sockets"]] == ["srv"]
    made = room.post("/api/room/observers", {"lab": bob.lab})
    assert made.status_code == 200  # the instructor makes links to any room lab
    plain = room.live.new_lab()
    assert room.post("/api/room/observers", {"lab": plain}).status_code == 403


def test_freeze_refuses_participants_commands_and_lets_the_instructor_through(
    room: Room,
) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    assert room.post("/api/room/step").status_code == 409  # not frozen
    frozen = room.post("/api/room/freeze", {"frozen": True})
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["frozen"] is True and frozen.json()["labs"] == 2
    assert frozen.json()["groups"] == [
        {"outcome": "paused", "labs": 2, "participants": ["Ada", "Bob"]}
    ]
    refused = ada.command(SOCKET)
    assert refused.status_code == 423
    assert refused.json()["error"]["message"] == (
        "the instructor froze the room: wait for them to resume"
    )
    lesson = ada.client.post(f"/api/labs/{ada.lab}/lessons/server-sockets/start")
    assert lesson.status_code == 423
    assert ada.client.get("/api/room/me").json()["frozen"] is True  # a reload does not escape
    assert ada.client.get(f"/api/labs/{ada.lab}").json()["paused"] is True
    cookie = {"Cookie": f"sockscope_participant={bob.joined['token']}"}
    with connect(ws_url(room, bob.lab), additional_headers=cookie) as ws:
        ws.send(json.dumps({"id": "f", **SOCKET}))
        answer = result_of(ws, "f")
        assert answer["status"] == 423 and "froze the room" in answer["error"]["message"]
    instructor = room.live.client.post(
        f"/api/labs/{ada.lab}/commands", json=SOCKET, headers=room.instructor
    )
    assert instructor.status_code == 200 and instructor.json()["ok"] is True
    stepped = room.post("/api/room/step")
    assert stepped.status_code == 200 and stepped.json()["groups"][0]["outcome"] == "stepped"
    resumed = room.post("/api/room/freeze", {"frozen": False})
    assert resumed.json()["groups"][0]["outcome"] == "running"
    assert ada.client.get(f"/api/labs/{ada.lab}").json()["paused"] is False
    assert bob.command(SOCKET).json()["ok"] is True


def test_a_participant_joining_a_frozen_room_gets_a_paused_lab(room: Room) -> None:
    room.post("/api/room/freeze", {"frozen": True})
    late = room.join("Late")
    assert late.joined["frozen"] is True
    assert late.client.get(f"/api/labs/{late.lab}").json()["paused"] is True
    assert late.command(SOCKET).status_code == 423


def test_a_command_runs_everywhere_and_the_outcomes_are_grouped(room: Room) -> None:
    ada, bob, cy = room.join("Ada"), room.join("Bob"), room.join("Cy")
    bob.command({"op": "socket", "name": "cli"})  # Bob already has a cli: his differs
    ran = room.post(
        "/api/room/run",
        {"commands": [{"op": "socket", "name": "cli"}, {"op": "close", "socket": "nope"}]},
    )
    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert body["labs"] == 3 and len(body["results"]) == 2
    first = body["results"][0]
    assert first["command"] == {"op": "socket", "name": "cli"}
    assert [g["labs"] for g in first["groups"]] == [2, 1]
    assert first["groups"][0]["participants"] == ["Ada", "Cy"]
    assert first["groups"][1]["participants"] == ["Bob"]
    assert first["groups"][1]["outcome"].startswith("refused: ")
    second = body["results"][1]["groups"]
    assert len(second) == 1 and second[0]["labs"] == 3
    assert second[0]["outcome"].startswith("refused: ")
    too_many = room.post("/api/room/run", {"commands": [SOCKET] * 17})
    assert too_many.status_code == 400
    del ada, cy


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ({"op": "send", "socket": "cli"}, 'command 2: give exactly one of "text", "hex" or "size"'),
        ({"op": "bind", "socket": "srv"}, "command 2: address: required"),
        ({"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0], "port": 1},
         "command 2: bind takes no field 'port'"),
        ({"op": "nope"}, "command 2: unknown op 'nope'; expected one of: socket, bind,"),
        ("socket", "command 2: a command is a JSON object, got str"),
        ({"op": "recv", "socket": "cli", "bufsize": 0}, "command 2: bufsize: must be between 1"),
        ({"op": "socket", "name": "x", "id": 7}, 'command 2: a room-wide run takes no "id"'),
    ],
)  # fmt: skip
def test_a_room_run_refuses_a_bad_command_in_the_labs_own_words(
    room: Room, command: object, said: str
) -> None:
    ada = room.join("Ada")
    refused = room.post("/api/room/run", {"commands": [SOCKET, command]})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["field"] == "commands"
    assert error["message"].startswith(said), error["message"]
    # Nothing ran: the whole list is checked before any lab sees it.
    assert ada.client.get(f"/api/labs/{ada.lab}").json()["sockets"] == []


def test_a_room_run_refuses_an_empty_list_and_a_list_that_is_none(room: Room) -> None:
    empty = room.post("/api/room/run", {"commands": []})
    assert empty.status_code == 400
    assert "at least 1" in empty.json()["error"]["message"]
    assert room.post("/api/room/run", {"commands": {"op": "pause"}}).status_code == 400


def test_the_instructor_grid_shows_the_last_call(room: Room) -> None:
    ada = room.join("Ada")
    ada.command(SOCKET)
    ada.command({"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    row = room.get("/api/room").json()["participants"][0]
    assert row["last_call"].startswith("srv.bind(('127.0.0.1', 20")
    assert row["last_call"].endswith("-> None")
    assert row["flags"] == [] and row["lab"] == ada.lab
    assert TOKEN not in json.dumps(row)


def test_the_grid_shows_each_labs_sockets_and_their_tcp_states(room: Room) -> None:
    ada = room.join("Ada")
    ada.command(SOCKET)
    ada.command({"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    ada.command({"op": "listen", "socket": "srv", "backlog": 5})
    port = ada.client.get(f"/api/labs/{ada.lab}").json()["sockets"][0]["local"][1]
    ada.command({"op": "socket", "name": "cli"})
    ada.command({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    deadline = time.monotonic() + 5
    while True:  # the probes run each loop turn (0.25 s): the states follow shortly
        row = room.get("/api/room").json()["participants"][0]
        if row["sockets"] == [{"name": "srv", "state": "LISTEN"},
                              {"name": "cli", "state": "ESTABLISHED"}]:  # fmt: skip
            break
        assert time.monotonic() < deadline, row["sockets"]
        time.sleep(0.05)
    assert room.join("Bob").joined  # a lab with no socket lists none
    rows = {p["name"]: p for p in room.get("/api/room").json()["participants"]}
    assert rows["Bob"]["sockets"] == []
