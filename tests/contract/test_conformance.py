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

LESSON = "partial-send"  # quick, and needs no private network


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
