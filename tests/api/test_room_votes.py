"""Push a lesson, vote, reveal, revote, follow the instructor, export the answers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roomkit import LESSON, Browser, Room, room_server

QUESTION = 5  # server-sockets' first prediction: 3 choices, the answer is 1
SECOND = 7


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    with room_server(tmp_path) as room:
        yield room


def test_a_pushed_lesson_starts_in_every_lab_and_in_labs_that_join_later(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    ada.command({"op": "socket", "name": "mine"})
    assert room.post("/api/room/lesson", {"lesson": "nope"}).status_code == 404
    pushed = room.post("/api/room/lesson", {"lesson": LESSON})
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["groups"] == [
        {"outcome": "started", "labs": 2, "participants": ["Ada", "Bob"]}
    ]
    for who in (ada, bob):
        state = who.client.get(f"/api/labs/{who.lab}/lesson").json()
        assert state["lesson"] == LESSON and state["position"] == 0
        me = who.client.get("/api/room/me").json()
        assert me["lesson"] == LESSON and me["pushed_by"] == "instructor"
    assert ada.client.get(f"/api/labs/{ada.lab}").json()["sockets"] == []  # the lesson's reset
    late = room.join("Late")
    assert late.joined["lesson"] == LESSON
    assert late.client.get(f"/api/labs/{late.lab}/lesson").json()["lesson"] == LESSON
    grid = room.get("/api/room").json()
    assert grid["lesson"] == LESSON
    assert {(p["lesson"], p["step"]) for p in grid["participants"]} == {(LESSON, 0)}


def test_follow_mode_moves_every_lab_to_the_instructors_step(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    assert room.post("/api/room/next").status_code == 409  # nothing pushed with follow
    room.post("/api/room/lesson", {"lesson": LESSON, "follow": True})
    moved = room.post("/api/room/next")
    assert moved.status_code == 200, moved.text
    assert moved.json()["follow_step"] == 1
    assert moved.json()["groups"][0] == {"outcome": "at step 1", "labs": 2,
                                         "participants": ["Ada", "Bob"]}  # fmt: skip
    for who in (ada, bob):
        assert who.client.get(f"/api/labs/{who.lab}/lesson").json()["position"] == 1
        assert who.client.get("/api/room/me").json()["follow_step"] == 1


def answer(who: Browser, step: int, choice: int, lesson: str = LESSON) -> int:
    response = who.client.post(
        f"/api/labs/{who.lab}/answers", json={"lesson": lesson, "step": step, "choice": choice}
    )
    return response.status_code


def test_votes_are_counted_hidden_until_the_reveal_then_locked(room: Room) -> None:
    ada, bob, cy = room.join("Ada"), room.join("Bob"), room.join("Cy")
    room.post("/api/room/lesson", {"lesson": LESSON})
    assert answer(ada, QUESTION, 1) == 200
    assert answer(bob, QUESTION, 1) == 200
    assert answer(cy, QUESTION, 0) == 200
    assert answer(cy, QUESTION, 2) == 200  # changed before the reveal
    counts = room.get("/api/room/answers", params={"lesson": LESSON, "step": QUESTION}).json()
    assert counts == {"lesson": LESSON, "step": QUESTION, "round": 1, "rounds": 1,
                      "answered": 3, "participants": 3, "counts": [0, 2, 1],
                      "revealed": False, "answer": 1}  # fmt: skip
    hidden = ada.client.get(
        f"/api/labs/{ada.lab}/answers", params={"lesson": LESSON, "step": QUESTION}
    ).json()
    assert hidden["rounds"] == [
        {"round": 1, "choice": 1, "revealed": False, "counts": None, "answer": None}
    ]
    peek = ada.client.get("/api/room/answers", params={"lesson": LESSON, "step": QUESTION})
    assert peek.status_code == 401
    revealed = room.post("/api/room/reveal", {"lesson": LESSON, "step": QUESTION})
    assert revealed.json() == {"lesson": LESSON, "step": QUESTION, "round": 1, "revealed": True}
    locked = ada.client.post(
        f"/api/labs/{ada.lab}/answers", json={"lesson": LESSON, "step": QUESTION, "choice": 0}
    )
    assert locked.status_code == 409
    assert locked.json()["error"]["message"] == (
        "answers are locked: the instructor revealed this question"
    )
    shown = cy.client.get(
        f"/api/labs/{cy.lab}/answers", params={"lesson": LESSON, "step": QUESTION}
    ).json()
    assert shown["rounds"] == [
        {"round": 1, "choice": 2, "revealed": True, "counts": [0, 2, 1], "answer": 1}
    ]
    me = cy.client.get("/api/room/me").json()
    assert me["revealed"] == [{"lesson": LESSON, "step": QUESTION, "round": 1}]


def test_a_revote_opens_a_second_round_and_the_export_has_both(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    room.post("/api/room/lesson", {"lesson": LESSON})
    answer(ada, QUESTION, 0)
    answer(bob, QUESTION, 1)
    revote = room.post("/api/room/revote", {"lesson": LESSON, "step": QUESTION})
    assert revote.json()["round"] == 2 and revote.json()["revealed"] is False
    assert room.post("/api/room/revote", {"lesson": LESSON, "step": QUESTION}).status_code == 409
    answer(ada, QUESTION, 1)
    answer(bob, SECOND, 2)
    second = room.get(
        "/api/room/answers", params={"lesson": LESSON, "step": QUESTION, "round": 2}
    ).json()
    assert second["counts"] == [0, 1, 0] and second["rounds"] == 2
    first = room.get(
        "/api/room/answers", params={"lesson": LESSON, "step": QUESTION, "round": 1}
    ).json()
    assert first["counts"] == [1, 1, 0]
    exported = room.get("/api/room/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["participant", "lesson", "question", "first answer", "second answer",
                       "right", "seconds to answer"]  # fmt: skip
    lessons = room.live.client.get(f"/api/lessons/{LESSON}").json()["steps"]
    choices = lessons[QUESTION]["predict"]["choices"]
    by_who = {(r[0], r[2]): r for r in rows[1:]}
    question = lessons[QUESTION]["predict"]["question"]
    ada_row = by_who[("Ada", question)]
    assert ada_row[3:6] == [choices[0], choices[1], "yes"]
    assert float(ada_row[6]) >= 0
    bob_row = by_who[("Bob", question)]
    assert bob_row[3:6] == [choices[1], "", "yes"]
    other = by_who[("Bob", lessons[SECOND]["predict"]["question"])]
    assert other[5] == "no" and len(rows) == 4


@pytest.mark.parametrize(
    ("step", "choice", "field"),
    [(0, 0, "step"), (QUESTION, 3, "choice"), (99, 0, "step"), (QUESTION, -1, "choice")],
)
def test_an_answer_to_no_question_or_out_of_range_is_a_400(
    room: Room, step: int, choice: int, field: str
) -> None:
    ada = room.join("Ada")
    response = ada.client.post(
        f"/api/labs/{ada.lab}/answers", json={"lesson": LESSON, "step": step, "choice": choice}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_only_the_labs_participant_answers_for_it(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    body = {"lesson": LESSON, "step": QUESTION, "choice": 1}
    assert bob.client.post(f"/api/labs/{ada.lab}/answers", json=body).status_code == 403
    instructor = room.post(f"/api/labs/{ada.lab}/answers", body)
    assert instructor.status_code == 403
    assert "only the lab's participant" in instructor.json()["error"]["message"]
    plain = room.live.new_lab()
    assert room.live.client.post(f"/api/labs/{plain}/answers", json=body).status_code == 403
    missing = ada.client.post(f"/api/labs/{ada.lab}/answers", json={**body, "lesson": "nope"})
    assert missing.status_code == 404


def test_a_late_joiner_in_follow_mode_catches_up_with_the_instructors_step(room: Room) -> None:
    room.join("Ada")
    room.post("/api/room/lesson", {"lesson": LESSON, "follow": True})
    for _ in range(3):
        assert room.post("/api/room/next").status_code == 200
    late = room.join("Late")
    assert late.client.get(f"/api/labs/{late.lab}/lesson").json()["position"] == 3
    names = [s["name"] for s in late.client.get(f"/api/labs/{late.lab}").json()["sockets"]]
    assert names == ["srv"]  # the steps ran for real: socket, bind, listen


def kernels(room: Room, step: int = QUESTION) -> dict[str, Any]:
    answer = room.get("/api/room/kernels", params={"lesson": LESSON, "step": step})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_the_room_sees_its_predictions_next_to_what_each_kernel_did(room: Room) -> None:
    ada, bob = room.join("Ada"), room.join("Bob")
    room.join("Cy")
    room.post("/api/room/lesson", {"lesson": LESSON})
    answer(ada, QUESTION, 1)
    answer(bob, QUESTION, 0)
    before = kernels(room)
    assert before["ran"] == 0 and before["labs"] == 3 and before["answer"] == 1
    assert before["groups"] == [{"outcome": "not run here yet", "ran": False, "labs": 3,
                                 "participants": ["Ada", "Bob", "Cy"], "choices": [1, 1, 0],
                                 "unanswered": 1}]  # fmt: skip
    for who in (ada, bob):  # each at its own pace, up to and through the question's step
        for _ in range(QUESTION + 1):
            step = who.client.post(f"/api/labs/{who.lab}/lessons/{LESSON}/next")
            assert step.status_code == 200, step.text
    after = kernels(room)
    assert after["ran"] == 2
    ran, waiting = after["groups"]
    # Two kernels gave two different ephemeral ports: masked, they are one outcome.
    assert ran["outcome"] == "conn, addr = srv.accept()  ->  (conn, ('127.0.0.1', PORT))", ran
    assert (ran["labs"], ran["participants"], ran["choices"]) == (2, ["Ada", "Bob"], [1, 1, 0])
    assert waiting == {"outcome": "not run here yet", "ran": False, "labs": 1,
                       "participants": ["Cy"], "choices": [0, 0, 0], "unanswered": 1}  # fmt: skip
    assert (
        ada.client.get("/api/room/kernels", params={"lesson": LESSON, "step": 5}).status_code == 401
    )
    asks_nothing = room.get("/api/room/kernels", params={"lesson": LESSON, "step": 0})
    assert asks_nothing.status_code == 400
    assert "asks no question" in asks_nothing.json()["error"]["message"]
