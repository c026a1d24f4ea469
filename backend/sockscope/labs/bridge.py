"""The bridge from a lab's engine thread to asyncio.

Commands go in through :func:`run_command`, which waits (without blocking the
event loop) for the lab thread's answer. Events come out through a
:class:`Subscription`: the engine thread only flips a flag and, once per batch,
schedules a wakeup on the event loop, so it never waits for a viewer; a viewer
reads the shared bounded log from its own cursor, so a slow one costs nothing
but the log the lab keeps anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.errors import CommandError, LabClosed, RateLimited
from sockscope.engine.log import BoundedLog
from sockscope.engine.tickets import CommandResult, Ticket
from sockscope.events import Event
from sockscope.labs import stats
from sockscope.labs.registry import Lab


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    ok: bool
    result: Any
    error: dict[str, Any] | None
    events: list[Event]
    blocked: bool = False


BUSY_WAIT = 30.0  # how long an answer waits for a lab thread that has not reached its command
CLOSED_CHECK = 0.5  # while it waits, how often it looks whether the lab closed


class LabBusy(CommandError):
    status = 503


async def run_command(
    lab: Lab, raw: Any, wait: float, *, limited: bool = True, busy_wait: float | None = None
) -> Answer:
    """Check, run and answer one command; a call still blocked after ``wait`` s says so.

    Only a call that went to a worker thread can be answered "blocked". A command the
    lab thread has not reached (or finished) after ``wait`` s is waited for, up to
    ``busy_wait`` s in all (default BUSY_WAIT), and then refused with 503: it cannot
    block, the lab is busy.
    ``limited`` applies the lab's command rate (a lesson's own steps are not limited).
    """
    started = time.monotonic()
    try:
        answer = await _run(lab, raw, wait, limited, busy_wait)
    except CommandError as exc:
        stats.COMMANDS.observe(time.monotonic() - started, stats.outcome_of(exc.status, False))
        raise
    stats.COMMANDS.observe(
        time.monotonic() - started, stats.outcome_of(answer.status, answer.blocked)
    )
    return answer


async def _run(lab: Lab, raw: Any, wait: float, limited: bool, busy_wait: float | None) -> Answer:
    lab.touch()
    lab.last_command = lab.last_active
    op = raw.get("op") if isinstance(raw, dict) else None
    engine = lab.engine
    if limited and not lab.bucket.take(time.monotonic()):
        # Answered here, not logged: a runaway script must not fill the lab's log.
        raise RateLimited(
            None,
            f"too many commands: this lab takes {engine.policy.commands_per_second:g}"
            " per second; slow down",
        )
    try:
        command = parse_command(raw, engine.policy)
    except CommandError as exc:
        ticket = engine.reject(op if isinstance(op, str) else None, exc)
    else:
        ticket = engine.submit(command)
    result = await _settle(lab, ticket, op, wait, BUSY_WAIT if busy_wait is None else busy_wait)
    return _answer(ticket, result)


def _answer(ticket: Ticket, result: CommandResult | None) -> Answer:
    if result is None:
        # The call goes on; its end comes as an event (no cancel: the future is shared).
        return Answer(
            200,
            True,
            {"blocked": True, "call_id": ticket.blocked_call},
            None,
            list(ticket.events),
            blocked=True,
        )
    return Answer(result.status, result.ok, result.result, result.error, result.events)


async def run_together(lab: Lab, raws: list[Any], wait: float) -> list[Answer]:
    """Commands the lab thread runs back to back in one turn (a lesson's ``together``
    step); each is answered as :func:`run_command` answers. A malformed one raises
    CommandError before any runs."""
    lab.touch()
    lab.last_command = lab.last_active
    commands = [parse_command(raw, lab.engine.policy) for raw in raws]
    tickets = lab.engine.submit_together(commands)
    return [
        _answer(ticket, await _settle(lab, ticket, raw.get("op"), wait, BUSY_WAIT))
        for raw, ticket in zip(raws, tickets, strict=True)
    ]


async def _settle(
    lab: Lab, ticket: Ticket, op: Any, wait: float, busy_wait: float
) -> CommandResult | None:
    """The command's result; None when its call is blocked on a worker thread."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(wait, busy_wait)
    future = asyncio.wrap_future(ticket.future)
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(asyncio.shield(future), wait)
    if lab.engine.closed.is_set():
        raise LabClosed(None, "the lab closed")
    if ticket.blocked_call is not None:
        return None  # blocked on its worker thread for ``wait`` s
    # Not reached yet, or not finished: such a command is waited for, it cannot block.
    # Never cancelled: cancelling a wrapper would cancel the ticket's own future.
    handed_off = asyncio.wrap_future(ticket.handed_off)
    what = f"{op}() command" if isinstance(op, str) else "command"
    either: set[asyncio.Future[Any]] = {future, handed_off}
    while not future.done() and not handed_off.done():
        if lab.engine.closed.is_set():
            raise LabClosed(None, "the lab closed")
        left = deadline - loop.time()
        if left <= 0:
            raise LabBusy(
                None,
                f"the lab is busy: its thread has not got to this {what} in"
                f" {max(wait, busy_wait):g} s (the server is overloaded); the command is"
                " still queued and may yet run, so look at the lab, then try again",
            )
        await asyncio.wait(either, timeout=min(left, CLOSED_CHECK), return_when="FIRST_COMPLETED")
    if future.done():
        return future.result()
    # Handed to a worker only now: give the call its ``wait`` to return, as any call gets.
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(asyncio.shield(future), wait)
    if lab.engine.closed.is_set():
        raise LabClosed(None, "the lab closed")
    return None


class Subscription:
    """Wakes one asyncio viewer when its lab's log grows."""

    def __init__(self, log: BoundedLog[Any]) -> None:
        self._log = log
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._signalled = False
        log.add_listener(self._notify)

    def _notify(self) -> None:  # engine thread
        if not self._signalled:
            self._signalled = True
            with contextlib.suppress(RuntimeError):  # the event loop is closing
                self._loop.call_soon_threadsafe(self._ready.set)

    async def wait(self, timeout: float) -> bool:
        """True when the log grew since the last wait; False on timeout."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self._ready.clear()
            self._signalled = False
        return True

    def wake(self) -> None:
        """End a wait now (event loop thread): the viewer has gone, say."""
        self._ready.set()

    def close(self) -> None:
        self._log.remove_listener(self._notify)
