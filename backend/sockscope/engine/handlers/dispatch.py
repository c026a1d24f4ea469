"""The dispatch table: which handler runs each op."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sockscope.engine.context import LabContext
from sockscope.engine.core.commands import Command, OnSocket
from sockscope.engine.core.errors import CommandError
from sockscope.engine.handlers import data, endings, network, sockets
from sockscope.engine.handlers import lab as lab_ops
from sockscope.engine.handlers.common import find
from sockscope.engine.sockets import LabSocket
from sockscope.engine.tickets import Ticket
from sockscope.events import CommandErrorEvent

log = logging.getLogger(__name__)

HISTORY_MAX = 5000  # commands kept for an exported script

# Each handler takes its own command type (the op's key in the table says which).
LabOp = Callable[[LabContext, Any, Ticket], None]
SocketOp = Callable[[LabContext, LabSocket, Any, Ticket], None]

LAB_WIDE: dict[str, LabOp] = {
    "socket": sockets.op_socket,
    "pause": lab_ops.op_loop,
    "resume": lab_ops.op_loop,
    "step": lab_ops.op_loop,
    "link": lab_ops.op_link,
    "fault": lab_ops.op_fault,
    "cable": network.op_cable,
}
PER_SOCKET: dict[str, SocketOp] = {
    "bind": sockets.op_bind,
    "listen": sockets.op_listen,
    "connect": sockets.op_connect,
    "setblocking": sockets.op_setblocking,
    "settimeout": sockets.op_settimeout,
    "setsockopt": sockets.op_setsockopt,
    "getsockopt": sockets.op_getsockopt,
    "auto": sockets.op_auto,
    "watch": sockets.op_watch,
    "send": data.op_send,
    "sendall": data.op_sendall,
    "recv": data.op_recv,
    "sendto": data.op_sendto,
    "recvfrom": data.op_recvfrom,
    "dup": sockets.op_dup,
    "accept": data.op_accept,
    "makefile": data.op_makefile,
    "write": data.op_write,
    "flush": data.op_flush,
    "shutdown": endings.op_shutdown,
    "close": endings.op_close,
    "abort": endings.op_abort,
}


def execute(lab: LabContext, cmd: Command, ticket: Ticket) -> None:
    """Run one command on the lab thread: its handler performs, records and answers it."""
    if isinstance(cmd, OnSocket):
        PER_SOCKET[cmd.op](lab, find(lab, cmd.socket), cmd, ticket)
    else:
        LAB_WIDE[cmd.op](lab, cmd, ticket)


def run(lab: LabContext, ticket: Ticket) -> None:
    """Run a submitted command: kept for the exported script unless it is refused."""
    assert ticket.command is not None
    command = ticket.command
    kept = ticket.keep()
    lab.history.append(kept)
    if len(lab.history) > HISTORY_MAX:
        del lab.history[: len(lab.history) - HISTORY_MAX]
        lab.history_truncated = True
    lab.ticket = ticket
    try:
        execute(lab, command, ticket)
    except CommandError as exc:
        refuse(lab, ticket, command.op, exc)
        lab.history.remove(kept)  # refused: nothing to replay
        ticket.in_history = False
    except Exception:
        log.exception("lab %s: command %s failed", lab.id, command.op, extra={"lab": lab.id[:8]})
        refuse(
            lab,
            ticket,
            command.op,
            CommandError(None, "internal error running this command (logged on the server)"),
            status=500,
        )
    finally:
        lab.ticket = None


def refuse(
    lab: LabContext, ticket: Ticket, op: str | None, exc: CommandError, status: int | None = None
) -> None:
    """Record a refusal (every viewer sees it) and answer the ticket with it."""
    lab.emit(CommandErrorEvent, op=op, field=exc.field, message=exc.message)
    ticket.fail({"errno": None, "field": exc.field, "message": exc.message}, status or exc.status)
