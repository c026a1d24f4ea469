"""The instructor's flags, read from real labs' state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from sockscope.labs.bridge import run_command
from sockscope.labs.registry import Lab, LabRegistry
from sockscope.room import flags
from sockscope.settings import Settings

from helpers import wait_until


@pytest.fixture
def lab() -> Iterator[Lab]:
    registry = LabRegistry(Settings().lab_policy(), max_labs=2, idle_timeout=600)
    made = registry.create()
    yield made
    registry.close_all()


def run(lab: Lab, *commands: dict[str, Any]) -> list[Any]:
    async def each() -> list[Any]:
        return [await run_command(lab, c, 0.2, limited=False) for c in commands]

    return asyncio.run(each())


def test_a_quiet_lab_has_no_flag_until_it_idles(lab: Lab) -> None:
    assert flags.flags_of(lab, False) == []
    later = lab.last_command + flags.IDLE_AFTER + 1
    assert flags.flags_of(lab, False, now=later) == ["idle"]
    assert flags.flags_of(lab, True) == ["help"]
    assert flags.flags_of(None, True) == ["help"]


def test_the_same_failure_three_times_is_flagged(lab: Lab) -> None:
    close = {"op": "close", "socket": "nope"}
    run(lab, close, close)
    assert "repeating" not in flags.flags_of(lab, False)
    run(lab, close)
    assert "repeating" in flags.flags_of(lab, False)
    run(lab, {"op": "socket", "name": "s"})
    assert "repeating" not in flags.flags_of(lab, False)


def test_a_call_blocked_past_the_threshold_is_flagged(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flags, "BLOCKED_AFTER", 0.3)
    answers = run(
        lab,
        {"op": "socket", "name": "srv"},
        {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]},
        {"op": "listen", "socket": "srv"},
        {"op": "accept", "socket": "srv"},  # nobody connects: blocks in a worker thread
    )
    assert answers[-1].blocked
    assert "blocked" not in flags.flags_of(lab, False)
    wait_until(lambda: "blocked" in flags.flags_of(lab, False), 5, "the blocked flag")
    assert flags.blocked_for(lab) > 0.3


def test_a_select_loop_spinning_on_a_writable_socket_is_a_busy_loop(lab: Lab) -> None:
    bound = run(
        lab,
        {"op": "socket", "name": "srv"},
        {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]},
        {"op": "listen", "socket": "srv"},
    )[1]
    port = lab.engine.sockets["srv"].sock.getsockname()[1]
    assert bound.ok
    run(
        lab,
        {"op": "socket", "name": "cli"},
        {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]},
    )
    assert not flags.busy_loop(lab)
    run(lab, {"op": "watch", "socket": "cli", "write": True})
    wait_until(lambda: flags.busy_loop(lab), 5, "the busy loop flag")
    run(lab, {"op": "watch", "socket": "cli", "write": False})
    wait_until(lambda: not flags.busy_loop(lab), 5, "the loop to calm down")
