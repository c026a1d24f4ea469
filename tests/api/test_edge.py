"""The API's edge: body size, text that is not Unicode, bounded error messages, no lost answer.

Each test here failed on the code before the edge was fixed (issue 9, "What a fuzzer found").
The engine's part (refusals that quote a short prefix of their input, a shutdown `how` that
is not a string) is tested here too, through the API a user sees.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from sockscope.api.wire import MAX_BODY, MESSAGE_CHARS
from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.errors import CommandError
from sockscope.engine.core.policy import LabPolicy

from live import LiveServer

# The longest message an error may carry: the cut, and the note saying how long it was.
BOUND = MESSAGE_CHARS + 60


def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def result_for(ws: ClientConnection, request_id: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = receive(ws, max(0.1, deadline - time.monotonic()))
        if message["type"] == "command/result" and message["id"] == request_id:
            return message


def assert_error_body(response: Any, status: int, *, logged: bool = False) -> dict[str, Any]:
    """The error body; ``logged``: the lab refused it, so its events hold the refusal."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"ok", "result", "error", "events"}, body
    assert body["ok"] is False and body["result"] is None
    kinds = [e["kind"] for e in body["events"]]
    assert kinds == (["command_error"] if logged else []), kinds
    assert set(body["error"]) == {"errno", "field", "message"}
    assert isinstance(body["error"]["message"], str) and len(body["error"]["message"]) <= BOUND
    return body


def raw_post(live: LiveServer, path: str, head: list[str], body_parts: list[bytes]) -> bytes:
    """POST over a plain socket; stop sending once the server has answered. Returns its answer."""
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *head, "", ""]
        sock.sendall("\r\n".join(lines).encode())
        sock.setblocking(False)
        answer = b""
        deadline = time.monotonic() + 10
        for part in body_parts:
            try:
                sock.sendall(part)
            except (BlockingIOError, ConnectionError):
                break  # the server stopped reading: it has answered
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                continue
            if answer:
                break
        sock.setblocking(True)
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def status_and_body(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


# --- body size --------------------------------------------------------------------------


def test_a_body_declared_over_the_limit_is_refused_unread(live: LiveServer) -> None:
    lab = live.new_lab()
    head = ["Content-Type: application/json", "Content-Length: 100000000"]
    answer = raw_post(live, f"/api/labs/{lab}/commands", head, [b"x" * 65536] * 4)
    status, body = status_and_body(answer)
    assert status == 413
    assert body["ok"] is False and "over 65536 bytes" in body["error"]["message"]
    assert '"size"' in body["error"]["message"]  # says how to send many bytes


def test_a_chunked_body_is_counted_as_it_arrives(live: LiveServer) -> None:
    """No Content-Length: refused once the bytes read pass the limit, not after all of them."""
    lab = live.new_lab()
    chunk = b"x" * 16384
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    head = ["Content-Type: application/json", "Transfer-Encoding: chunked"]
    # 100 MB would follow; the server answers after a little over 64 KiB.
    answer = raw_post(live, f"/api/labs/{lab}/commands", head, [framed] * 6400)
    status, body = status_and_body(answer)
    assert status == 413 and body["error"]["field"] is None


def test_a_command_just_under_the_limit_is_run(live: LiveServer) -> None:
    lab = live.new_lab()
    text = "x" * (MAX_BODY - 200)
    response = live.command(lab, {"op": "sendall", "socket": "nobody", "text": text})
    # Read and parsed: the lab answers (no such socket), the edge did not refuse it.
    assert response.status_code == 404, response.text[:200]


def test_a_websocket_message_over_the_limit_closes_the_socket(live: LiveServer) -> None:
    lab = live.new_lab()
    with connect(f"{live.ws_url}/api/labs/{lab}/ws", max_size=None) as ws:
        assert receive(ws)["type"] == "lab/snapshot"
        ws.send(json.dumps({"id": 1, "op": "send", "socket": "s", "text": "x" * MAX_BODY}))
        with pytest.raises(ConnectionClosed):
            while True:
                receive(ws)
        assert ws.close_code == 1009
    assert live.client.get("/healthz").status_code == 200


# --- text that is not Unicode -----------------------------------------------------------

LONE = '{"op": "\\ud800"}'  # valid JSON; "\ud800" cannot be encoded as UTF-8


def test_a_lone_surrogate_is_refused_before_the_lab_sees_it(live: LiveServer) -> None:
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "a"})  # an event for ?after=0 to replay
    before = live.client.get(f"/api/labs/{lab}/events").json()["last_seq"]
    response = live.client.post(
        f"/api/labs/{lab}/commands",
        content=LONE.encode(),
        headers={"content-type": "application/json"},
    )
    body = assert_error_body(response, 400)
    assert body["error"]["field"] == "op" and "not valid Unicode" in body["error"]["message"]
    nested = '{"op": "socket", "name": "s", "options": {"\\udfff": 1}}'
    response = live.client.post(
        f"/api/labs/{lab}/commands",
        content=nested.encode(),
        headers={"content-type": "application/json"},
    )
    assert assert_error_body(response, 400)["error"]["field"] == "options"
    # Nothing reached the lab, and its log and stream are whole.
    events = live.client.get(f"/api/labs/{lab}/events?after=0")
    assert events.status_code == 200 and events.json()["last_seq"] == before
    with connect(f"{live.ws_url}/api/labs/{lab}/ws?after=0") as ws:
        assert receive(ws)["type"] == "events/batch"


def test_a_lone_surrogate_over_the_websocket_is_answered_400(live: LiveServer) -> None:
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "a"})
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        assert receive(ws)["type"] == "lab/snapshot"
        ws.send('{"id": 7, "op": "\\ud800"}')
        reply = result_for(ws, 7)
        assert reply["status"] == 400 and reply["ok"] is False
        assert reply["error"]["field"] == "op"
        ws.send('{"id": "\\ud800", "op": "pause"}')  # the id itself: answered, id null
        assert result_for(ws, None)["status"] == 400
        ws.send('{"id": 8, "op": "pause"}')  # and the socket still works
        assert result_for(ws, 8)["ok"] is True
    with connect(f"{live.ws_url}/api/labs/{lab}/ws?after=0") as ws:
        assert receive(ws)["type"] == "events/batch"
    assert live.client.get(f"/api/labs/{lab}/events?after=0").status_code == 200


def test_nan_and_deep_nesting_are_refused_with_the_error_body(live: LiveServer) -> None:
    lab = live.new_lab()
    for text in ('{"op": "settimeout", "socket": "s", "timeout": NaN}', "[" * 5000 + "]" * 5000):
        response = live.client.post(
            f"/api/labs/{lab}/commands",
            content=text.encode(),
            headers={"content-type": "application/json"},
        )
        assert_error_body(response, 400)


# --- errors quote a short prefix --------------------------------------------------------

HUGE_ADDRESS = {"op": "bind", "socket": "s", "address": "h" * 60_000}


def test_an_error_body_quotes_a_short_prefix(live: LiveServer) -> None:
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "s"})
    response = live.command(lab, HUGE_ADDRESS)
    assert response.status_code == 400
    assert len(response.json()["error"]["message"]) <= BOUND
    response = live.command(lab, {"op": "pause", "k" * 50_000: 1})  # the field name too
    error = response.json()["error"]
    assert len(error["message"]) <= BOUND and len(error["field"]) <= 200
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        assert receive(ws)["type"] == "lab/snapshot"
        ws.send(json.dumps({"id": 1, **HUGE_ADDRESS}))
        assert len(result_for(ws, 1)["error"]["message"]) <= BOUND
        ws.send("not json " + "x" * 50_000)
        while (message := receive(ws))["type"] != "error":
            pass
        assert len(message["message"]) <= BOUND


def test_the_engine_quotes_a_short_prefix() -> None:
    with pytest.raises(CommandError) as refused:
        parse_command(HUGE_ADDRESS, LabPolicy())
    assert len(refused.value.message) <= BOUND


def test_the_logged_refusal_quotes_a_short_prefix(live: LiveServer) -> None:
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "s"})
    after = live.client.get(f"/api/labs/{lab}/events").json()["last_seq"]
    assert live.command(lab, HUGE_ADDRESS).status_code == 400
    events = live.client.get(f"/api/labs/{lab}/events?after={after}").json()["events"]
    refusals = [e for e in events if e["kind"] == "command_error"]
    assert refusals and all(len(e["message"]) <= BOUND for e in refusals)


# --- a failure on the lab's side is still answered --------------------------------------

BAD_HOWS: list[Any] = [{"x": 1}, ["SHUT_WR"]]


def test_an_unexpected_failure_is_a_clean_500_over_rest(live: LiveServer) -> None:
    lab = live.new_lab()
    for how in BAD_HOWS:
        response = live.command(lab, {"op": "shutdown", "socket": "s", "how": how})
        assert response.status_code in (400, 500)
        assert_error_body(response, response.status_code, logged=response.status_code == 400)
    assert live.client.get("/healthz").status_code == 200


def test_every_websocket_command_is_answered_even_a_failing_one(live: LiveServer) -> None:
    lab = live.new_lab()
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        assert receive(ws)["type"] == "lab/snapshot"
        for n, how in enumerate(BAD_HOWS):
            ws.send(json.dumps({"id": n, "op": "shutdown", "socket": "s", "how": how}))
            reply = result_for(ws, n)
            assert reply["ok"] is False and reply["status"] in (400, 500)
            assert isinstance(reply["error"]["message"], str)


@pytest.mark.parametrize("how", BAD_HOWS, ids=["dict", "list"])
def test_a_shutdown_how_that_is_not_a_string_is_a_400(live: LiveServer, how: Any) -> None:
    lab = live.new_lab()
    response = live.command(lab, {"op": "shutdown", "socket": "s", "how": how})
    assert assert_error_body(response, 400, logged=True)["error"]["field"] == "how"
