"""A restart keeps the room (SQLite in the data folder); the labs come back empty and say so."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sockscope.room.store import MIGRATIONS

from roomkit import LESSON, room_server

QUESTION = 5


def test_a_second_server_on_the_same_data_dir_keeps_the_roster_and_the_answers(
    tmp_path: Path,
) -> None:
    with room_server(tmp_path) as first:
        code = first.code
        ada, bob = first.join("Ada"), first.join("Bob")
        tokens = {"Ada": ada.joined["token"], "Bob": bob.joined["token"]}
        old_lab = ada.lab
        first.post("/api/room/lesson", {"lesson": LESSON})
        for who, choice in ((ada, 1), (bob, 0)):
            response = who.client.post(
                f"/api/labs/{who.lab}/answers",
                json={"lesson": LESSON, "step": QUESTION, "choice": choice},
            )
            assert response.status_code == 200
        first.post("/api/room/reveal", {"lesson": LESSON, "step": QUESTION})
        first.post("/api/room/freeze", {"frozen": True})
    with room_server(tmp_path) as second:
        assert second.code == code
        state = second.get("/api/room").json()
        assert [p["name"] for p in state["participants"]] == ["Ada", "Bob"]
        assert [p["lab"] for p in state["participants"]] == [None, None]  # not made again yet
        assert state["lesson"] == LESSON and state["frozen"] is True
        counts = second.get("/api/room/answers", params={"lesson": LESSON, "step": QUESTION})
        assert counts.json()["counts"] == [1, 1, 0] and counts.json()["revealed"] is True
        browser = second.browser()
        browser.cookies.set("sockscope_participant", tokens["Ada"])
        me = browser.get("/api/room/me").json()
        assert me["name"] == "Ada" and me["recreated"] is True and me["lab"] != old_lab
        assert me["frozen"] is True and me["lesson"] == LESSON
        lab = browser.get(f"/api/labs/{me['lab']}").json()
        assert lab["sockets"] == [] and lab["paused"] is True
        events = browser.get(f"/api/labs/{me['lab']}/events").json()["events"]
        notices = [e["message"] for e in events if e["kind"] == "notice"]
        assert any("made again, empty" in n for n in notices), notices
        assert browser.get(f"/api/labs/{me['lab']}/lesson").json()["lesson"] == LESSON
        assert second.get("/api/room").json()["participants"][0]["lab"] == me["lab"]
        again = browser.get("/api/room/me").json()
        assert again["lab"] == me["lab"] and again["recreated"] is True  # the same new lab
        locked = browser.post(
            f"/api/labs/{me['lab']}/answers",
            json={"lesson": LESSON, "step": QUESTION, "choice": 0},
        )
        assert locked.status_code == 409  # still revealed, still locked
        rejoin = second.browser()
        rejoin.cookies.set("sockscope_participant", tokens["Bob"])
        joined = rejoin.post("/api/room/join", json={"code": code})
        assert joined.status_code == 200 and joined.json()["recreated"] is True


def test_the_database_is_wal_with_a_schema_version_and_no_tokens(tmp_path: Path) -> None:
    with room_server(tmp_path) as room:
        token = room.join("Ada").joined["token"]
    db = sqlite3.connect(tmp_path / "room.sqlite3")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert "Ada" in dump and token not in dump
