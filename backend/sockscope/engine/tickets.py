"""A command in flight: its result future and the events it produced so far."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field, replace
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
    result: CommandResult | None = None

    def resolve(self, result: CommandResult) -> None:
        """Decide the answer; it is published once the command's last event is recorded."""
        if self.result is None:
            self.result = result

    def publish(self) -> None:
        """Hand the answer to the waiting thread, with every event the command produced."""
        if self.result is not None and not self.future.done():
            self.future.set_result(replace(self.result, events=list(self.events)))

    def succeed(self, result: Any = None) -> None:
        self.resolve(CommandResult(True, result, None, self.events))

    def fail(self, error: dict[str, Any], status: int = 200) -> None:
        self.resolve(CommandResult(False, None, error, self.events, status))
