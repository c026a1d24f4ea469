"""What the select() loop watches, and the calls it makes on its own when a socket is ready.

Loop calls pass ``MSG_DONTWAIT``: select() said the call will not block, and the
flag keeps that promise even for a socket left in blocking mode, so the lab
thread itself can never hang. The recorded line leaves the flag out, as the
program it models would.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

from sockscope.engine import link
from sockscope.engine.calls import Outcome, perform
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline
from sockscope.engine.core.calltext import address_text
from sockscope.engine.core.errors import CommandError
from sockscope.engine.core.payload import PatternSpan, PatternStream
from sockscope.engine.probes import probe_now
from sockscope.engine.record import record_call, record_loop_recv, record_recv, record_send
from sockscope.engine.sockets import FD_SETSIZE, LabSocket, Outbox, host_port


def wants_read(ls: LabSocket) -> bool:
    """Whether the loop puts ``ls`` in select()'s readers."""
    if ls.blocked_in is not None:
        return False
    if ls.datagram:  # no connection to wait for: a bound UDP socket can receive
        reads = ls.auto_recv != "off" or ls.watch_read
        return ls.local is not None and reads and not ls.shut_rd
    if ls.relay is not None and ls.role != "listening":
        return ls.role == "connected" and link.wants_read(ls.relay, ls)
    if ls.role == "listening":
        return ls.auto_accept or ls.watch_read
    if ls.watch_read and ls.role == "connected":
        return True
    return ls.role == "connected" and ls.auto_recv != "off" and not ls.eof


def wants_write(ls: LabSocket, now_ns: int) -> bool:
    """Whether the loop puts ``ls`` in select()'s writers."""
    if ls.blocked_out is not None:
        return False
    if ls.relay is not None and ls.role != "listening":
        return link.wants_write(ls.relay, ls, now_ns)
    if ls.watch_write and ls.role == "connected":
        return True
    return (ls.role == "connecting") or (ls.role == "connected" and bool(ls.outbox))


def on_writable(lab: LabContext, ls: LabSocket) -> None:
    if ls.role == "connecting":
        finish_connect(lab, ls)
    elif ls.relay is not None:
        link.on_writable(lab, ls.relay, ls)
    elif ls.outbox:
        send_some(lab, ls, via="loop")


def on_readable(lab: LabContext, ls: LabSocket) -> None:
    if ls.role == "listening":
        if ls.auto_accept:
            auto_accept(lab, ls)
    elif ls.relay is not None:
        link.on_readable(lab, ls.relay, ls)
    elif ls.auto_recv != "off" and not ls.eof:
        auto_recv(lab, ls)
    # else: only watched. select() said a recv() would not block; the program did not call it.


def finish_connect(lab: LabContext, ls: LabSocket) -> None:
    """A non-blocking connect() finished: SO_ERROR says how."""
    line = pyline.getsockopt(ls.name, "SO_ERROR")
    outcome = perform(lambda: ls.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    code = outcome.value if outcome.ok else -1
    text = f"{code} ({errno.errorcode.get(code, '?')})" if code else "0 (connected)"
    record_call(lab, ls, "getsockopt", line, outcome, via="loop", result=code, result_text=text)
    peer = perform(ls.sock.getpeername) if code == 0 else None
    if peer is not None and peer.ok:
        ls.role = "connected"
        ls.peer = host_port(peer.value)
    else:  # refused, or SO_ERROR already read by hand and the socket never connected
        ls.role = "failed"
        if ls.relay is not None:  # a link that cannot reach its target hangs up on its client
            link.reset(lab, ls.relay, why=f"{ls.relay.name} could not reach its target: reset")
    lab.sync(ls)
    probe_now(lab, ls, *filter(None, [lab.local_peer(ls)]))


def send_some(lab: LabContext, ls: LabSocket, *, via: str) -> None:
    """One send() of what the first outbox still holds."""
    box = ls.outbox[0]
    start = box.sent
    line = (f"{ls.name}.send({'view' if box.call_id else 'echo'}[", start, ":])")
    stream = box.stream
    if stream is None:
        view = memoryview(box.data)[start:]
        outcome = perform(lambda: ls.sock.send(view, socket.MSG_DONTWAIT))
        done = record_send(lab, ls, line, outcome, view, via=via)  # a view: no copy
    else:
        outcome, done = _send_streamed(lab, ls, box, stream, line, via)
    if done:
        box.sent += done
    if outcome.ok and box.remaining == 0:
        ls.outbox.pop(0)
        _finish_sendall(lab, ls, box, outcome)
    elif not outcome.ok and not isinstance(outcome.exc, BlockingIOError):
        ls.outbox.clear()  # EPIPE, ECONNRESET: nothing more will go through
        _finish_sendall(lab, ls, box, outcome)
    lab.sync(ls)


def _send_streamed(
    lab: LabContext,
    ls: LabSocket,
    box: Outbox,
    stream: PatternStream,
    line: tuple[str, int, str],
    via: str,
) -> tuple[Outcome, int | None]:
    """The send() of a large pattern payload, made as it goes.

    The kernel is given, in one sendmsg(), the next sheets of the payload: twice the
    socket's send buffer (SO_SNDBUF) and a margin, not all of what is left. A non-blocking
    send() takes what fits in the buffer, and on loopback, with a reader draining it during
    the call, up to about twice that (kernel-facts: measured 1.4-1.9x). When the kernel
    takes less than it was offered, its answer is the one a send() of all that is left
    gets, and that is what is recorded: asked = all that is left, line ``view[n:]``. When
    it takes all it was offered, the record says what was really offered
    (``view[n:m]``) and the stream reaches further from then on.
    """
    start = box.sent
    left = box.remaining
    sndbuf = perform(lambda: ls.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    reach = 2 * sndbuf.value + stream.margin if sndbuf.ok else stream.margin
    views = stream.window(start, reach)
    offered = sum(len(view) for view in views)
    outcome = perform(lambda: ls.sock.sendmsg(views, (), socket.MSG_DONTWAIT))
    asked = left
    if outcome.ok and outcome.value == offered < left:  # all it was given: say so
        stream.reach_more()
        asked = offered
        line = (line[0], start, f":{start + offered}])")
    done = record_send(lab, ls, line, outcome, PatternSpan(stream.offset + start, asked), via=via)
    return outcome, done


def _finish_sendall(lab: LabContext, ls: LabSocket, box: Outbox, last: Outcome) -> None:
    if not box.call_id:
        return
    total = Outcome(None, last.exc, box.started_ns, time.monotonic_ns() - box.started_ns)
    record_call(
        lab,
        ls,
        "sendall",
        box.line,
        total,
        via="loop",
        call_id=box.call_id,
        asked=box.size,
        done=box.sent if last.ok else None,
    )


def plain_reader(ls: LabSocket) -> bool:
    """Whether the loop's recv() on ``ls`` is a flood's: a connected stream socket read and
    discarded, nothing between it and the kernel. The lab's turn makes such a recv() itself
    (LabEngine._turns: as :func:`auto_recv` does, with fewer steps), and hands what
    is not bytes read to :func:`recv_ended`."""
    return (
        ls.role == "connected"
        and ls.auto_recv == "discard"
        and ls.relay is None
        and not ls.datagram
        and not ls.eof
    )


def auto_recv(lab: LabContext, ls: LabSocket) -> None:
    if ls.datagram:
        auto_recvfrom(lab, ls)
        return
    # perform(), inlined: this runs once per recv() of a flood
    exc: Exception | None = None
    got: bytes | None = None
    started = time.monotonic_ns()
    try:
        got = ls.sock.recv(ls.bufsize, socket.MSG_DONTWAIT)
    except (OSError, ValueError, OverflowError) as error:
        exc = error
    recv_ended(lab, ls, got, exc, started, time.monotonic_ns() - started)


def recv_ended(
    lab: LabContext,
    ls: LabSocket,
    got: bytes | None,
    exc: Exception | None,
    started: int,
    duration: int,
) -> None:
    """Record the loop's recv() on a stream socket, and do what its answer asks."""
    eof = ls.eof
    record_loop_recv(lab, ls, got, exc, started, duration)
    if got and ls.auto_recv == "echo":
        ls.outbox.append(Outbox(got))
    elif exc is not None and not isinstance(exc, BlockingIOError):
        ls.eof = True  # ECONNRESET and the like: stop reading a dead connection
    elif ls.eof == eof:
        return  # bytes read (or EAGAIN): nothing the socket's description says has moved
    lab.sync(ls)


def auto_recvfrom(lab: LabContext, ls: LabSocket) -> None:
    """A datagram socket's loop: each recvfrom() one datagram; echo sends it back whole
    to where it came from (one sendto(), never part of it)."""
    bufsize = ls.bufsize
    line = pyline.recvfrom(ls.name, bufsize)
    outcome = perform(lambda: ls.sock.recvfrom(bufsize, socket.MSG_DONTWAIT))
    record_recv(lab, ls, line, outcome, bufsize, via="loop", op="recvfrom")
    if outcome.ok and ls.auto_recv == "echo":
        data, sender = outcome.value
        try:  # anyone can send a datagram: echo only to where a lab client may send
            lab.policy.check_reply(sender[0], sender[1])
        except CommandError as exc:
            lab.emit_notice(ls.name, f"{ls.name} did not echo a datagram: {exc.message}")
        else:
            back = perform(lambda: ls.sock.sendto(data, socket.MSG_DONTWAIT, sender))
            echo = pyline.sendto(ls.name, "data", host_port(sender))
            record_send(lab, ls, echo, back, data, via="loop", op="sendto")
    lab.sync(ls)


def auto_accept(lab: LabContext, ls: LabSocket) -> None:
    if len(lab.sockets) >= lab.policy.max_sockets:
        ls.auto_accept = False
        lab.emit_notice(
            ls.name,
            f"auto-accept stopped: the lab has {len(lab.sockets)} sockets, its limit;"
            " the connection waits in the accept queue",
        )
        lab.sync(ls)
        return
    name = lab.free_name(f"{ls.relay.name}_a") if ls.relay is not None else None
    record_accept(lab, ls, perform(ls.sock.accept), name, via="loop")


def fd_limit_text(fd: int) -> str:
    return (
        f"accept() gave the new connection file descriptor {fd}, and select() can only watch"
        f" descriptors below {FD_SETSIZE} (FD_SETSIZE): the lab closed it at once; too many"
        " sockets are open in the playground, close some"
    )


def record_accept(
    lab: LabContext,
    ls: LabSocket,
    outcome: Outcome,
    name: str | None,
    *,
    via: str,
    call_id: int | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Record an accept() and keep its connection: (result, None), or (None, why not).

    A failed call gives (None, None): its outcome has the errno.
    """
    if not outcome.ok:
        line = pyline.accept(ls.name, "conn")
        record_call(lab, ls, "accept", line, outcome, via=via, call_id=call_id)
        return None, None
    conn, addr = outcome.value
    if name is None or name in lab.sockets:
        name = lab.free_name("conn")
    line = pyline.accept(ls.name, name)
    result = {"socket": name, "address": list(host_port(addr))}
    text = f"({name}, {address_text(addr)})"
    if conn.fileno() >= FD_SETSIZE:
        why = fd_limit_text(conn.fileno())
        conn.close()
        record_call(
            lab,
            ls,
            "accept",
            line,
            outcome,
            via=via,
            call_id=call_id,
            result=result,
            result_text=text,
        )
        lab.emit_notice(ls.name, why)
        return None, why
    new = LabSocket(
        name,
        conn,
        origin="accept",
        listener=ls.name,
        role="connected",
        local=host_port(conn.getsockname()),
        peer=host_port(addr),
        auto_recv=ls.auto_recv,
        bufsize=ls.bufsize,
        network=ls.network,
    )
    record_call(
        lab, ls, "accept", line, outcome, via=via, call_id=call_id, result=result, result_text=text
    )
    lab.add_socket(new)
    if ls.relay is not None:
        link.attach(lab, ls.relay, new)
    probe_now(lab, ls, new, *filter(None, [lab.local_peer(new)]))
    return result, None
