"""Joining the room, the instructor's credentials, and the room's pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roomkit import TOKEN, Room, room_server


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    with room_server(tmp_path) as room:
        yield room


def test_a_participant_joins_with_the_code_and_gets_a_lab_and_a_cookie(room: Room) -> None:
    client = room.browser()
    response = client.post("/api/room/join", json={"code": room.code.lower(), "name": " Ada "})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Ada" and body["recreated"] is False and body["token"]
    assert set(body) == {"participant", "name", "lab", "token", "recreated", "lesson", "frozen"}
    cookie = response.headers["set-cookie"].lower()
    assert "sockscope_participant=" in cookie and "httponly" in cookie
    assert "samesite=strict" in cookie
    me = client.get("/api/room/me").json()
    assert me["participant"] == body["participant"] and me["lab"] == body["lab"]
    assert client.get(f"/api/labs/{body['lab']}").status_code == 200
    # A script uses the token instead of the cookie.
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert room.live.client.get(f"/api/labs/{body['lab']}", headers=bearer).status_code == 200


def test_the_same_browser_joining_again_gets_the_same_participant_and_lab(room: Room) -> None:
    ada = room.join("Ada")
    again = ada.client.post("/api/room/join", json={"code": room.code, "name": "other"})
    assert again.status_code == 200, again.text
    assert again.json()["participant"] == ada.joined["participant"]
    assert again.json()["lab"] == ada.lab and again.json()["name"] == "Ada"
    assert len(room.get("/api/room").json()["participants"]) == 1


def test_a_wrong_code_is_refused_with_403_and_says_why(room: Room) -> None:
    response = room.browser().post("/api/room/join", json={"code": "WRONG1", "name": "x"})
    assert response.status_code == 403
    assert "wrong join code" in response.json()["error"]["message"]


def test_names_are_made_unique_and_given_when_missing(room: Room) -> None:
    assert room.join("Ada").joined["name"] == "Ada"
    assert room.join("Ada").joined["name"] == "Ada 2"
    assert room.join("").joined["name"] == "Participant 3"


def test_one_address_holds_at_most_its_quota_until_the_instructor_raises_it(
    room: Room,
) -> None:
    for name in ("a", "b", "c"):
        room.join(name)
    refused = room.browser().post("/api/room/join", json={"code": room.code, "name": "d"})
    assert refused.status_code == 429
    assert "already holds 3 participants" in refused.json()["error"]["message"]
    raised = room.post("/api/room/limits", {"per_client": 4, "joins_per_minute": 10})
    assert raised.status_code == 200 and raised.json()["per_client"] == 4
    assert room.join("d").joined["name"] == "d"


def test_join_attempts_are_rate_limited_per_address(tmp_path: Path) -> None:
    with room_server(tmp_path, joins_per_minute=3) as room:
        client = room.browser()
        statuses = [
            client.post("/api/room/join", json={"code": "NOPE22"}).status_code for _ in range(4)
        ]
        assert statuses == [403, 403, 403, 429]
        refused = client.post("/api/room/join", json={"code": room.code})
        assert refused.status_code == 429  # the right code too: the address waits
        assert "3 a minute" in refused.json()["error"]["message"]


def test_the_room_needs_the_instructor_token(room: Room) -> None:
    anonymous = room.live.client.get("/api/room")
    assert anonymous.status_code == 401
    assert "instructor" in anonymous.json()["error"]["message"]
    wrong = room.live.client.get("/api/room", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ada = room.join("Ada")
    assert ada.client.get("/api/room").status_code == 401  # a participant is not the instructor
    for path in (
        "/api/room/join-info",
        "/api/room/export.csv",
        "/api/room/kernels?lesson=x&step=0",
    ):
        assert room.live.client.get(path).status_code == 401, path
    for path, body in (
        ("/api/room/lesson", {"lesson": "server-sockets"}),
        ("/api/room/freeze", {"frozen": True}),
        ("/api/room/step", None),
        ("/api/room/run", {"commands": [{"op": "socket", "name": "s"}]}),
        ("/api/room/reveal", {"lesson": "server-sockets", "step": 5}),
        ("/api/room/revote", {"lesson": "server-sockets", "step": 5}),
        ("/api/room/next", None),
        ("/api/room/limits", {"per_client": 9, "joins_per_minute": 9}),
    ):
        assert ada.client.post(path, json=body).status_code == 401, path
    state = room.get("/api/room").json()
    assert state["code"] == room.code and state["frozen"] is False
    assert [p["name"] for p in state["participants"]] == ["Ada"]
    row = state["participants"][0]
    assert set(row) == {"id", "name", "lab", "lesson", "step", "last_call", "sockets", "flags"}


def test_the_token_url_is_swapped_for_an_httponly_cookie(room: Room) -> None:
    browser = room.browser()
    response = browser.get(f"/instructor?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/instructor"
    cookie = response.headers["set-cookie"].lower()
    assert "sockscope_instructor=" in cookie and "httponly" in cookie
    assert "samesite=strict" in cookie
    assert browser.get("/instructor").status_code == 200  # the app shell
    assert browser.get("/api/room").status_code == 200  # the cookie is the instructor's
    wrong = room.browser().get("/instructor?token=not-it", follow_redirects=False)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers


def test_join_info_gives_the_code_and_join_url(room: Room) -> None:
    info = room.get("/api/room/join-info").json()
    assert info["code"] == room.code
    assert info["url"] == f"{room.live.url}/join"
    assert info["urls"] and all(u.endswith("/join") for u in info["urls"])


@pytest.mark.parametrize("path", ["/projector", "/join", "/join/ABC234", "/instructor"])
def test_the_room_pages_are_the_app_shell(room: Room, path: str) -> None:
    response = room.live.client.get(path)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]


def test_help_requests_show_as_a_flag(room: Room) -> None:
    ada = room.join("Ada")
    assert ada.client.post("/api/room/help", json={"on": True}).json() == {"help": True}
    assert ada.client.get("/api/room/me").json()["help"] is True
    flags = room.get("/api/room").json()["participants"][0]["flags"]
    assert "help" in flags
    ada.client.post("/api/room/help", json={"on": False})
    assert "help" not in room.get("/api/room").json()["participants"][0]["flags"]
    assert room.live.client.post("/api/room/help", json={"on": True}).status_code == 401


def test_the_host_check_still_guards_the_room(room: Room) -> None:
    evil = {"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"}
    assert room.live.client.get("/api/room", headers=evil).status_code == 403
    joined = room.live.client.post(
        "/api/room/join",
        json={"code": room.code},
        headers={"Host": "evil.example", "Origin": "http://evil.example"},
    )
    assert joined.status_code == 403


def test_whoami_names_the_callers_roles_and_never_refuses(room: Room) -> None:
    nobody = room.live.client.get("/api/room/whoami")
    assert nobody.status_code == 200
    assert nobody.json() == {"instructor": False, "participant": None, "name": None,
                             "lab": None, "observes": None}  # fmt: skip
    ada = room.join("Ada")
    me = ada.client.get("/api/room/whoami").json()
    assert me["participant"] == ada.joined["participant"] and me["lab"] == ada.lab
    assert me["name"] == "Ada" and me["instructor"] is False
    assert room.get("/api/room/whoami").json()["instructor"] is True
    token = ada.client.post("/api/room/observers", json={"lab": ada.lab}).json()["token"]
    watcher = room.live.client.get("/api/room/whoami", params={"observe": token}).json()
    assert watcher["observes"] == ada.lab and watcher["participant"] is None


def test_the_instructor_sees_refused_joins_by_address_and_raising_the_limit_clears_them(
    room: Room,
) -> None:
    """A room behind one address (a NAT, Docker Desktop) hits the per-address quota: the
    instructor's grid says so, with the address, so the limit can be raised at once."""
    state = room.get("/api/room").json()
    assert state["limits"] == {"per_client": 3, "joins_per_minute": 10}
    assert state["refused"] == []
    for name in ("a", "b", "c"):
        room.join(name)
    for name in ("d", "e"):
        refused = room.browser().post("/api/room/join", json={"code": room.code, "name": name})
        assert refused.status_code == 429
    (seen,) = room.get("/api/room").json()["refused"]
    assert seen["address"] == "127.0.0.1" and seen["refused"] == 2
    assert seen["participants"] == 3 and seen["why"] == "per_client"
    assert 0 <= seen["seconds_ago"] < 60
    room.post("/api/room/limits", {"per_client": 300, "joins_per_minute": 300})
    state = room.get("/api/room").json()
    assert state["limits"] == {"per_client": 300, "joins_per_minute": 300}
    assert state["refused"] == []
    assert room.join("d").joined["name"] == "d"
