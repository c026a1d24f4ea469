"""The projector's mirror (POST /api/room/mirror) and the revealed questions, as GET /api/room
publishes them to a projector page on another machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roomkit import LESSON, Room, room_server

QUESTION = 5  # server-sockets' first prediction
SECOND = 7


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    with room_server(tmp_path) as room:
        yield room


NOTHING = {"lab": None, "participant": None, "name": None, "hide_names": False, "question": None}


def test_the_mirror_is_what_the_projector_reads_from_the_room(room: Room) -> None:
    ada = room.join("Ada")
    assert room.get("/api/room").json()["mirror"] == NOTHING
    body = {"lab": ada.lab, "hide_names": True, "question": {"lesson": LESSON, "step": QUESTION}}
    set_ = room.post("/api/room/mirror", body)
    assert set_.status_code == 200, set_.text
    shown = {
        "lab": ada.lab,
        "participant": ada.joined["participant"],
        "name": "Ada",
        "hide_names": True,
        "question": {"lesson": LESSON, "step": QUESTION},
    }
    assert set_.json() == shown
    assert room.get("/api/room").json()["mirror"] == shown
    cleared = room.post("/api/room/mirror", {"lab": None})
    assert cleared.json() == NOTHING
    assert room.get("/api/room").json()["mirror"] == NOTHING


def test_every_refusal_says_why(room: Room) -> None:
    ada = room.join("Ada")
    anyone = room.live.client.post("/api/room/mirror", json={"lab": ada.lab})
    assert anyone.status_code == 401
    assert "instructor only" in anyone.json()["error"]["message"]
    participant = ada.client.post("/api/room/mirror", json={"lab": ada.lab})
    assert participant.status_code == 401
    unknown = room.post("/api/room/mirror", {"lab": "no-such-lab"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "lab"
    assert unknown.json()["error"]["message"] == (
        "no lab 'no-such-lab' in the room: mirror a lab from the instructor's grid"
    )
    alone = room.live.client.post("/api/labs").json()["id"]  # a learner's lab, not the room's
    assert room.post("/api/room/mirror", {"lab": alone}).status_code == 404
    no_lesson = room.post(
        "/api/room/mirror", {"lab": ada.lab, "question": {"lesson": "nope", "step": 1}}
    )
    assert no_lesson.status_code == 404
    assert no_lesson.json()["error"]["message"] == "no lesson 'nope'"
    no_question = room.post(
        "/api/room/mirror", {"lab": ada.lab, "question": {"lesson": LESSON, "step": 0}}
    )
    assert no_question.status_code == 400
    assert "asks no question" in no_question.json()["error"]["message"]
    assert room.post("/api/room/mirror", {}).status_code == 400  # "lab" is required (null: none)
    typo = room.post("/api/room/mirror", {"lab": ada.lab, "hide_name": True})
    assert typo.status_code == 400 and typo.json()["error"]["field"] == "hide_name"
    assert room.get("/api/room").json()["mirror"] == NOTHING  # no refusal changed it


def test_the_mirror_survives_a_restart_and_follows_the_participants_new_lab(
    tmp_path: Path,
) -> None:
    with room_server(tmp_path) as first:
        ada = first.join("Ada")
        token = ada.joined["token"]
        first.post("/api/room/mirror", {"lab": ada.lab, "hide_names": True})
    with room_server(tmp_path) as second:
        mirror = second.get("/api/room").json()["mirror"]
        assert mirror["lab"] is None  # Ada's lab is gone until she comes back
        assert mirror["name"] == "Ada" and mirror["hide_names"] is True
        browser = second.browser()
        browser.cookies.set("sockscope_participant", token)
        lab = browser.get("/api/room/me").json()["lab"]
        assert lab != ada.lab
        assert second.get("/api/room").json()["mirror"]["lab"] == lab


def reveal(room: Room, step: int) -> None:
    assert room.post("/api/room/reveal", {"lesson": LESSON, "step": step}).status_code == 200


def test_revealed_lists_every_revealed_question_the_newest_last(room: Room) -> None:
    room.join("Ada")
    room.post("/api/room/lesson", {"lesson": LESSON})
    assert room.get("/api/room").json()["revealed"] == []
    reveal(room, SECOND)
    reveal(room, QUESTION)
    revealed = room.get("/api/room").json()["revealed"]
    assert revealed == [
        {"lesson": LESSON, "step": SECOND, "round": 1},
        {"lesson": LESSON, "step": QUESTION, "round": 1},
    ]
    room.post("/api/room/revote", {"lesson": LESSON, "step": SECOND})
    assert room.get("/api/room").json()["revealed"] == revealed  # round 2 is not revealed yet
    reveal(room, SECOND)
    reveal(room, QUESTION)  # revealed already: it stays where it was
    assert room.get("/api/room").json()["revealed"] == [
        *revealed,
        {"lesson": LESSON, "step": SECOND, "round": 2},
    ]
