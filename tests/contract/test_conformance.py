"""What a real server sends matches the wire's schema, shape by shape.

A live server on 127.0.0.1 (port 0) is driven through REST and its websocket; every body and
message it answers is validated against its definition, objects closed (no key beyond the
shape's), so a field the contract does not list fails as surely as a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from websockets.sync.client import connect

from sockscope.contract.schema import wire_schema
from sockscope.settings import Settings

from live import LiveServer, serve
from rowskit import flood_lab, messages_until

LESSON = "partial-send"  # quick, and needs no private network
# A lesson with action steps -> the definition its steps' data takes (each item, for a list).
MEASURED = {
    "framing": "LessonFraming",
    "byte-order": "ByteOrderReading",
    "buffers-and-ipc": "IpcReport",
    "server-shapes": "ShapeReport",
    "endings": "EndingRow",
}


class Contract:
    def __init__(self) -> None:
        self.document = wire_schema()
        self.checked: set[str] = set()

    def check(self, name: str, value: Any) -> Any:
        schema = {"$schema": self.document["$schema"], "$ref": f"#/$defs/{name}"}
        validator = jsonschema_rs.validator_for({**schema, "$defs": self.document["$defs"]})
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(value)]
        assert errors == [], (name, errors[:5], json.dumps(value)[:600])
        self.checked.add(name)
        return value


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    yield from serve(Settings(command_wait=1.0))


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def answer(live: LiveServer, contract: Contract, lab: str, command: dict[str, Any]) -> Any:
    return contract.check("CommandAnswer", live.command(lab, command).json())


def test_the_validator_refuses_what_the_contract_does_not_say(contract: Contract) -> None:
    good = {"plugged": True, "how": "a network namespace"}
    contract.check("NetworkState", good)
    for bad in ({**good, "extra": 1}, {"plugged": True}, {**good, "plugged": "yes"}):
        with pytest.raises(AssertionError):
            contract.check("NetworkState", bad)


def test_rest_answers_and_the_event_log(live: LiveServer, contract: Contract) -> None:
    client = live.client
    contract.check("Health", client.get("/healthz").json())
    contract.check("ServerInfo", client.get("/api/server").json())
    created = contract.check("LabCreated", client.post("/api/labs").json())
    lab = created["id"]
    answer(live, contract, lab, {"op": "socket", "name": "srv"})
    bound = answer(
        live, contract, lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]}
    )
    port = bound["result"]["address"][1]
    answer(live, contract, lab, {"op": "listen", "socket": "srv", "backlog": 5})
    answer(live, contract, lab, {"op": "socket", "name": "cli"})
    answer(live, contract, lab, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    answer(live, contract, lab, {"op": "accept", "socket": "srv"})
    answer(live, contract, lab, {"op": "send", "socket": "cli", "text": "hello"})
    answer(live, contract, lab, {"op": "recv", "socket": "conn", "bufsize": 5})
    blocked = answer(live, contract, lab, {"op": "recv", "socket": "conn", "bufsize": 5})
    assert blocked.get("blocked") is True  # the call waits in a worker thread
    answer(live, contract, lab, {"op": "link", "name": "lnk", "target": ["127.0.0.1", port]})
    answer(live, contract, lab, {"op": "fault", "link": "lnk", "latency_ms": 20})
    answer(live, contract, lab, {"op": "pause"})
    answer(live, contract, lab, {"op": "resume"})
    refused = live.command(lab, {"op": "recv", "socket": "conn", "bufsize": -5})
    assert refused.status_code == 400
    contract.check("CommandAnswer", refused.json())
    contract.check("ErrorBody", refused.json())
    snapshot = contract.check("LabSnapshot", client.get(f"/api/labs/{lab}").json())
    conn = next(s for s in snapshot["sockets"] if s["name"] == "conn")
    assert conn["blocked"] and snapshot["links"], "the snapshot lacks what it should show"
    answer(live, contract, lab, {"op": "close", "socket": "cli"})
    page = contract.check("EventsPage", client.get(f"/api/labs/{lab}/events").json())
    kinds = {contract.check("LabEvent", event)["kind"] for event in page["events"]}
    assert {"call", "call_started", "socket", "socket_closed", "probe", "select", "loop",
            "command_error", "link"} <= kinds  # fmt: skip
    for missing in (client.get("/api/labs/nope"), client.get("/api/lessons/nope")):
        assert missing.status_code == 404
        contract.check("ErrorBody", missing.json())
    assert contract.checked >= {"LabCreated", "LabSnapshot", "CommandAnswer", "EventsPage"}


def test_lessons(live: LiveServer, contract: Contract) -> None:
    client = live.client
    outlines = client.get("/api/lessons").json()
    assert len(outlines) >= 10
    for outline in outlines:
        contract.check("LessonOutline", outline)
        contract.check("LessonDefinition", client.get(f"/api/lessons/{outline['id']}").json())
    lab = live.new_lab()
    base = f"/api/labs/{lab}/lessons/{LESSON}"
    contract.check("LessonState", client.post(f"{base}/start").json())
    step = contract.check("LessonStepAnswer", client.post(f"{base}/next").json())
    assert step["step"] == 0
    contract.check("LessonState", client.post(f"{base}/run").json())
    contract.check("LessonState", client.get(f"/api/labs/{lab}/lesson").json())
    page = client.get(f"/api/labs/{lab}/events").json()
    lessons = [contract.check("LabEvent", e) for e in page["events"] if e["kind"] == "lesson"]
    assert {e["state"] for e in lessons} >= {"started", "step", "finished"}


def test_websocket_messages(live: LiveServer, contract: Contract) -> None:
    lab = live.new_lab()
    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        first = contract.check("ServerMessage", json.loads(ws.recv(timeout=5)))
        contract.check("SnapshotMessage", first)
        ws.send(json.dumps({"id": "a", "op": "socket", "name": "srv"}))
        ws.send(json.dumps({"id": 7, "op": "listen", "socket": "nope"}))
        ws.send("not json")
        seen: dict[str, list[Any]] = {}
        while (
            len(seen.get("command/result", [])) < 2
            or "events/batch" not in seen
            or ("error" not in seen)
        ):
            message = contract.check("ServerMessage", json.loads(ws.recv(timeout=5)))
            seen.setdefault(message["type"], []).append(message)
    for message in seen["command/result"]:
        contract.check("CommandResultMessage", message)
    assert {m["id"] for m in seen["command/result"]} == {"a", 7}
    contract.check("EventsMessage", seen["events/batch"][0])
    contract.check("ErrorMessage", seen["error"][0])


def test_rows_messages(live: LiveServer, contract: Contract) -> None:
    lab = flood_lab(live)
    last = live.client.get(f"/api/labs/{lab}/events?limit=1").json()["last_seq"]
    messages = messages_until(f"{live.ws_url}/api/labs/{lab}/ws?after=0&rows=1", last)
    for message in messages:
        contract.check("ServerMessage", message)
        contract.check("EventsRowsMessage", message)
    assert any(isinstance(row, list) for m in messages for row in m["events"])
    assert any(isinstance(row, dict) for m in messages for row in m["events"])


def test_workbench_answers(live: LiveServer, contract: Contract) -> None:
    client = live.client
    networks = []
    for value, fmt in ((1, "!I"), (1, "<I"), (258, "=H"), (2**40, "!Q"), (0, "!B")):
        response = client.get("/api/workbench/byteorder", params={"value": value, "fmt": fmt})
        assert response.status_code == 200, response.text
        networks.append(contract.check("ByteOrderAnswer", response.json())["network"])
    assert None in networks and any(networks)  # 2**40 does not fit htonl()
    for strategy in ("fixed", "delimited", "text_prefix", "binary_prefix", "shutdown"):
        for cut in (0, 3):
            request = {"strategy": strategy, "messages": ["hello", "framed", "world"], "slice": cut}
            contract.check("FramingRequest", request)
            response = client.post("/api/workbench/framing", json=request)
            assert response.status_code == 200, response.text
            assert contract.check("FramingAnswer", response.json())["framed_ok"] is True
    request = {"clients": 2, "think_ms": 0}
    contract.check("ShapesRequest", request)
    response = client.post("/api/workbench/shapes", json=request, timeout=30)
    assert response.status_code == 200, response.text
    reports = [contract.check("ShapeReport", report) for report in response.json()]
    assert [r["shape"] for r in reports] == ["thread", "process", "select"]
    too_big = client.get("/api/workbench/byteorder", params={"value": 70000, "fmt": "!H"})
    assert too_big.status_code == 400
    contract.check("ErrorBody", too_big.json())


def test_a_workbench_body_beyond_the_contract_is_refused(
    live: LiveServer, contract: Contract
) -> None:
    """The request schemas are closed because the server refuses what they do not list."""
    for route, body in (
        ("framing", {"strategy": "delimited", "messages": ["a"], "slices": 3}),
        ("shapes", {"clients": 2, "think": 0}),
        ("framing", {"strategy": "glued"}),
    ):
        name = "FramingRequest" if route == "framing" else "ShapesRequest"
        with pytest.raises(AssertionError):
            contract.check(name, body)
        response = live.client.post(f"/api/workbench/{route}", json=body)
        assert response.status_code == 400, (route, body, response.text)
        contract.check("ErrorBody", response.json())


def lesson_events(live: LiveServer, lab: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = live.client.get(f"/api/labs/{lab}/events", params={"after": after}).json()
        if not page["events"]:
            return found
        found += [e for e in page["events"] if e["kind"] == "lesson"]
        after = page["next_after"]


@pytest.mark.parametrize("lesson", sorted(MEASURED))
def test_what_a_lessons_steps_measured(live: LiveServer, contract: Contract, lesson: str) -> None:
    lab = live.new_lab()
    base = f"/api/labs/{lab}/lessons/{lesson}"
    first = live.client.post(f"{base}/next", timeout=30)
    assert first.status_code == 200, first.text
    contract.check("LessonStepAnswer", first.json())
    done = live.client.post(f"{base}/run", timeout=50)
    assert done.status_code == 200, done.text
    state = contract.check("LessonState", done.json())
    assert state["finished"] and state["failed"] is None, state
    events = [contract.check("LabEvent", e) for e in lesson_events(live, lab)]
    # The last step's data comes with the lesson's "finished" event.
    measured = [contract.check("LessonStepData", e["data"]) for e in events if e["data"]]
    assert measured, f"no step of {lesson} measured anything"
    for data in measured:
        for item in data if isinstance(data, list) else [data]:
            contract.check(MEASURED[lesson], item)
