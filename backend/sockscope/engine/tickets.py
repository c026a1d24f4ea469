"""A command in flight: its result future and the events it produced so far."""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from typing import Any

from sockscope.engine.core.commands import Command
from sockscope.events import CallEvent, CallStartedEvent, Event

log = logging.getLogger(__name__)

CALLS = (CallEvent, CallStartedEvent)
# The answer to a command the lab never finished because it closed (status 410).
CLOSED_ANSWER: dict[str, Any] = {"errno": None, "field": None, "message": "the lab closed"}
UNEXPLAINED = "internal error: the lab answered that the command failed without saying why"


@dataclass(slots=True)
class CommandResult:
    ok: bool
    result: Any
    error: dict[str, Any] | None
    events: list[Event]
    status: int = 200

    def __post_init__(self) -> None:
        # A failure that does not say what happened is a bug: it must not reach anyone
        # as such. Say so instead, and log where it was made.
        if self.ok or (self.error is not None and self.error.get("message")):
            return
        log.error("an answer with ok false and no error message: %r", self.error, stack_info=True)
        error = dict(self.error or {"errno": None})
        error["message"] = f"{UNEXPLAINED} (logged on the server)"
        self.error = error
        if self.status < 400:
            self.status = 500


@dataclass(slots=True, eq=False)
class Kept:
    """What a lab's history keeps of a command it ran: the command and its events (the
    ticket's own list, so it grows while the call runs), for the exported script. Once the
    answer is published the ticket itself (two futures, each with a lock and a condition:
    some 25 objects the garbage collector walks) is let go, and of the events only the
    calls are kept (what the script replays and prints; its socket and probe events are in
    the log): a lab keeps up to 5,000 of these, and a room a few hundred labs."""

    command: Command
    events: list[Event]
    ticket: Ticket | None  # while the command is in flight (a blocked call's, say)


@dataclass(slots=True, eq=False)
class Ticket:
    command: Command | None
    future: Future[CommandResult] = field(default_factory=Future)
    # Appended by the engine thread only; a reader in another thread copies it
    # (list.append and list() are atomic under the GIL).
    events: list[Event] = field(default_factory=list)
    blocked_call: int | None = None  # call id, once the call went to a worker thread
    # Resolves with that call id when it does: a waiter learns the call may block.
    handed_off: Future[int] = field(default_factory=Future)
    result: CommandResult | None = None
    kept: Kept | None = None  # its entry in the lab's history, while in flight
    in_history: bool = False  # kept when it ran, and not taken out again (refused)

    def keep(self) -> Kept:
        """The history's entry for this command (a command is kept when it runs)."""
        assert self.command is not None
        self.kept, self.in_history = Kept(self.command, self.events, self), True
        return self.kept

    def hand_off(self, call_id: int) -> None:
        """The call went to a worker thread: it may block (engine thread)."""
        self.blocked_call = call_id
        with contextlib.suppress(InvalidStateError):
            self.handed_off.set_result(call_id)

    def resolve(self, result: CommandResult) -> None:
        """Decide the answer; it is published once the command's last event is recorded."""
        if self.result is None:
            self.result = result

    def publish(self) -> None:
        """Hand the answer to the waiting thread, with every event the command produced."""
        if self.result is not None and not self.future.done():
            if self.kept is not None:  # the history keeps its command and its calls only
                self.kept.events = [e for e in self.events if isinstance(e, CALLS)]
                self.kept.ticket, self.kept = None, None
            self.future.set_result(replace(self.result, events=list(self.events)))

    def succeed(self, result: Any = None) -> None:
        self.resolve(CommandResult(True, result, None, self.events))

    def fail(self, error: dict[str, Any], status: int = 200) -> None:
        self.resolve(CommandResult(False, None, error, self.events, status))
