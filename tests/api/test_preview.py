"""A form's preview: the Python its commands will run, as the lab logs it, and nothing run."""

from __future__ import annotations

from typing import Any

from live import LiveServer

SERVER = [
    {"op": "socket", "name": "srv", "options": {"rcvbuf": 4096, "blocking": False}},
    {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]},
    {"op": "listen", "socket": "srv", "backlog": 5},
]


def preview(live: LiveServer, lab: str, body: Any) -> Any:
    response = live.client.post(f"/api/labs/{lab}/preview", json=body)
    return response.status_code, response.json()


def test_a_preview_shows_the_lines_the_lab_then_logs(live: LiveServer) -> None:
    lab = live.new_lab()
    status, shown = preview(live, lab, {"commands": SERVER})
    assert status == 200 and shown["error"] is None
    assert shown["lines"][:3] == [
        "srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        "srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)",
        "srv.setblocking(False)",
    ]
    assert live.client.get(f"/api/labs/{lab}").json()["sockets"] == []  # nothing ran
    for command in SERVER:
        live.ok(lab, command)
    events = live.client.get(f"/api/labs/{lab}/events").json()["events"]
    logged = [e["line"] for e in events if e["kind"] == "call"]
    port = live.client.get(f"/api/labs/{lab}").json()["sockets"][0]["local"][1]
    assert logged == [line.replace("', 0))", f"', {port}))") for line in shown["lines"]]


def test_a_refused_command_ends_the_preview_with_its_error(live: LiveServer) -> None:
    lab = live.new_lab()
    bad = [SERVER[0], {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 80]}]
    status, shown = preview(live, lab, {"commands": bad})
    assert status == 200
    assert len(shown["lines"]) == 3  # the socket's lines, then the refusal
    assert shown["error"]["index"] == 1
    assert shown["error"]["field"] == "address"
    assert "outside the lab port range" in shown["error"]["message"]
    status, shown = preview(live, lab, {"commands": [{"op": "recv", "socket": "s", "bufsize": 0}]})
    assert shown["error"]["message"] == "bufsize: must be between 1 and 4194304, got 0"


def test_a_preview_that_is_no_list_of_commands_is_a_400(live: LiveServer) -> None:
    lab = live.new_lab()
    for body in ([1], {"commands": "socket"}, {"commands": [], "more": 1}):
        status, answer = preview(live, lab, body)
        assert status == 400, body
        assert answer["error"]["field"] == "commands"
    status, answer = preview(live, lab, {"commands": [SERVER[0]] * 17})
    assert status == 400 and "at most 16" in answer["error"]["message"]
    status, _ = preview(live, "nolab", {"commands": SERVER})
    assert status == 404
