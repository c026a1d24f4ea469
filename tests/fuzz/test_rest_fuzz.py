"""REST command fuzzer: hostile commands at a real server; never a 5xx, always the error body."""

from __future__ import annotations

from typing import Any

import pytest
from checks import still_working
from fuzzing import (
    check_error,
    commands,
    fuzz_settings,
    timeout_for,
    to_text,
    too_big,
)
from hypothesis import given

from live import LiveServer

# The live server's threads (uvicorn and websockets keep-alive pings) use the global random
# module; Hypothesis, seeing its state move while it drew an example, would call the draw
# flaky. Nothing in these strategies uses random.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)

CASES = 250


@pytest.mark.timeout(timeout_for(CASES))
def test_rest_commands_never_fail_the_server(fuzz_server: LiveServer) -> None:
    live = fuzz_server
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "s"})
    statuses: dict[int, int] = {}

    @fuzz_settings(CASES)
    @given(command=commands())
    def one(command: Any) -> None:
        text = to_text(command)
        response = live.client.post(
            f"/api/labs/{lab}/commands",
            content=text.encode(),
            headers={"content-type": "application/json"},
        )
        status = response.status_code
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (
            status,
            response.text[:300],
        )
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) <= {"ok", "result", "error", "events", "blocked"}, sorted(body)
        assert {"ok", "result", "error", "events"} <= set(body)
        assert isinstance(body["events"], list)
        if too_big(text):
            assert status == 413, status
        if status >= 400:
            assert body["ok"] is False and body["result"] is None
            check_error(body["error"])
        elif body["error"] is not None:
            check_error(body["error"])  # a failed call: errno and message

    one()
    still_working(live, lab)
    assert sum(statuses.values()) >= min(CASES, 50)
    assert any(400 <= s < 500 for s in statuses), statuses  # it did reach the refusals
