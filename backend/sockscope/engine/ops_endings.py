"""Commands that end things: shutdown, close, abort; and closing without a command."""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

from sockscope.engine.calls import perform
from sockscope.engine.commands import SHUT_HOWS, Command
from sockscope.engine.ops import (
    answer,
    simple_call,
)
from sockscope.engine.ops_data import close_file, close_without_waiting
from sockscope.engine.sockets import LabSocket
from sockscope.engine.tickets import Ticket

if TYPE_CHECKING:
    from sockscope.engine.lab import LabEngine


def op_shutdown(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    assert cmd.how is not None
    how = SHUT_HOWS[cmd.how]
    line = f"{ls.name}.shutdown(socket.{cmd.how})"
    if simple_call(lab, ls, ticket, "shutdown", line, lambda: ls.sock.shutdown(how)).ok:
        ls.shut_rd = ls.shut_rd or how in (socket.SHUT_RD, socket.SHUT_RDWR)
    peer = lab.local_peer(ls)
    if peer is not None:
        lab.probe_now(peer)


def _wake_blocked(lab: LabEngine, ls: LabSocket) -> None:
    blocked = [b for b in (ls.blocked_in, ls.blocked_out) if b is not None]
    if not blocked:
        return
    names = " and ".join(f"{b.op}()" for b in blocked)
    lab.emit_notice(
        ls.name,
        f"{ls.name} has a thread blocked in {names}: close() alone would not wake it,"
        " so shutdown(SHUT_RDWR) runs first",
    )
    outcome = perform(lambda: ls.sock.shutdown(socket.SHUT_RDWR))
    lab.record_call(ls, "shutdown", f"{ls.name}.shutdown(socket.SHUT_RDWR)", outcome)
    ls.shut_rd = True


def _drop_link(lab: LabEngine, ls: LabSocket) -> None:
    """Closing a link's listener ends the link: its legs get a reset, its name is free."""
    link = ls.relay
    if link is None:
        return
    from sockscope.engine import link as links

    if link.listener is ls:
        links.reset(lab, link, why=f"{link.name} closed: its connections are reset")
        lab.links.pop(link.name, None)
    elif not link.dead:
        links.reset(lab, link, why=f"{ls.name} was closed by hand: the link resets both ends")


def op_close(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    _wake_blocked(lab, ls)
    _drop_link(lab, ls)
    peer = lab.local_peer(ls)
    close_file(lab, ls)
    outcome = perform(ls.sock.close)
    lab.record_call(ls, "close", f"{ls.name}.close()", outcome)
    ls.outbox.clear()
    lab.remove_socket(ls)
    ticket.resolve(answer(ticket, outcome.ok, None, outcome))
    if peer is not None:
        lab.probe_now(peer)


def op_abort(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    linger = struct.pack("ii", 1, 0)
    line = f"{ls.name}.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))"
    outcome = perform(lambda: ls.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger))
    lab.record_call(ls, "setsockopt", line, outcome)
    op_close(lab, ls, cmd, ticket)


def force_close(lab: LabEngine, ls: LabSocket) -> None:
    """Close without a command (the lab is closing): wake blocked threads first."""
    if ls.blocked_in is not None or ls.blocked_out is not None:
        ls.shut_rd = True
        try:
            ls.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    if ls.file is not None:
        try:
            close_without_waiting(ls, ls.file)
        except (OSError, ValueError):
            pass
        ls.file = None
    ls.sock.close()
    ls.outbox.clear()
    lab.remove_socket(ls)
