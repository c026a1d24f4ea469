"""Commands that make, name, place and tune a socket: socket, bind, listen, connect, options."""

from __future__ import annotations

import errno
import socket
import threading
from contextlib import AbstractContextManager
from typing import Any

from sockscope.engine.calls import Outcome, perform
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline
from sockscope.engine.core.commands import (
    FAMILIES,
    READ_ONLY_SOCKOPTS,
    SOCKOPTS,
    TYPES,
    Auto,
    Bind,
    Connect,
    Dup,
    GetSockOpt,
    Listen,
    NewSocket,
    SetBlocking,
    SetSockOpt,
    SetTimeout,
    Watch,
)
from sockscope.engine.core.errors import Conflict
from sockscope.engine.handlers.common import (
    answer,
    busy,
    call,
    check_fd,
    check_room,
    simple_call,
)
from sockscope.engine.handlers.network import new_socket
from sockscope.engine.probes import probe_now
from sockscope.engine.record import record_call
from sockscope.engine.sockets import LabSocket, host_port
from sockscope.engine.tickets import CommandResult, Ticket


def op_socket(lab: LabContext, cmd: NewSocket, ticket: Ticket) -> None:
    if cmd.name in lab.sockets:
        raise Conflict("name", f"name: a socket named {cmd.name!r} already exists")
    check_room(lab, "name")
    opts = cmd.options
    family, kind = FAMILIES[opts.family], TYPES[opts.type]
    outcome = perform(lambda: new_socket(lab, opts.network, "options.network", family, kind))
    if not outcome.ok:  # a Conflict (no private network here) is not caught: it says why
        raise Conflict(None, f"socket() failed: {outcome.exc}")
    sock: socket.socket = outcome.value
    check_fd(lab, sock)
    ls = LabSocket(
        cmd.name,
        sock,
        auto_accept=opts.auto_accept,
        auto_recv=opts.auto_recv,
        bufsize=opts.bufsize,
        network=opts.network,
    )
    line = pyline.new_socket(ls.name, ls.network, opts.family, opts.type)
    record_call(
        lab,
        ls,
        "socket",
        line,
        outcome,
        result={"socket": ls.name, "fd": ls.fd},
        result_text=f"<socket fd={ls.fd}>",
    )
    lab.add_socket(ls)
    failed: Outcome | None = None
    for option, value in opts.sockopts():
        result = _setsockopt(lab, ls, option, value)
        failed = failed or (None if result.ok else result)
    if not opts.blocking:
        record_call(
            lab,
            ls,
            "setblocking",
            pyline.setblocking(ls.name, False),
            perform(lambda: sock.setblocking(False)),
        )
    lab.add_socket(ls)
    probe_now(lab, ls)
    if failed is not None:
        ticket.resolve(answer(ticket, False, None, failed))
    else:
        ticket.succeed({"socket": ls.name, "fd": ls.fd})


def op_dup(lab: LabContext, ls: LabSocket, cmd: Dup, ticket: Ticket) -> None:
    """A second socket object for the same kernel socket: closing one leaves the other."""
    new = cmd.name or lab.free_name(f"{ls.name}_dup")
    if new in lab.sockets:
        raise Conflict("name", f"name: a socket named {new!r} already exists")
    if ls.role not in ("connected", "listening"):
        raise Conflict(
            "socket",
            f"{ls.name} is {ls.role}: the lab follows a dup() of a connected or listening"
            " socket only (connect, or listen, first)",
        )
    if ls.relay is not None:
        raise Conflict("socket", f"{ls.name} belongs to the link {ls.relay.name}: not its to copy")
    check_room(lab, "name")
    line = pyline.dup(ls.name, new)
    outcome = perform(ls.sock.dup)
    if not outcome.ok:
        record_call(lab, ls, "dup", line, outcome)
        ticket.resolve(answer(ticket, False, None, outcome))
        return
    sock: socket.socket = outcome.value
    check_fd(lab, sock)
    copy = LabSocket(
        new,
        sock,
        origin="dup",
        listener=ls.listener,
        role=ls.role,
        local=ls.local,
        peer=ls.peer,
        bufsize=ls.bufsize,
        network=ls.network,
        dup_of=ls.name,
        kernel=ls.kernel,
        shared=True,
        eof=ls.eof,
        shut_rd=ls.shut_rd,
        sent_total=ls.sent_total,  # one stream: the copy's pattern goes on from here
        received_total=ls.received_total,
    )
    record_call(lab, ls, "dup", line, outcome, result={"socket": new, "fd": copy.fd},
                result_text=f"<socket fd={copy.fd}>")  # fmt: skip
    ls.shared = True
    lab.add_socket(copy)
    probe_now(lab, copy)
    ticket.succeed({"socket": new, "fd": copy.fd})


def _setsockopt(lab: LabContext, ls: LabSocket, option: str, value: int) -> Outcome:
    _, level, opt = SOCKOPTS[option]
    outcome = perform(lambda: ls.sock.setsockopt(level, opt, value))
    line = pyline.setsockopt(ls.name, option, value)
    record_call(lab, ls, "setsockopt", line, outcome)
    return outcome


# Port 0 is the lab's: the first free port of its range, found with a throwaway socket and
# then bound. Labs are threads of one process; without this lock two labs binding port 0 at
# the same moment (a room-wide step) found the same port, and one got EADDRINUSE.
class _PortZero:
    lock: AbstractContextManager[object] = threading.Lock()


PORT_ZERO = _PortZero()


def share_port_zero(lock: AbstractContextManager[object]) -> None:
    """Take port 0 under ``lock`` instead: one that other processes binding in the same
    range hold too (a lab host's file lock, labs/host.py)."""
    PORT_ZERO.lock = lock


def op_bind(lab: LabContext, ls: LabSocket, cmd: Bind, ticket: Ticket) -> None:
    host, port = cmd.address
    lab.policy.check_bind(host, port)

    def bound(_: Any) -> Any:
        ls.role = "bound"
        ls.local = host_port(ls.sock.getsockname())
        return {"address": list(ls.local)}

    def bind(port: int) -> None:
        line = pyline.bind(ls.name, (host, port), asked_port=cmd.address[1], policy=lab.policy)
        simple_call(lab, ls, ticket, "bind", line, lambda: ls.sock.bind((host, port)), result=bound)

    if port != 0:
        bind(port)
    elif ls.network != "host":  # a private network's ports are its lab's alone
        bind(first_free_port(lab, ls.sock, host, ls.network))
    else:
        with PORT_ZERO.lock:
            bind(first_free_port(lab, ls.sock, host, ls.network))


def first_free_port(lab: LabContext, sock: socket.socket, host: str, network: str = "host") -> int:
    """A port of the lab range that ``host`` can bind now (probed with a throwaway socket
    in the same network as ``sock``)."""
    reuse = sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    for port in range(lab.policy.port_min, lab.policy.port_max + 1):
        try:
            trial = new_socket(lab, network, "address", sock.family, sock.type)
        except OSError as exc:
            raise Conflict(
                "address", f"address: no socket to look for a free port: {exc}"
            ) from None
        with trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, reuse)
            if sock.family == socket.AF_INET6:  # a dual-stack socket needs the IPv4 port too
                only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
                trial.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, only)
            try:
                trial.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue
                return port  # let the real bind() report this error
        # (the trial closed: a dual-stack trial held the IPv4 side itself)
        if sock.family == socket.AF_INET6 and not _ipv4_free(sock.type, port, reuse):
            continue  # IPv4 clients of this port would reach whoever holds its IPv4 side
        return port
    raise Conflict("address", "address: every port of the lab range is in use")


def _ipv4_free(kind: int, port: int, reuse: int) -> bool:
    """Whether no IPv4 socket holds ``port``: an IPv6 socket of the lab takes a port free in
    both families, so that an IPv4 client of it (refused under IPV6_V6ONLY, or a plain IPv4
    server on the same port) never meets another lab's socket."""
    with socket.socket(socket.AF_INET, kind) as trial:
        trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, reuse)
        try:
            trial.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def op_listen(lab: LabContext, ls: LabSocket, cmd: Listen, ticket: Ticket) -> None:
    if ls.local is None:
        raise Conflict(
            "socket",
            f"{ls.name} is not bound: bind() it to a lab address first (listen() on an"
            " unbound socket would pick a random port outside the lab range)",
        )
    backlog = cmd.backlog

    def listening(_: Any) -> None:
        ls.role = "listening"

    fn = ls.sock.listen if backlog is None else (lambda: ls.sock.listen(backlog))
    line = pyline.listen(ls.name, backlog)
    simple_call(lab, ls, ticket, "listen", line, fn, result=listening)


def op_connect(lab: LabContext, ls: LabSocket, cmd: Connect, ticket: Ticket) -> None:
    host, port = cmd.address
    lab.policy.check_connect(host, port)
    line = pyline.connect(ls.name, (host, port))
    busy(ls, "out")

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        exc = outcome.exc
        if exc is None:
            ls.role = "connected"
            ls.peer = host_port(ls.sock.getpeername())
        elif getattr(exc, "errno", None) == errno.EINPROGRESS:
            ls.role = "connecting"
            ls.target = (host, port)
        else:
            ls.role = "failed"
        try:
            ls.local = host_port(ls.sock.getsockname())
        except OSError:
            pass
        record_call(
            lab,
            ls,
            "connect",
            line,
            outcome,
            call_id=call_id,
            result={"local": list(ls.local or ())},
        )
        return answer(ticket, outcome.ok, {"local": list(ls.local or ())}, outcome)

    call(lab, ls, ticket, "out", "connect", line, lambda: ls.sock.connect((host, port)), finish)


def op_setblocking(lab: LabContext, ls: LabSocket, cmd: SetBlocking, ticket: Ticket) -> None:
    flag = cmd.flag
    simple_call(
        lab,
        ls,
        ticket,
        "setblocking",
        pyline.setblocking(ls.name, flag),
        lambda: ls.sock.setblocking(flag),
    )
    sync_references(lab, ls)


def op_settimeout(lab: LabContext, ls: LabSocket, cmd: SetTimeout, ticket: Ticket) -> None:
    timeout = cmd.timeout
    simple_call(
        lab,
        ls,
        ticket,
        "settimeout",
        pyline.settimeout(ls.name, timeout),
        lambda: ls.sock.settimeout(timeout),
    )
    sync_references(lab, ls)


def sync_references(lab: LabContext, ls: LabSocket) -> None:
    """A dup()'s descriptors share O_NONBLOCK: the other references to the kernel socket
    may have changed whether they block, and their viewers are told now."""
    for other in list(lab.sockets.values()):
        if other is not ls and other.kernel is ls.kernel:
            lab.sync(other)


def op_setsockopt(lab: LabContext, ls: LabSocket, cmd: SetSockOpt, ticket: Ticket) -> None:
    outcome = _setsockopt(lab, ls, cmd.option, cmd.value)
    ticket.resolve(answer(ticket, outcome.ok, None, outcome))
    lab.sync(ls)
    probe_now(lab, ls)


def op_getsockopt(lab: LabContext, ls: LabSocket, cmd: GetSockOpt, ticket: Ticket) -> None:
    _, level, opt = (SOCKOPTS | READ_ONLY_SOCKOPTS)[cmd.option]
    line = pyline.getsockopt(ls.name, cmd.option)

    def text(value: int) -> str:
        if cmd.option == "SO_ERROR" and value:
            return f"{value} ({errno.errorcode.get(value, '?')})"
        return str(value)

    simple_call(
        lab,
        ls,
        ticket,
        "getsockopt",
        line,
        lambda: ls.sock.getsockopt(level, opt),
        result_text=text,
    )


def op_auto(lab: LabContext, ls: LabSocket, cmd: Auto, ticket: Ticket) -> None:
    if cmd.accept is not None:
        ls.auto_accept = cmd.accept
    if cmd.recv is not None:
        ls.auto_recv = cmd.recv
    if cmd.bufsize is not None:
        ls.bufsize = cmd.bufsize
    lab.sync(ls)
    ticket.succeed(
        {"auto_accept": ls.auto_accept, "auto_recv": ls.auto_recv, "bufsize": ls.bufsize}
    )


def op_watch(lab: LabContext, ls: LabSocket, cmd: Watch, ticket: Ticket) -> None:
    """Keep a socket in select()'s readers or writers, whatever the program has to do."""
    for key, value in cmd.lists().items():
        setattr(ls, f"watch_{key}", value)
    lists = [n for n, on in (("readers", ls.watch_read), ("writers", ls.watch_write)) if on]
    when = "" if ls.role in ("connected", "listening") else " once it is connected"
    kept = " and ".join(lists) or "lists only when it needs to be"
    lab.emit_notice(ls.name, f"{ls.name} is now kept in select()'s {kept}{when}")
    lab.sync(ls)
    ticket.succeed({"read": ls.watch_read, "write": ls.watch_write})
