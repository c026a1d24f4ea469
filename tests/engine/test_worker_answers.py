"""A call on a worker thread is answered even when it, or recording its end, fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine import loopcalls, workers
from sockscope.engine.calls import Outcome


def test_a_worker_call_whose_finish_fails_still_answers(
    lab: LabDriver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    port = lab.server()  # blocking: accept() runs on a worker thread
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})

    def broken(lab_: Any, ls: Any, outcome: Any, *args: Any, **kwargs: Any) -> Any:
        outcome.value[0].close()  # the connection the kernel gave: not leaked by the test
        raise RuntimeError("a bug while recording the accept")

    monkeypatch.setattr(loopcalls, "record_accept", broken)
    with caplog.at_level(logging.ERROR, logger="sockscope.engine.lab"):
        answer = lab.run({"op": "accept", "socket": "srv"})
    assert not answer.ok and answer.status == 500
    assert (
        answer.error is not None and "internal error finishing accept()" in answer.error["message"]
    )
    assert any(r.exc_info for r in caplog.records)
    assert lab.sock("srv")["blocked"] == []  # the side is free again


def test_an_exception_inside_a_worker_call_is_logged_answered_and_unblocks(
    lab: LabDriver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    port = lab.server(auto_accept=True)
    lab.ok({"op": "socket", "name": "cli"})  # blocking: recv() runs on a worker thread
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})

    def buggy(fn: Callable[[], Any]) -> Outcome:
        raise RuntimeError("a bug inside the worker's call")

    monkeypatch.setattr(workers, "perform", buggy)
    with caplog.at_level(logging.ERROR):
        answer = lab.run({"op": "recv", "socket": "cli", "bufsize": 100})
    assert not answer.ok and answer.status == 500
    assert answer.error is not None and "internal error in recv()" in answer.error["message"]
    logged = [r for r in caplog.records if r.exc_info and "worker thread failed" in r.getMessage()]
    assert logged and isinstance(logged[0].exc_info[1], RuntimeError)  # type: ignore[index]
    assert lab.sock("cli")["blocked"] == []  # the side is free again
    monkeypatch.undo()
    lab.ok({"op": "setblocking", "socket": "cli", "flag": False})
    again = lab.run({"op": "recv", "socket": "cli", "bufsize": 100})  # not "already blocked"
    assert again.error is not None and again.error["errno"] == "EAGAIN"
