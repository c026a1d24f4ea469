"""The calls the select() loop makes on its own when a socket is ready.

Loop calls pass ``MSG_DONTWAIT``: select() said the call will not block, and the
flag keeps that promise even for a socket left in blocking mode, so the lab
thread itself can never hang. The recorded line leaves the flag out, as the
program it models would.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import TYPE_CHECKING, Any

from sockscope.engine.calls import Outcome, address_text, perform
from sockscope.engine.payload import preview
from sockscope.engine.sockets import FD_SETSIZE, LabSocket, Outbox

if TYPE_CHECKING:
    from sockscope.engine.lab import LabEngine


def on_writable(lab: LabEngine, ls: LabSocket) -> None:
    if ls.role == "connecting":
        finish_connect(lab, ls)
    elif ls.relay is not None:
        from sockscope.engine import link

        link.on_writable(lab, ls.relay, ls)
    elif ls.outbox:
        send_some(lab, ls, via="loop")


def on_readable(lab: LabEngine, ls: LabSocket) -> None:
    if ls.role == "listening":
        if ls.auto_accept:
            auto_accept(lab, ls)
    elif ls.relay is not None:
        from sockscope.engine import link

        link.on_readable(lab, ls.relay, ls)
    elif ls.auto_recv != "off" and not ls.eof:
        auto_recv(lab, ls)
    # else: only watched. select() said a recv() would not block; the program did not call it.


def finish_connect(lab: LabEngine, ls: LabSocket) -> None:
    """A non-blocking connect() finished: SO_ERROR says how."""
    line = f"{ls.name}.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)"
    outcome = perform(lambda: ls.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    code = outcome.value if outcome.ok else -1
    text = f"{code} ({errno.errorcode.get(code, '?')})" if code else "0 (connected)"
    lab.record_call(ls, "getsockopt", line, outcome, via="loop", result=code, result_text=text)
    peer = perform(ls.sock.getpeername) if code == 0 else None
    if peer is not None and peer.ok:
        ls.role = "connected"
        ls.peer = peer.value
    else:  # refused, or SO_ERROR already read by hand and the socket never connected
        ls.role = "failed"
        if ls.relay is not None:  # a link that cannot reach its target hangs up on its client
            from sockscope.engine import link

            link.reset(lab, ls.relay, why=f"{ls.relay.name} could not reach its target: reset")
    lab.sync(ls)
    lab.probe_now(ls, *filter(None, [lab.local_peer(ls)]))


def send_some(lab: LabEngine, ls: LabSocket, *, via: str) -> None:
    """One send() of what the first outbox still holds."""
    from sockscope.engine.ops import record_send

    box = ls.outbox[0]
    start = box.sent
    view = memoryview(box.data)[start:]
    line = f"{ls.name}.send(view[{start}:])" if box.call_id else f"{ls.name}.send(echo[{start}:])"
    outcome = perform(lambda: ls.sock.send(view, socket.MSG_DONTWAIT))
    done = record_send(lab, ls, line, outcome, view, via=via)  # a view: no copy
    if done:
        box.sent += done
    if outcome.ok and box.remaining == 0:
        ls.outbox.pop(0)
        _finish_sendall(lab, ls, box, outcome)
    elif not outcome.ok and not isinstance(outcome.exc, BlockingIOError):
        ls.outbox.clear()  # EPIPE, ECONNRESET: nothing more will go through
        _finish_sendall(lab, ls, box, outcome)
    lab.sync(ls)


def _finish_sendall(lab: LabEngine, ls: LabSocket, box: Outbox, last: Outcome) -> None:
    if not box.call_id:
        return
    total = Outcome(None, last.exc, box.started_ns, time.monotonic_ns() - box.started_ns)
    lab.record_call(
        ls,
        "sendall",
        box.line,
        total,
        via="loop",
        call_id=box.call_id,
        asked=len(box.data),
        done=box.sent if last.ok else None,
    )


def auto_recv(lab: LabEngine, ls: LabSocket) -> None:
    line = f"data = {ls.name}.recv({ls.bufsize})"
    bufsize = ls.bufsize
    outcome = perform(lambda: ls.sock.recv(bufsize, socket.MSG_DONTWAIT))
    record_recv(lab, ls, line, outcome, bufsize, via="loop")
    if outcome.ok and outcome.value and ls.auto_recv == "echo":
        ls.outbox.append(Outbox(outcome.value))
    elif not outcome.ok and not isinstance(outcome.exc, BlockingIOError):
        ls.eof = True  # ECONNRESET and the like: stop reading a dead connection
    lab.sync(ls)


def record_recv(
    lab: LabEngine,
    ls: LabSocket,
    line: str,
    outcome: Outcome,
    bufsize: int,
    *,
    via: str,
    call_id: int | None = None,
) -> dict[str, Any] | None:
    from sockscope.engine.ops import bytes_info

    if not outcome.ok:
        lab.record_call(ls, "recv", line, outcome, via=via, call_id=call_id, asked=bufsize)
        return None
    data: bytes = outcome.value
    info = bytes_info(data, ls.received_total)
    if data:
        head, _ = preview(data)
        text = f"{head}{'...' if info.truncated else ''} ({len(data)} bytes)"
    else:
        text = "b'' (this side was shut down)" if ls.shut_rd else "b'' (peer closed)"
        ls.eof = True
    lab.record_call(
        ls,
        "recv",
        line,
        outcome,
        via=via,
        call_id=call_id,
        asked=bufsize,
        done=len(data),
        data=info,
        result=len(data),
        result_text=text,
    )
    ls.received_total += len(data)
    return {"len": len(data), "head": info.head, "eof": not data}


def auto_accept(lab: LabEngine, ls: LabSocket) -> None:
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
    lab: LabEngine,
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
        line = f"conn, addr = {ls.name}.accept()"
        lab.record_call(ls, "accept", line, outcome, via=via, call_id=call_id)
        return None, None
    conn, addr = outcome.value
    if name is None or name in lab.sockets:
        name = lab.free_name("conn")
    line = f"{name}, addr = {ls.name}.accept()"
    result = {"socket": name, "address": list(addr)}
    text = f"({name}, {address_text(addr)})"
    if conn.fileno() >= FD_SETSIZE:
        why = fd_limit_text(conn.fileno())
        conn.close()
        lab.record_call(
            ls, "accept", line, outcome, via=via, call_id=call_id, result=result, result_text=text
        )
        lab.emit_notice(ls.name, why)
        return None, why
    new = LabSocket(
        name,
        conn,
        origin="accept",
        listener=ls.name,
        role="connected",
        local=conn.getsockname(),
        peer=addr,
        auto_recv=ls.auto_recv,
        bufsize=ls.bufsize,
        network=ls.network,
    )
    lab.record_call(
        ls, "accept", line, outcome, via=via, call_id=call_id, result=result, result_text=text
    )
    lab.add_socket(new)
    if ls.relay is not None:
        from sockscope.engine import link

        link.attach(lab, ls.relay, new)
    lab.probe_now(ls, new, *filter(None, [lab.local_peer(new)]))
    return result, None
