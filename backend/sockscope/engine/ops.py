"""The commands: one function per socket method, run on the lab thread.

Each performs the real call (or hands it to a worker thread when the socket is
blocking and the call may block), records it as the Python line it amounts to,
and applies what it changed to the lab's picture of the socket.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sockscope.engine.calls import Outcome, perform
from sockscope.engine.commands import Command
from sockscope.engine.errors import Conflict, UnknownSocket
from sockscope.engine.payload import FULL_BYTES, literal, pattern, preview
from sockscope.engine.sockets import FD_SETSIZE, LabSocket
from sockscope.engine.tickets import CommandResult, Ticket
from sockscope.events import BytesInfo

if TYPE_CHECKING:
    from sockscope.engine.lab import LabEngine


def execute(lab: LabEngine, cmd: Command, ticket: Ticket) -> None:
    """Run one command: the handler modules below import this one, so they load late."""
    from sockscope.engine import ops_data, ops_endings, ops_lab, ops_network, ops_sockets

    lab_wide: dict[str, Callable[[LabEngine, Command, Ticket], None]] = {
        "socket": ops_sockets.op_socket,
        "pause": ops_lab.op_loop,
        "resume": ops_lab.op_loop,
        "step": ops_lab.op_loop,
        "link": ops_lab.op_link,
        "fault": ops_lab.op_fault,
        "cable": ops_network.op_cable,
    }
    if cmd.op in lab_wide:
        lab_wide[cmd.op](lab, cmd, ticket)
        return
    per_socket: dict[str, Callable[[LabEngine, LabSocket, Command, Ticket], None]] = {
        "bind": ops_sockets.op_bind,
        "listen": ops_sockets.op_listen,
        "connect": ops_sockets.op_connect,
        "setblocking": ops_sockets.op_setblocking,
        "settimeout": ops_sockets.op_settimeout,
        "setsockopt": ops_sockets.op_setsockopt,
        "getsockopt": ops_sockets.op_getsockopt,
        "auto": ops_sockets.op_auto,
        "watch": ops_sockets.op_watch,
        "send": ops_data.op_send,
        "sendall": ops_data.op_sendall,
        "recv": ops_data.op_recv,
        "accept": ops_data.op_accept,
        "makefile": ops_data.op_makefile,
        "write": ops_data.op_write,
        "flush": ops_data.op_flush,
        "shutdown": ops_endings.op_shutdown,
        "close": ops_endings.op_close,
        "abort": ops_endings.op_abort,
    }
    per_socket[cmd.op](lab, find(lab, cmd.socket), cmd, ticket)


def find(lab: LabEngine, name: str | None) -> LabSocket:
    ls = lab.sockets.get(name or "")
    if ls is None:
        known = ", ".join(lab.sockets) or "none yet"
        raise UnknownSocket("socket", f"socket: no socket named {name!r} in this lab ({known})")
    return ls


def answer(ticket: Ticket, event_ok: bool, result: Any, outcome: Outcome) -> CommandResult:
    from sockscope.engine.calls import errno_name, error_text

    if event_ok:
        return CommandResult(True, result, None, ticket.events)
    error = {"errno": errno_name(outcome.exc), "message": error_text(outcome.exc)}
    return CommandResult(False, None, error, ticket.events)


def simple_call(
    lab: LabEngine,
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
    lab.record_call(ls, op, line, outcome, result=value, result_text=text)
    ticket.resolve(answer(ticket, outcome.ok, value, outcome))
    lab.sync(ls)
    lab.probe_now(ls)
    return outcome


# -- creating and naming -----------------------------------------------------------------


def check_fd(lab: LabEngine, sock: socket.socket) -> None:
    if sock.fileno() >= FD_SETSIZE:
        fd = sock.fileno()
        sock.close()
        raise Conflict(
            None,
            f"the new socket got file descriptor {fd}, and select() can only watch"
            f" descriptors below {FD_SETSIZE} (FD_SETSIZE): too many sockets are open"
            " in the playground; close some",
        )


def check_room(lab: LabEngine, field: str) -> None:
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
    lab: LabEngine,
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
        lab.run_blocking(ticket, ls, side, op, line, fn, finish)
        return
    ticket.resolve(finish(perform(fn), lab.new_call_id()))
    lab.sync(ls)
    lab.probe_now(ls, *filter(None, [lab.local_peer(ls)]))


def payload_bytes(ls: LabSocket, cmd: Command) -> tuple[bytes, str]:
    assert cmd.payload is not None
    if cmd.payload.literal is not None:
        return cmd.payload.literal, literal(cmd.payload.literal)
    size = cmd.payload.size
    return pattern(ls.sent_total, size), f"pattern({size})"


def bytes_info(data: bytes | memoryview, offset: int) -> BytesInfo:
    head, truncated = preview(data)
    full = bytes(data).hex() if len(data) <= FULL_BYTES else None
    return BytesInfo(len=len(data), offset=offset, head=head, truncated=truncated, hex=full)


def record_send(
    lab: LabEngine,
    ls: LabSocket,
    line: str,
    outcome: Outcome,
    offered: bytes | memoryview,
    *,
    via: str = "command",
    call_id: int | None = None,
) -> int | None:
    """Record one send() of ``offered`` and move the socket's stream offset by what it took."""
    done: int | None = outcome.value if outcome.ok else None
    info = bytes_info(offered[:done], ls.sent_total) if done is not None else None
    lab.record_call(ls, "send", line, outcome, via=via, call_id=call_id, asked=len(offered),
                    done=done, data=info, result=done, result_text=str(done))  # fmt: skip
    if done:
        ls.sent_total += done
    return done
