"""Every command answer says what happened: "blocked" only for a call on a worker thread.

The lab thread is held busy on purpose (a closure posted ahead of the command waits on a
gate), so "the lab thread has not reached the command yet" is set up, not hoped for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.tickets import CommandResult
from sockscope.labs.bridge import Answer, LabBusy, run_command
from sockscope.labs.registry import Lab, LabRegistry

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.fixture
def lab() -> Iterator[Lab]:
    registry = LabRegistry(LabPolicy(), max_labs=1, idle_timeout=60.0)
    yield registry.create()
    registry.close_all()


class Gate:
    """Holds the lab thread inside a posted closure until released."""

    def __init__(self, lab: Lab) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()
        lab.engine.post(self._hold)

    def _hold(self) -> None:
        self.entered.set()
        self._open.wait(20)

    def release(self) -> None:
        self._open.set()


async def ok(lab: Lab, raw: dict[str, Any]) -> Answer:
    answer = await run_command(lab, raw, 5.0)
    assert answer.ok and not answer.blocked, (raw, answer.error)
    return answer


async def connected_pair(lab: Lab) -> None:
    """Blocking sockets srv (listening), cli and conn (its accepted end)."""
    await ok(lab, {"op": "socket", "name": "srv"})
    bound = await ok(lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    await ok(lab, {"op": "listen", "socket": "srv"})
    await ok(lab, {"op": "socket", "name": "cli"})
    port = bound.result["address"][1]
    await ok(lab, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    await ok(lab, {"op": "accept", "socket": "srv", "name": "conn"})


@pytest.mark.parametrize(
    "raw",
    [
        {"op": "socket", "name": "late"},
        {"op": "bind", "socket": "late", "address": ["127.0.0.1", 0]},
        {"op": "close", "socket": "late"},
    ],
    ids=["socket", "bind", "close"],
)
def test_a_call_that_cannot_block_waits_for_the_busy_lab_thread(lab: Lab, raw: Any) -> None:
    async def go() -> Answer:
        if raw["op"] != "socket":
            await ok(lab, {"op": "socket", "name": "late", "options": {"blocking": False}})
        gate = Gate(lab)
        # wait=0: the first wait is over before the lab thread could possibly answer.
        task = asyncio.create_task(run_command(lab, raw, 0.0))
        try:
            done, _ = await asyncio.wait({task}, timeout=0.3)
            assert not done, f"answered while the lab thread was held: {task.result()}"
            assert await asyncio.to_thread(gate.entered.wait, 10), (
                "the lab thread never got to the gate"
            )
        finally:
            gate.release()
        return await task

    answer = run(go())
    assert not answer.blocked and answer.ok, answer
    assert answer.result != {"blocked": True, "call_id": None}
    assert any(e.kind == "call" and e.op == raw["op"] for e in answer.events)  # type: ignore[union-attr]


def test_a_lab_thread_that_never_gets_there_is_a_clear_503(lab: Lab) -> None:
    async def go() -> None:
        gate = Gate(lab)
        try:
            with pytest.raises(LabBusy) as busy:
                await run_command(lab, {"op": "socket", "name": "late"}, 0.0, busy_wait=0.2)
        finally:
            gate.release()
        assert busy.value.status == 503
        assert busy.value.message.startswith("the lab is busy")
        assert "try again" in busy.value.message

    run(go())


def test_a_call_on_a_worker_thread_is_still_answered_blocked_with_its_call_id(lab: Lab) -> None:
    async def go() -> Answer:
        await connected_pair(lab)
        return await run_command(lab, {"op": "recv", "socket": "conn", "bufsize": 10}, 0.2)

    answer = run(go())
    assert answer.blocked and answer.ok
    assert isinstance(answer.result["call_id"], int)
    assert [e.kind for e in answer.events] == ["call_started"]
    assert answer.events[0].call_id == answer.result["call_id"]  # type: ignore[union-attr]


def test_a_call_reached_late_that_then_blocks_is_answered_blocked_with_its_call_id(
    lab: Lab,
) -> None:
    async def go() -> Answer:
        await connected_pair(lab)
        gate = Gate(lab)
        task = asyncio.create_task(
            run_command(lab, {"op": "recv", "socket": "conn", "bufsize": 10}, 0.0)
        )
        try:
            done, _ = await asyncio.wait({task}, timeout=0.3)
            assert not done, f"answered while the lab thread was held: {task.result()}"
        finally:
            gate.release()
        return await task

    answer = run(go())
    assert answer.blocked
    assert isinstance(answer.result["call_id"], int), answer.result


def test_an_answer_with_ok_false_and_no_error_cannot_be_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sockscope.engine.tickets"):
        result = CommandResult(False, None, None, [])
    assert result.error is not None and "internal error" in result.error["message"]
    assert result.status == 500
    assert any("ok false" in r.getMessage() and r.stack_info for r in caplog.records)


def test_an_error_without_a_message_gets_one_and_keeps_its_errno(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sockscope.engine.tickets"):
        result = CommandResult(False, None, {"errno": "EBADF", "message": None}, [])
    assert result.error is not None
    assert result.error["errno"] == "EBADF" and "internal error" in result.error["message"]
    assert caplog.records


def test_a_normal_failure_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    error = {"errno": "EAGAIN", "message": "BlockingIOError: [Errno 11] EAGAIN: ..."}
    with caplog.at_level(logging.ERROR, logger="sockscope.engine.tickets"):
        result = CommandResult(False, None, dict(error), [])
    assert result.error == error and result.status == 200
    assert not caplog.records
