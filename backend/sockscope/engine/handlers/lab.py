"""Commands about the lab rather than one socket: the loop (pause, resume, step) and links."""

from __future__ import annotations

import socket

from sockscope.engine import link
from sockscope.engine.calls import perform
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline
from sockscope.engine.core.commands import Fault, NewLink, Pause, Resume, Step
from sockscope.engine.core.errors import CommandError, Conflict, InvalidCommand, UnknownSocket
from sockscope.engine.handlers.common import (
    answer,
    check_fd,
)
from sockscope.engine.handlers.sockets import first_free_port
from sockscope.engine.record import record_call
from sockscope.engine.sockets import LabSocket, Link
from sockscope.engine.tickets import Ticket
from sockscope.events import LoopEvent


def op_loop(lab: LabContext, cmd: Pause | Resume | Step, ticket: Ticket) -> None:
    if cmd.op == "pause":
        lab.paused = True
        lab.emit(LoopEvent, state="paused")
    elif cmd.op == "resume":
        lab.paused = False
        lab.emit(LoopEvent, state="running")
    else:
        if not lab.paused:
            raise Conflict("op", "step: the loop is running; pause it first")
        lab.emit(LoopEvent, state="step")
        lab.add_step(ticket)  # answered once that select() and its calls have run
        return
    ticket.succeed({"paused": lab.paused})


def op_link(lab: LabContext, cmd: NewLink, ticket: Ticket) -> None:
    """A relay that listens on a lab port and forwards to ``target``, faults on demand."""
    host, port = cmd.address
    target = cmd.target
    lab.policy.check_bind(host, port)
    try:
        lab.policy.check_connect(*target)
    except CommandError as exc:
        raise type(exc)("target", exc.message.replace("address:", "target:")) from None
    for field, (where, _) in (("address", cmd.address), ("target", target)):
        if ":" in where:
            raise InvalidCommand(field, f"{field}: a link relays IPv4 only; give an IPv4 address")
    if cmd.name in lab.sockets or cmd.name in lab.links:
        raise Conflict("name", f"name: {cmd.name!r} is taken in this lab")
    if len(lab.sockets) + 3 > lab.policy.max_sockets:
        raise Conflict("name", "a link needs 3 sockets and this lab is near its limit")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    check_fd(lab, sock)
    sock.setblocking(False)
    listener = LabSocket(cmd.name, sock, auto_accept=True)
    if port == 0:
        port = first_free_port(lab, sock, host)
    where = pyline.new_link(cmd.name, (host, port), target)

    def bind_and_listen() -> None:
        sock.bind((host, port))
        sock.listen(1)

    outcome = perform(bind_and_listen)
    record_call(lab, listener, "link", where, outcome,
                    result={"address": [host, port]},
                    result_text=f"listening on {host}:{port}")  # fmt: skip
    if not outcome.ok:
        sock.close()
        ticket.resolve(answer(ticket, False, None, outcome))
        return
    listener.role, listener.local = "listening", sock.getsockname()
    new = Link(name=cmd.name, target=(target[0], target[1]), listener=listener)
    listener.relay = new
    lab.links[cmd.name] = new
    lab.add_socket(listener)
    link.announce(lab, new, force=True)
    ticket.succeed({"link": cmd.name, "address": list(listener.local)})


def op_fault(lab: LabContext, cmd: Fault, ticket: Ticket) -> None:
    name = cmd.link
    found = lab.links.get(name)
    if found is None:
        known = ", ".join(lab.links) or "none yet"
        raise UnknownSocket("link", f"link: no link named {name!r} ({known})")
    faults = cmd.faults()
    direction = faults.pop("direction")
    flows = [found.up, found.down] if direction == "both" else [getattr(found, direction)]
    if faults.pop("reset", False):
        link.reset(lab, found, why=f"{name}: reset requested: both ends get a RST")
    for flow in flows:
        for key, value in faults.items():
            if key == "stall":
                flow.faults.stalled = value
            elif key == "close":
                flow.faults.closing = flow.faults.closing or value
            else:
                setattr(flow.faults, key, value)
    settings = ", ".join(f"{k}={v}" for k, v in faults.items())
    if settings:  # a reset has said its piece already
        lab.emit_notice(name, f"{name} {direction}: {settings}")
    link.announce(lab, found, force=True)
    ticket.succeed(found.public())
