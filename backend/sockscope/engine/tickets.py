"""A command in flight: its result future and the events it produced so far."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sockscope.engine.commands import Command
from sockscope.events import Event


@dataclass(slots=True)
class CommandResult:
    ok: bool
    result: Any
    error: dict[str, Any] | None
    events: list[Event]
    status: int = 200


@dataclass(slots=True, eq=False)
class Ticket:
    command: Command | None
    future: Future[CommandResult] = field(default_factory=Future)
    # Appended by the engine thread only; a reader in another thread copies it
    # (list.append and list() are atomic under the GIL).
    events: list[Event] = field(default_factory=list)
    blocked_call: int | None = None  # call id, once the call went to a worker thread

    def resolve(self, result: CommandResult) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def succeed(self, result: Any = None) -> None:
        self.resolve(CommandResult(True, result, None, self.events))

    def fail(self, error: dict[str, Any], status: int = 200) -> None:
        self.resolve(CommandResult(False, None, error, self.events, status))
