"""The OpenAPI document says what the app answers: its statuses, with the error body's schema.

Before issue 9's fix it said 422 (the app answers 400) and omitted 404, 413 and 503.
"""

from __future__ import annotations

from typing import Any

import pytest

from sockscope.api.wire import MAX_BODY, ErrorBody
from sockscope.engine.core.commands import OPS

from live import LiveServer


@pytest.fixture(scope="module")
def document(live: LiveServer) -> dict[str, Any]:
    response = live.client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_no_operation_documents_422(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            assert {"400", "500"} <= set(operation["responses"]), (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_error_body_schema_is_the_one_the_app_sends(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["ErrorBody"]
    assert set(schema["required"]) >= {"error"}
    assert set(schema["properties"]) == {"ok", "result", "error", "events"}


def check(document: dict[str, Any], template: str, method: str, response: Any, status: int) -> None:
    assert response.status_code == status, response.text[:200]
    documented = document["paths"][template][method]["responses"]
    assert str(status) in documented, (method, template, status, sorted(documented))
    content = documented[str(status)]["content"]["application/json"]["schema"]
    assert content == {"$ref": "#/components/schemas/ErrorBody"}
    ErrorBody.model_validate(response.json())


def test_the_answers_are_the_documented_ones(live: LiveServer, document: dict[str, Any]) -> None:
    client, lab = live.client, live.new_lab()
    commands = "/api/labs/{lab_id}/commands"
    check(document, "/api/labs/{lab_id}", "get", client.get("/api/labs/nope"), 404)
    check(document, "/api/labs/{lab_id}", "delete", client.delete("/api/labs/nope"), 404)
    check(document, commands, "post", live.command("nope", {"op": "pause"}), 404)
    check(document, commands, "post", live.command(lab, {"op": "nope"}), 400)
    check(document, commands, "post", live.command(lab, {"op": "close", "socket": "s"}), 404)
    plain = client.post(
        f"/api/labs/{lab}/commands", content=b"{}", headers={"content-type": "text/plain"}
    )
    check(document, commands, "post", plain, 415)
    big = live.command(lab, {"op": "send", "socket": "s", "text": "x" * MAX_BODY})
    check(document, commands, "post", big, 413)
    foreign = client.post("/api/labs", headers={"origin": "http://evil.example"})
    check(document, "/api/labs", "post", foreign, 403)
    events = "/api/labs/{lab_id}/events"
    check(document, events, "get", client.get(f"/api/labs/{lab}/events?after=-1"), 400)
    check(document, events, "get", client.get("/api/labs/nope/events"), 404)
    lesson = "/api/lessons/{lesson_id}"
    check(document, lesson, "get", client.get("/api/lessons/nope"), 404)
    shapes = client.post("/api/workbench/shapes", json={"clients": 0})
    check(document, "/api/workbench/shapes", "post", shapes, 400)


def test_the_command_body_lists_every_op_as_its_own_schema(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/labs/{lab_id}/commands"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Command"
    schemas = document["components"]["schemas"]
    union = schemas["Command"]
    assert union["discriminator"]["propertyName"] == "op"
    ops = set()
    for member in union["oneOf"]:
        definition = schemas[member["$ref"].rsplit("/", 1)[1]]
        ops.add(definition["properties"]["op"]["const"])
        assert definition["additionalProperties"] is False
    assert ops == set(OPS)
    send = schemas["Send"]["properties"]
    assert send["size"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 16777216,
        "description": "at most the lab's max_payload (16777216 by default)",
    }


def test_a_command_valid_by_the_schema_runs(live: LiveServer, document: dict[str, Any]) -> None:
    """The examples /docs offers are commands the lab takes (a schema for another app fails)."""
    lab = live.client.post("/api/labs").json()["id"]
    body = document["paths"]["/api/labs/{lab_id}/commands"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    socket_example = examples["socket"]["value"]
    answer = live.client.post(f"/api/labs/{lab}/commands", json=socket_example)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True


def test_a_step_past_a_lessons_end_is_a_documented_409(
    live: LiveServer, document: dict[str, Any]
) -> None:
    """schemathesis found it: /next after the end answered 409, which was not documented."""
    lab = live.new_lab()
    base = f"/api/labs/{lab}/lessons/framing"
    assert live.client.post(f"{base}/run", timeout=60).status_code == 200
    after = live.client.post(f"{base}/next")
    check(document, "/api/labs/{lab_id}/lessons/{lesson_id}/next", "post", after, 409)
    assert "the lesson is over" in after.json()["error"]["message"]
