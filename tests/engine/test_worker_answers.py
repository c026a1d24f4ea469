"""A call finished on a worker thread is answered even when recording its end fails."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine import loopcalls


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
