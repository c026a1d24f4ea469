"""Commands that end things: shutdown, close, abort; and closing without a command."""

from __future__ import annotations

import socket
import struct

from sockscope.engine import link as relay
from sockscope.engine.calls import perform
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline
from sockscope.engine.core.commands import SHUT_HOWS, Abort, Close, Shutdown
from sockscope.engine.handlers.common import (
    answer,
    simple_call,
)
from sockscope.engine.handlers.data import close_file, close_without_waiting
from sockscope.engine.handlers.network import close_private
from sockscope.engine.probes import probe_now
from sockscope.engine.record import record_call
from sockscope.engine.sockets import LabSocket
from sockscope.engine.tickets import Ticket
from sockscope.events import LoopEvent


def op_shutdown(lab: LabContext, ls: LabSocket, cmd: Shutdown, ticket: Ticket) -> None:
    how = SHUT_HOWS[cmd.how]
    line = pyline.shutdown(ls.name, cmd.how)
    done = simple_call(lab, ls, ticket, "shutdown", line, lambda: ls.sock.shutdown(how)).ok
    # Linux shuts a UDP socket's reading down even when it answers ENOTCONN (not connected).
    if done or ls.datagram:
        ls.shut_rd = ls.shut_rd or how in (socket.SHUT_RD, socket.SHUT_RDWR)
    peer = lab.local_peer(ls)
    if peer is not None:
        probe_now(lab, peer)


def _wake_blocked(lab: LabContext, ls: LabSocket) -> None:
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
    record_call(lab, ls, "shutdown", pyline.shutdown(ls.name, "SHUT_RDWR"), outcome)
    ls.shut_rd = True


def _drop_link(lab: LabContext, ls: LabSocket) -> None:
    """Closing a link's listener ends the link: its legs get a reset, its name is free."""
    link = ls.relay
    if link is None:
        return
    if link.listener is ls:
        relay.reset(lab, link, why=f"{link.name} closed: its connections are reset")
        lab.links.pop(link.name, None)
    elif not link.dead:
        relay.reset(lab, link, why=f"{ls.name} was closed by hand: the link resets both ends")


def op_close(lab: LabContext, ls: LabSocket, cmd: Close | Abort, ticket: Ticket) -> None:
    _wake_blocked(lab, ls)
    _drop_link(lab, ls)
    peer = lab.local_peer(ls)
    close_file(lab, ls)
    outcome = perform(ls.sock.close)
    record_call(lab, ls, "close", pyline.close(ls.name), outcome)
    ls.outbox.clear()
    lab.remove_socket(ls)
    ticket.resolve(answer(ticket, outcome.ok, None, outcome))
    if peer is not None:
        probe_now(lab, peer)


def op_abort(lab: LabContext, ls: LabSocket, cmd: Abort, ticket: Ticket) -> None:
    linger = struct.pack("ii", 1, 0)
    line = pyline.linger_zero(ls.name)
    outcome = perform(lambda: ls.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger))
    record_call(lab, ls, "setsockopt", line, outcome)
    op_close(lab, ls, cmd, ticket)


def force_close(lab: LabContext, ls: LabSocket) -> None:
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


def close_all(lab: LabContext) -> None:
    """Close every socket of the lab without a command (reset, closing)."""
    for ls in list(lab.sockets.values()):
        force_close(lab, ls)


def clear_lab(lab: LabContext, reason: str) -> None:
    """Close every socket, link and the private network, and let the loop run: a clean lab
    (for a lesson to start in), said with ``reason``."""
    close_all(lab)
    lab.links.clear()
    close_private(lab)
    if lab.paused:
        lab.paused = False
        lab.emit(LoopEvent, state="running")
    lab.emit_notice(None, reason)
