from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.errors import CommandError
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.lab import LabEngine
from sockscope.engine.tickets import CommandResult
from sockscope.events import CallEvent, Event


class LabDriver:
    """A started lab, driven the way the API drives it."""

    def __init__(self, policy: LabPolicy) -> None:
        self.policy = policy
        self.engine = LabEngine(secrets.token_hex(8), policy)
        self.engine.start()

    def run(self, command: dict[str, Any], timeout: float = 5.0) -> CommandResult:
        try:
            parsed = parse_command(command, self.policy)
        except CommandError as exc:
            return self.engine.reject(command.get("op"), exc).future.result(timeout)
        return self.engine.submit(parsed).future.result(timeout)

    def ok(self, command: dict[str, Any]) -> CommandResult:
        result = self.run(command)
        assert result.ok, (command, result.error)
        return result

    def snapshot(self) -> dict[str, Any]:
        return self.engine.snapshot().result(5)

    def sock(self, name: str) -> dict[str, Any]:
        found = [s for s in self.snapshot()["sockets"] if s["name"] == name]
        assert found, f"no socket {name}"
        entry: dict[str, Any] = found[0]
        return entry

    def events(self, kind: str | None = None) -> list[Event]:
        page = self.engine.log.after(0, 1_000_000)
        return [e for e in page.events if kind is None or e.kind == kind]

    def calls(self, socket: str | None = None, op: str | None = None) -> list[CallEvent]:
        return [
            e
            for e in self.events("call")
            if isinstance(e, CallEvent)
            and (socket is None or e.socket == socket)
            and (op is None or e.op == op)
        ]

    def server(self, name: str = "srv", backlog: int = 5, **options: Any) -> int:
        """A bound, listening server socket; returns its port."""
        self.ok({"op": "socket", "name": name, "options": options})
        port: int = self.ok({"op": "bind", "socket": name, "address": ["127.0.0.1", 0]}).result[
            "address"
        ][1]
        self.ok({"op": "listen", "socket": name, "backlog": backlog})
        return port

    def close(self) -> None:
        self.engine.close("test over")


@pytest.fixture
def policy() -> LabPolicy:
    return LabPolicy()


@pytest.fixture
def lab(policy: LabPolicy) -> Iterator[LabDriver]:
    driver = LabDriver(policy)
    yield driver
    driver.close()
    assert driver.engine.closed.is_set()


@pytest.fixture
def make_lab(policy: LabPolicy) -> Iterator[Callable[[], LabDriver]]:
    """More labs, in one process as the server runs them; each is closed at the end."""
    made: list[LabDriver] = []

    def make() -> LabDriver:
        made.append(LabDriver(policy))
        return made[-1]

    yield make
    for driver in made:
        driver.close()
