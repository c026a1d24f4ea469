"""Who may be stuck: flags computed from a lab's state when the instructor asks, not per event.

Reading is safe from the event loop: a lab's command history and event log only grow, and a
copy of their tail is atomic under the GIL (the engine's own viewers read them the same way).
A grid of 300 labs costs 300 reads of a few hundred events each, once per refresh.
"""

from __future__ import annotations

import time
from typing import Literal

from sockscope.events import CallEvent, CallStartedEvent, CommandErrorEvent, Event, SelectEvent
from sockscope.labs.registry import Lab

Flag = Literal["blocked", "repeating", "busy_loop", "idle", "help"]

BLOCKED_AFTER = 10.0  # seconds a call may stay blocked before the lab is flagged
REPEATS = 3  # the same failure this many commands in a row
BUSY_WINDOW = 1.0  # seconds of the log looked at for a busy loop
BUSY_SELECTS = 50  # select() turns recorded within the window, with no byte moved
IDLE_AFTER = 300.0  # seconds without a command
TAIL = 400  # events of the log read for the busy loop and the repeats


def flags_of(lab: Lab | None, help_requested: bool, now: float | None = None) -> list[Flag]:
    """The flags of one participant's lab, in a fixed order."""
    found: list[Flag] = []
    if lab is not None:
        now = time.monotonic() if now is None else now
        if blocked_for(lab) > BLOCKED_AFTER:
            found.append("blocked")
        if repeating(lab):
            found.append("repeating")
        if busy_loop(lab):
            found.append("busy_loop")
        if now - lab.last_command > IDLE_AFTER:
            found.append("idle")
    if help_requested:
        found.append("help")
    return found


def blocked_for(lab: Lab) -> float:
    """Seconds the oldest call still blocked in a worker thread has been blocked (0: none)."""
    engine = lab.engine
    oldest: int | None = None
    for kept in list(engine.history[-32:]):
        ticket = kept.ticket  # None once answered
        if ticket is None or ticket.blocked_call is None or ticket.future.done():
            continue
        started = [e.t_ns for e in list(ticket.events) if isinstance(e, CallStartedEvent)]
        if started and (oldest is None or started[0] < oldest):
            oldest = started[0]
    return 0.0 if oldest is None else (engine.now_ns() - oldest) / 1e9


def repeating(lab: Lab) -> bool:
    """The participant's last REPEATS commands failed the same way (one errno, or one refusal),
    read from the log: a refused command is not kept in the lab's history."""
    last: list[str | None] = []
    for event in reversed(_tail(lab)):
        if isinstance(event, CommandErrorEvent):
            last.append(f"{event.op}: {event.message}")
        elif isinstance(event, CallEvent) and event.via != "loop":
            last.append(event.errno)
        if len(last) == REPEATS:
            return len(set(last)) == 1 and last[0] is not None
    return False


def _tail(lab: Lab) -> list[Event]:
    log = lab.engine.log
    return log.after(max(0, log.last_seq - TAIL), TAIL).events


def busy_loop(lab: Lab) -> bool:
    """select() returned over and over within the last second and no call moved a byte:
    a socket kept in the writers with nothing to send (HOWTO claim 21)."""
    horizon = lab.engine.now_ns() - int(BUSY_WINDOW * 1e9)
    turns = 0
    for event in _tail(lab):
        if event.t_ns < horizon:
            continue
        if isinstance(event, SelectEvent):
            turns += 1
        elif isinstance(event, CallEvent) and event.done:
            return False
    return turns >= BUSY_SELECTS
