"""Websocket command fuzzer: every command with an id gets exactly one command/result."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from checks import still_working
from fuzzing import check_error, commands, fuzz_settings, timeout_for, to_text
from hypothesis import given
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from live import LiveServer

# The live server's threads (uvicorn and websockets keep-alive pings) use the global random
# module; Hypothesis, seeing its state move while it drew an example, would call the draw
# flaky. Nothing in these strategies uses random.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)

CASES = 120  # each case is a batch of up to 6 commands


def collect(
    ws: ClientConnection, sent: dict[int, str], deadline: float
) -> dict[int, list[dict[str, Any]]]:
    """The command/result answers, by id, until each command in ``sent`` (id: text) has one."""
    ids = set(sent)
    answers: dict[int, list[dict[str, Any]]] = {}
    sentinel = -1
    ws.send(json.dumps({"id": sentinel, "op": "no-such-op"}))
    while not (ids <= set(answers) and sentinel in answers):
        left = deadline - time.monotonic()
        missing = {n: sent[n][:300] for n in sorted(ids - set(answers))}
        assert left > 0, f"no answer for {missing}"
        try:
            message = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            raise AssertionError(f"no answer for {missing}") from None
        if message["type"] == "command/result":
            answers.setdefault(message["id"], []).append(message)
    return answers


@pytest.mark.timeout(timeout_for(CASES, per_case=0.4))
def test_websocket_commands_are_each_answered_once(fuzz_server: LiveServer) -> None:
    live = fuzz_server
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "s"})
    counter = iter(range(1_000_000))

    with connect(f"{live.ws_url}/api/labs/{lab}/ws") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "lab/snapshot"

        @fuzz_settings(CASES)
        @given(batch=st.lists(commands(big=False), min_size=1, max_size=6))
        def one(batch: list[Any]) -> None:
            sent: dict[int, Any] = {}
            texts: dict[int, str] = {}
            for command in batch:
                message = command
                if isinstance(command, dict):
                    request_id = next(counter)
                    message = sent[request_id] = {**command, "id": request_id}
                text = to_text(message)
                if isinstance(command, dict):
                    texts[request_id] = text
                ws.send(text)
            answers = collect(ws, texts, time.monotonic() + 5)
            for request_id, command in sent.items():
                got = answers[request_id]
                assert got, f"no answer to {command!r:.300}"
                assert len(got) == 1, (request_id, len(got))
                reply = got[0]
                assert set(reply) == {
                    "type", "id", "ok", "result", "error", "status", "seqs", "blocked"
                }  # fmt: skip
                assert reply["status"] < 500, (command, reply)
                if not reply["ok"]:
                    check_error(reply["error"])

        one()
    still_working(live, lab)
