"""The commands: one function per socket method, run on the lab thread.

Each performs the real call (or hands it to a worker thread when the socket is
blocking and the call may block), records it as the Python line it amounts to,
and applies what it changed to the lab's picture of the socket.
"""

from __future__ import annotations

import errno
import io
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sockscope.engine.calls import Outcome, address_text, perform
from sockscope.engine.commands import READ_ONLY_SOCKOPTS, SHUT_HOWS, SOCKOPTS, Command
from sockscope.engine.errors import CommandError, Conflict, TooLarge, UnknownSocket
from sockscope.engine.payload import FULL_BYTES, literal, pattern, preview
from sockscope.engine.sockets import FD_SETSIZE, LabSocket, Outbox
from sockscope.engine.tickets import CommandResult, Ticket
from sockscope.events import BytesInfo, LoopEvent

if TYPE_CHECKING:
    from sockscope.engine.lab import LabEngine


def execute(lab: LabEngine, cmd: Command, ticket: Ticket) -> None:
    if cmd.op == "socket":
        op_socket(lab, cmd, ticket)
    elif cmd.op in ("pause", "resume", "step"):
        op_loop(lab, cmd, ticket)
    elif cmd.op == "link":
        op_link(lab, cmd, ticket)
    elif cmd.op == "fault":
        op_fault(lab, cmd, ticket)
    else:
        _HANDLERS[cmd.op](lab, find(lab, cmd.socket), cmd, ticket)


def find(lab: LabEngine, name: str | None) -> LabSocket:
    ls = lab.sockets.get(name or "")
    if ls is None:
        known = ", ".join(lab.sockets) or "none yet"
        raise UnknownSocket("socket", f"socket: no socket named {name!r} in this lab ({known})")
    return ls


def _answer(ticket: Ticket, event_ok: bool, result: Any, outcome: Outcome) -> CommandResult:
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
    ticket.resolve(_answer(ticket, outcome.ok, value, outcome))
    lab.sync(ls)
    lab.probe_now(ls)
    return outcome


# -- creating and naming -----------------------------------------------------------------


def _check_fd(lab: LabEngine, sock: socket.socket) -> None:
    if sock.fileno() >= FD_SETSIZE:
        fd = sock.fileno()
        sock.close()
        raise Conflict(
            None,
            f"the new socket got file descriptor {fd}, and select() can only watch"
            f" descriptors below {FD_SETSIZE} (FD_SETSIZE): too many sockets are open"
            " in the playground; close some",
        )


def _check_room(lab: LabEngine, field: str) -> None:
    if len(lab.sockets) >= lab.policy.max_sockets:
        raise Conflict(field, f"this lab already has {len(lab.sockets)} sockets, its limit")


def op_socket(lab: LabEngine, cmd: Command, ticket: Ticket) -> None:
    assert cmd.name is not None and cmd.options is not None
    if cmd.name in lab.sockets:
        raise Conflict("name", f"name: a socket named {cmd.name!r} already exists")
    _check_room(lab, "name")
    outcome = perform(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    if not outcome.ok:
        raise Conflict(None, f"socket() failed: {outcome.exc}")
    sock: socket.socket = outcome.value
    _check_fd(lab, sock)
    opts = cmd.options
    ls = LabSocket(
        cmd.name, sock, auto_accept=opts.auto_accept, auto_recv=opts.auto_recv, bufsize=opts.bufsize
    )
    line = f"{ls.name} = socket.socket(socket.AF_INET, socket.SOCK_STREAM)"
    lab.record_call(
        ls,
        "socket",
        line,
        outcome,
        result={"socket": ls.name, "fd": ls.fd},
        result_text=f"<socket fd={ls.fd}>",
    )
    lab.add_socket(ls)
    failed: Outcome | None = None
    for option, value in (
        ("SO_REUSEADDR", opts.reuseaddr),
        ("SO_SNDBUF", opts.sndbuf),
        ("SO_RCVBUF", opts.rcvbuf),
        ("TCP_NODELAY", opts.nodelay),
    ):
        if value is not None:
            result = _setsockopt(lab, ls, option, int(value))
            failed = failed or (None if result.ok else result)
    if not opts.blocking:
        lab.record_call(
            ls,
            "setblocking",
            f"{ls.name}.setblocking(False)",
            perform(lambda: sock.setblocking(False)),
        )
    lab.add_socket(ls)
    lab.probe_now(ls)
    if failed is not None:
        ticket.resolve(_answer(ticket, False, None, failed))
    else:
        ticket.succeed({"socket": ls.name, "fd": ls.fd})


def _setsockopt(lab: LabEngine, ls: LabSocket, option: str, value: int) -> Outcome:
    level_name, level, opt = SOCKOPTS[option]
    outcome = perform(lambda: ls.sock.setsockopt(level, opt, value))
    line = f"{ls.name}.setsockopt(socket.{level_name}, socket.{option}, {value})"
    lab.record_call(ls, "setsockopt", line, outcome)
    return outcome


# -- addresses -----------------------------------------------------------------------------


def op_bind(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    assert cmd.address is not None
    host, port = cmd.address
    lab.policy.check_bind(host, port)
    if port == 0:
        port = _first_free_port(lab, ls.sock, host)
    line = f"{ls.name}.bind({address_text((host, port))})"
    if cmd.address[1] == 0:
        line += f"  # port 0: the first free port of the lab range {lab.policy.port_min}-"
        line += f"{lab.policy.port_max}"

    def bound(_: Any) -> Any:
        ls.role = "bound"
        ls.local = ls.sock.getsockname()
        return {"address": list(ls.local)}

    simple_call(lab, ls, ticket, "bind", line, lambda: ls.sock.bind((host, port)), result=bound)


def _first_free_port(lab: LabEngine, sock: socket.socket, host: str) -> int:
    """A port of the lab range that ``host`` can bind now (probed with a throwaway socket)."""
    reuse = sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    for port in range(lab.policy.port_min, lab.policy.port_max + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, reuse)
            try:
                trial.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue
                return port  # let the real bind() report this error
            return port
    raise Conflict("address", "address: every port of the lab range is in use")


def op_listen(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
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
    line = f"{ls.name}.listen({'' if backlog is None else backlog})"
    simple_call(lab, ls, ticket, "listen", line, fn, result=listening)


def op_connect(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    assert cmd.address is not None
    host, port = cmd.address
    lab.policy.check_connect(host, port)
    line = f"{ls.name}.connect({address_text((host, port))})"
    _busy(ls, "out")

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        exc = outcome.exc
        if exc is None:
            ls.role = "connected"
            ls.peer = ls.sock.getpeername()
        elif getattr(exc, "errno", None) == errno.EINPROGRESS:
            ls.role = "connecting"
        else:
            ls.role = "failed"
        try:
            ls.local = ls.sock.getsockname()
        except OSError:
            pass
        lab.record_call(
            ls, "connect", line, outcome, call_id=call_id, result={"local": list(ls.local or ())}
        )
        return _answer(ticket, outcome.ok, {"local": list(ls.local or ())}, outcome)

    _call(lab, ls, ticket, "out", "connect", line, lambda: ls.sock.connect((host, port)), finish)


# -- data ------------------------------------------------------------------------------------


def _busy(ls: LabSocket, side: str) -> None:
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


def _call(
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


def _payload_bytes(ls: LabSocket, cmd: Command) -> tuple[bytes, str]:
    assert cmd.payload is not None
    if cmd.payload.literal is not None:
        return cmd.payload.literal, literal(cmd.payload.literal)
    size = cmd.payload.size
    return pattern(ls.sent_total, size), f"pattern({size})"


def bytes_info(data: bytes | memoryview, offset: int) -> BytesInfo:
    head, truncated = preview(data)
    full = bytes(data).hex() if len(data) <= FULL_BYTES else None
    return BytesInfo(len=len(data), offset=offset, head=head, truncated=truncated, hex=full)


def op_send(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    _busy(ls, "out")
    data, text = _payload_bytes(ls, cmd)
    line = f"{ls.name}.send({text})"

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        done = outcome.value if outcome.ok else None
        info = bytes_info(data[:done], ls.sent_total) if done is not None else None
        lab.record_call(
            ls,
            "send",
            line,
            outcome,
            call_id=call_id,
            asked=len(data),
            done=done,
            data=info,
            result=done,
            result_text=str(done),
        )
        if done:
            ls.sent_total += done
        return _answer(ticket, outcome.ok, done, outcome)

    _call(lab, ls, ticket, "out", "send", line, lambda: ls.sock.send(data), finish)


def op_sendall(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    _busy(ls, "out")
    data, text = _payload_bytes(ls, cmd)
    line = f"{ls.name}.sendall({text})"
    if lab.in_flight() + len(data) > lab.policy.max_in_flight:
        raise TooLarge(
            "size",
            f"this lab already has {lab.in_flight()} bytes waiting to be sent; another"
            f" {len(data)} would pass its limit of {lab.policy.max_in_flight}",
        )
    if ls.blocking:

        def finish(outcome: Outcome, call_id: int) -> CommandResult:
            done = len(data) if outcome.ok else None
            info = bytes_info(data, ls.sent_total) if outcome.ok else None
            lab.record_call(
                ls, "sendall", line, outcome, call_id=call_id, asked=len(data), done=done, data=info
            )
            if done:
                ls.sent_total += done
            return _answer(ticket, outcome.ok, None, outcome)

        lab.run_blocking(ticket, ls, "out", "sendall", line, lambda: ls.sock.sendall(data), finish)
        return
    # Non-blocking: the loop sends what the kernel takes, one send() per writable turn.
    from sockscope.engine import loopcalls

    box = Outbox(data, call_id=lab.new_call_id(), line=line, started_ns=time.monotonic_ns())
    ls.outbox.append(box)
    lab.sync(ls)
    loopcalls.send_some(lab, ls, via="command")
    ticket.succeed({"queued": len(data), "sent": box.sent, "pending": ls.pending_out})


def op_recv(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    assert cmd.bufsize is not None
    _busy(ls, "in")
    bufsize = cmd.bufsize
    line = f"{ls.name}.recv({bufsize})"

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        from sockscope.engine.loopcalls import record_recv

        result = record_recv(lab, ls, line, outcome, bufsize, via="command", call_id=call_id)
        return _answer(ticket, outcome.ok, result, outcome)

    _call(lab, ls, ticket, "in", "recv", line, lambda: ls.sock.recv(bufsize), finish)


def op_accept(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    _busy(ls, "in")
    _check_room(lab, "socket")
    if cmd.name is not None and cmd.name in lab.sockets:
        raise Conflict("name", f"name: a socket named {cmd.name!r} already exists")
    line = f"{cmd.name or lab.free_name('conn')}, addr = {ls.name}.accept()"

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        from sockscope.engine.loopcalls import record_accept

        result = record_accept(lab, ls, outcome, cmd.name, via="command", call_id=call_id)
        return _answer(ticket, outcome.ok and result is not None, result, outcome)

    _call(lab, ls, ticket, "in", "accept", line, ls.sock.accept, finish)


# -- a buffered file on the socket (the HOWTO's makefile() and flush()) -----------------------


def op_makefile(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    if ls.file is not None:
        raise Conflict("socket", f"{ls.name} already has a file: f_{ls.name}")

    def made(file: Any) -> str:
        ls.file = file
        return f"f_{ls.name}"

    def described(_: Any) -> str:
        return f"<BufferedWriter: {io.DEFAULT_BUFFER_SIZE} bytes of buffer in Python>"

    line = f"f_{ls.name} = {ls.name}.makefile('wb')"
    simple_call(lab, ls, ticket, "makefile", line, lambda: ls.sock.makefile("wb"), result=made,
                result_text=described)  # fmt: skip


def _file(ls: LabSocket) -> Any:
    if ls.file is None:
        raise Conflict("socket", f"{ls.name} has no file: run makefile() on it first")
    return ls.file


def op_write(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    file = _file(ls)
    _busy(ls, "out")
    data, text = _payload_bytes(ls, cmd)
    line = f"f_{ls.name}.write({text})"

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        lab.record_call(ls, "write", line, outcome, call_id=call_id, asked=len(data),
                        result=outcome.value, result_text=str(outcome.value))  # fmt: skip
        if outcome.ok:
            ls.sent_total += len(data)  # in the stream once flushed: the pattern goes on from here
        return _answer(ticket, outcome.ok, outcome.value, outcome)

    _call(lab, ls, ticket, "out", "write", line, lambda: file.write(data), finish)


def op_flush(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    file = _file(ls)
    _busy(ls, "out")
    line = f"f_{ls.name}.flush()"

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        lab.record_call(ls, "flush", line, outcome, call_id=call_id)
        return _answer(ticket, outcome.ok, None, outcome)

    _call(lab, ls, ticket, "out", "flush", line, file.flush, finish)


def _close_file(lab: LabEngine, ls: LabSocket) -> None:
    if ls.file is not None:
        file, ls.file = ls.file, None
        line = f"f_{ls.name}.close()  # flushes what it still holds"
        lab.record_call(ls, "close", line, perform(lambda: _close_without_waiting(ls, file)))


def _close_without_waiting(ls: LabSocket, file: Any) -> None:
    """file.close() flushes; on a full blocking socket that would hang the lab thread.

    The flush is tried without blocking: what does not fit is lost, as the error says.
    """
    ls.sock.setblocking(False)
    file.close()


# -- endings ---------------------------------------------------------------------------------


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
    _close_file(lab, ls)
    outcome = perform(ls.sock.close)
    lab.record_call(ls, "close", f"{ls.name}.close()", outcome)
    ls.outbox.clear()
    lab.remove_socket(ls)
    ticket.resolve(_answer(ticket, outcome.ok, None, outcome))
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
            _close_without_waiting(ls, ls.file)
        except (OSError, ValueError):
            pass
        ls.file = None
    ls.sock.close()
    ls.outbox.clear()
    lab.remove_socket(ls)


# -- options ---------------------------------------------------------------------------------


def op_setblocking(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    flag = bool(cmd.flag)
    simple_call(
        lab,
        ls,
        ticket,
        "setblocking",
        f"{ls.name}.setblocking({flag})",
        lambda: ls.sock.setblocking(flag),
    )


def op_settimeout(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    timeout = cmd.timeout
    simple_call(
        lab,
        ls,
        ticket,
        "settimeout",
        f"{ls.name}.settimeout({timeout})",
        lambda: ls.sock.settimeout(timeout),
    )


def op_setsockopt(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    assert cmd.option is not None and cmd.value is not None
    outcome = _setsockopt(lab, ls, cmd.option, cmd.value)
    ticket.resolve(_answer(ticket, outcome.ok, None, outcome))
    lab.sync(ls)
    lab.probe_now(ls)


def op_getsockopt(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    assert cmd.option is not None
    level_name, level, opt = (SOCKOPTS | READ_ONLY_SOCKOPTS)[cmd.option]
    line = f"{ls.name}.getsockopt(socket.{level_name}, socket.{cmd.option})"

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


def op_auto(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    if cmd.auto_accept is not None:
        ls.auto_accept = cmd.auto_accept
    if cmd.auto_recv is not None:
        ls.auto_recv = cmd.auto_recv
    if cmd.bufsize is not None:
        ls.bufsize = cmd.bufsize
    lab.sync(ls)
    ticket.succeed(
        {"auto_accept": ls.auto_accept, "auto_recv": ls.auto_recv, "bufsize": ls.bufsize}
    )


def op_watch(lab: LabEngine, ls: LabSocket, cmd: Command, ticket: Ticket) -> None:
    """Keep a socket in select()'s readers or writers, whatever the program has to do."""
    assert cmd.faults is not None
    for key, value in cmd.faults.items():
        setattr(ls, f"watch_{key}", value)
    lists = [n for n, on in (("readers", ls.watch_read), ("writers", ls.watch_write)) if on]
    when = "" if ls.role in ("connected", "listening") else " once it is connected"
    kept = " and ".join(lists) or "lists only when it needs to be"
    lab.emit_notice(ls.name, f"{ls.name} is now kept in select()'s {kept}{when}")
    lab.sync(ls)
    ticket.succeed({"read": ls.watch_read, "write": ls.watch_write})


def op_loop(lab: LabEngine, cmd: Command, ticket: Ticket) -> None:
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


def op_link(lab: LabEngine, cmd: Command, ticket: Ticket) -> None:
    """A relay that listens on a lab port and forwards to ``target``, faults on demand."""
    from sockscope.engine import link

    assert cmd.name is not None and cmd.address is not None and cmd.faults is not None
    host, port = cmd.address
    target = cmd.faults["target"]
    lab.policy.check_bind(host, port)
    try:
        lab.policy.check_connect(*target)
    except CommandError as exc:
        raise type(exc)("target", exc.message.replace("address:", "target:")) from None
    if cmd.name in lab.sockets or cmd.name in lab.links:
        raise Conflict("name", f"name: {cmd.name!r} is taken in this lab")
    if len(lab.sockets) + 3 > lab.policy.max_sockets:
        raise Conflict("name", "a link needs 3 sockets and this lab is near its limit")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    _check_fd(lab, sock)
    sock.setblocking(False)
    listener = LabSocket(cmd.name, sock, auto_accept=True)
    if port == 0:
        port = _first_free_port(lab, sock, host)
    where = f"{cmd.name} = Link(listen=({host!r}, {port}), target={address_text(tuple(target))})"

    def bind_and_listen() -> None:
        sock.bind((host, port))
        sock.listen(1)

    outcome = perform(bind_and_listen)
    lab.record_call(listener, "link", where + "  # a relay in this lab's select() loop", outcome,
                    result={"address": [host, port]},
                    result_text=f"listening on {host}:{port}")  # fmt: skip
    if not outcome.ok:
        sock.close()
        ticket.resolve(_answer(ticket, False, None, outcome))
        return
    listener.role, listener.local = "listening", sock.getsockname()
    new = link.Link(name=cmd.name, target=(target[0], target[1]), listener=listener)
    listener.relay = new
    lab.links[cmd.name] = new
    lab.add_socket(listener)
    link.announce(lab, new, force=True)
    ticket.succeed({"link": cmd.name, "address": list(listener.local)})


def op_fault(lab: LabEngine, cmd: Command, ticket: Ticket) -> None:
    from sockscope.engine import link

    assert cmd.name is not None and cmd.faults is not None
    found = lab.links.get(cmd.name)
    if found is None:
        known = ", ".join(lab.links) or "none yet"
        raise UnknownSocket("link", f"link: no link named {cmd.name!r} ({known})")
    faults = dict(cmd.faults)
    direction = faults.pop("direction")
    flows = [found.up, found.down] if direction == "both" else [getattr(found, direction)]
    if faults.pop("reset", False):
        link.reset(lab, found, why=f"{cmd.name}: reset requested: both ends get a RST")
    for flow in flows:
        for key, value in faults.items():
            if key == "stall":
                flow.faults.stalled = value
            elif key == "close":
                flow.faults.closing = flow.faults.closing or value
            else:
                setattr(flow.faults, key, value)
    settings = ", ".join(f"{k}={v}" for k, v in faults.items())
    lab.emit_notice(cmd.name, f"{cmd.name} {direction}: {settings or 'reset'}")
    link.announce(lab, found, force=True)
    ticket.succeed(found.public())


_HANDLERS: dict[str, Callable[[LabEngine, LabSocket, Command, Ticket], None]] = {
    "bind": op_bind,
    "listen": op_listen,
    "connect": op_connect,
    "send": op_send,
    "sendall": op_sendall,
    "recv": op_recv,
    "accept": op_accept,
    "shutdown": op_shutdown,
    "close": op_close,
    "abort": op_abort,
    "setblocking": op_setblocking,
    "settimeout": op_settimeout,
    "setsockopt": op_setsockopt,
    "getsockopt": op_getsockopt,
    "auto": op_auto,
    "makefile": op_makefile,
    "write": op_write,
    "flush": op_flush,
    "watch": op_watch,
}
