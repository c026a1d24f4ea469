"""What the command handlers share: finding a socket, answering, checks, one call.

Each handler performs the real call (or hands it to a worker thread when the
socket is blocking and the call may block), records it as the Python line it
amounts to, and applies what it changed to the lab's picture of the socket.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from sockscope.engine.calls import Outcome, perform
from sockscope.engine.context import LabContext
from sockscope.engine.core.calltext import errno_name, error_text
from sockscope.engine.core.commands import Send, SendAll, SendTo, Write
from sockscope.engine.core.errors import Conflict, UnknownSocket
from sockscope.engine.core.payload import literal, pattern
from sockscope.engine.probes import probe_now
from sockscope.engine.record import record_call
from sockscope.engine.sockets import FD_SETSIZE, LabSocket
from sockscope.engine.tickets import CommandResult, Ticket
from sockscope.engine.workers import run_blocking


def find(lab: LabContext, name: str | None) -> LabSocket:
    ls = lab.sockets.get(name or "")
    if ls is None:
        known = ", ".join(lab.sockets) or "none yet"
        raise UnknownSocket("socket", f"socket: no socket named {name!r} in this lab ({known})")
    return ls


def answer(ticket: Ticket, event_ok: bool, result: Any, outcome: Outcome) -> CommandResult:
    if event_ok:
        return CommandResult(True, result, None, ticket.events)
    error = {"errno": errno_name(outcome.exc), "message": error_text(outcome.exc)}
    return CommandResult(False, None, error, ticket.events)


def simple_call(
    lab: LabContext,
    ls: LabSocket,
    ticket: Ticket,
    op: str,
    line: str,
    fn: Callable[[], Any],
    *,
    result: Callable[[Any], Any] = lambda value: value,
    result_text: Callable[[Any], str] | None = None,
) -> Outcome:
    """Perform a call that never blocks, record it and answer the ticket."""
    outcome = perform(fn)
    value = result(outcome.value) if outcome.ok else None
    text = result_text(outcome.value) if outcome.ok and result_text else None
    record_call(lab, ls, op, line, outcome, result=value, result_text=text)
    ticket.resolve(answer(ticket, outcome.ok, value, outcome))
    lab.sync(ls)
    probe_now(lab, ls)
    return outcome


# -- creating and naming -----------------------------------------------------------------


def check_fd(lab: LabContext, sock: socket.socket) -> None:
    if sock.fileno() >= FD_SETSIZE:
        fd = sock.fileno()
        sock.close()
        raise Conflict(
            None,
            f"the new socket got file descriptor {fd}, and select() can only watch"
            f" descriptors below {FD_SETSIZE} (FD_SETSIZE): too many sockets are open"
            " in the playground; close some",
        )


def check_room(lab: LabContext, field: str) -> None:
    if len(lab.sockets) >= lab.policy.max_sockets:
        raise Conflict(field, f"this lab already has {len(lab.sockets)} sockets, its limit")


# -- data ------------------------------------------------------------------------------------


def busy(ls: LabSocket, side: str) -> None:
    blocked = ls.blocked_in if side == "in" else ls.blocked_out
    if blocked is not None:
        raise Conflict(
            "socket",
            f"{ls.name} already has a call blocked in {blocked.op}() on this side;"
            " wait for it, or shutdown() the socket to wake it",
        )
    if side == "out" and ls.outbox and any(box.call_id for box in ls.outbox):
        raise Conflict(
            "socket",
            f"{ls.name} is still sending a sendall() ({ls.pending_out} bytes left);"
            " a second writer would interleave its bytes",
        )


def call(
    lab: LabContext,
    ls: LabSocket,
    ticket: Ticket,
    side: str,
    op: str,
    line: str,
    fn: Callable[[], Any],
    finish: Callable[[Outcome, int], CommandResult],
) -> None:
    """Run ``fn`` here if the socket is non-blocking, else on a worker thread."""
    if ls.blocking:
        run_blocking(lab, ticket, ls, side, op, line, fn, finish)
        return
    ticket.resolve(finish(perform(fn), lab.new_call_id()))
    lab.sync(ls)
    probe_now(lab, ls, *filter(None, [lab.local_peer(ls)]))


def payload_size(cmd: Send | SendAll | SendTo | Write) -> tuple[int, str]:
    """How many bytes a command sends, and how its line writes them (nothing made yet)."""
    if cmd.payload.literal is not None:
        return len(cmd.payload.literal), literal(cmd.payload.literal)
    return cmd.payload.size, f"pattern({cmd.payload.size})"


def payload_bytes(ls: LabSocket, cmd: Send | SendAll | SendTo | Write) -> tuple[bytes, str]:
    """The bytes a command sends (a pattern from where the socket's stream stands), and how
    its line writes them."""
    size, text = payload_size(cmd)
    typed = cmd.payload.literal
    return (typed if typed is not None else pattern(ls.sent_total, size)), text
