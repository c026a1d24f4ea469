"""Commands that move bytes: send, sendall, recv, accept, and a buffered file (makefile)."""

from __future__ import annotations

import io
import time
from typing import Any

from sockscope.engine import loopcalls
from sockscope.engine.calls import Outcome, perform
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline
from sockscope.engine.core.commands import (
    Accept,
    Flush,
    MakeFile,
    Recv,
    RecvFrom,
    Send,
    SendAll,
    SendTo,
    Write,
)
from sockscope.engine.core.errors import Conflict, TooLarge
from sockscope.engine.core.payload import STREAM_ABOVE, PatternSpan, PatternStream, pattern
from sockscope.engine.handlers.common import (
    answer,
    busy,
    call,
    check_room,
    payload_bytes,
    payload_size,
    simple_call,
)
from sockscope.engine.record import bytes_info, record_call, record_recv, record_send
from sockscope.engine.sockets import LabSocket, Outbox, host_port
from sockscope.engine.tickets import CommandResult, Ticket
from sockscope.engine.workers import run_blocking


def op_send(lab: LabContext, ls: LabSocket, cmd: Send, ticket: Ticket) -> None:
    busy(ls, "out")
    data, text = payload_bytes(ls, cmd)
    line = pyline.send(ls.name, text)

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        done = record_send(lab, ls, line, outcome, data, call_id=call_id)
        return answer(ticket, outcome.ok, done, outcome)

    call(lab, ls, ticket, "out", "send", line, lambda: ls.sock.send(data), finish)


def op_sendto(lab: LabContext, ls: LabSocket, cmd: SendTo, ticket: Ticket) -> None:
    host, port = cmd.address
    lab.policy.check_connect(host, port)
    busy(ls, "out")
    data, text = payload_bytes(ls, cmd)
    line = pyline.sendto(ls.name, text, (host, port))

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        done = record_send(lab, ls, line, outcome, data, call_id=call_id, op="sendto")
        if outcome.ok and ls.local is None:  # the kernel bound it to a port of its own
            ls.local = host_port(ls.sock.getsockname())
            ls.role = "bound" if ls.role == "new" else ls.role
            lab.sync(ls)
        return answer(ticket, outcome.ok, done, outcome)

    call(lab, ls, ticket, "out", "sendto", line, lambda: ls.sock.sendto(data, (host, port)), finish)


def op_sendall(lab: LabContext, ls: LabSocket, cmd: SendAll, ticket: Ticket) -> None:
    busy(ls, "out")
    size, text = payload_size(cmd)
    line = pyline.sendall(ls.name, text)
    if lab.in_flight() + size > lab.policy.max_in_flight:
        raise TooLarge(
            "size",
            f"this lab already has {lab.in_flight()} bytes waiting to be sent; another"
            f" {size} would pass its limit of {lab.policy.max_in_flight}",
        )
    streamed = cmd.payload.literal is None and size > STREAM_ABOVE
    if ls.blocking:
        offset = ls.sent_total
        literal_bytes = cmd.payload.literal

        def finish(outcome: Outcome, call_id: int) -> CommandResult:
            done = size if outcome.ok else None
            sent = literal_bytes if literal_bytes is not None else PatternSpan(offset, size)
            info = bytes_info(sent, offset) if outcome.ok else None
            record_call(
                lab,
                ls,
                "sendall",
                line,
                outcome,
                call_id=call_id,
                asked=size,
                done=done,
                data=info,
            )
            if done:
                ls.sent_total += done
            return answer(ticket, outcome.ok, None, outcome)

        def send_all() -> None:  # on the worker: a large payload is made there, not here
            ls.sock.sendall(literal_bytes if literal_bytes is not None else pattern(offset, size))

        run_blocking(lab, ticket, ls, "out", "sendall", line, send_all, finish)
        return
    # Non-blocking: the loop sends what the kernel takes, one send() per writable turn.
    if streamed:
        box = Outbox(b"", stream=PatternStream(ls.sent_total, size))
    else:
        box = Outbox(payload_bytes(ls, cmd)[0])
    box.call_id, box.line, box.started_ns = lab.new_call_id(), line, time.monotonic_ns()
    ls.outbox.append(box)
    lab.sync(ls)
    loopcalls.send_some(lab, ls, via="command")
    ticket.succeed({"queued": size, "sent": box.sent, "pending": ls.pending_out})


def op_recv(lab: LabContext, ls: LabSocket, cmd: Recv, ticket: Ticket) -> None:
    busy(ls, "in")
    bufsize = cmd.bufsize
    line = pyline.recv(ls.name, bufsize)

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        result = record_recv(lab, ls, line, outcome, bufsize, via="command", call_id=call_id)
        return answer(ticket, outcome.ok, result, outcome)

    call(lab, ls, ticket, "in", "recv", line, lambda: ls.sock.recv(bufsize), finish)


def op_recvfrom(lab: LabContext, ls: LabSocket, cmd: RecvFrom, ticket: Ticket) -> None:
    busy(ls, "in")
    bufsize = cmd.bufsize
    line = pyline.recvfrom(ls.name, bufsize)

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        result = record_recv(
            lab, ls, line, outcome, bufsize, via="command", call_id=call_id, op="recvfrom"
        )
        return answer(ticket, outcome.ok, result, outcome)

    call(lab, ls, ticket, "in", "recvfrom", line, lambda: ls.sock.recvfrom(bufsize), finish)


def op_accept(lab: LabContext, ls: LabSocket, cmd: Accept, ticket: Ticket) -> None:
    busy(ls, "in")
    check_room(lab, "socket")
    if cmd.name is not None and cmd.name in lab.sockets:
        raise Conflict("name", f"name: a socket named {cmd.name!r} already exists")
    line = pyline.accept(ls.name, cmd.name or lab.free_name("conn"))

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        result, refused = loopcalls.record_accept(
            lab, ls, outcome, cmd.name, via="command", call_id=call_id
        )
        if refused is not None:  # the kernel gave a connection; the lab could not keep it
            error = {"errno": None, "field": None, "message": refused}
            return CommandResult(False, None, error, ticket.events)
        return answer(ticket, outcome.ok, result, outcome)

    call(lab, ls, ticket, "in", "accept", line, ls.sock.accept, finish)


# -- a buffered file on the socket (the HOWTO's makefile() and flush()) -----------------------


def op_makefile(lab: LabContext, ls: LabSocket, cmd: MakeFile, ticket: Ticket) -> None:
    if ls.file is not None:
        raise Conflict("socket", f"{ls.name} already has a file: {pyline.file_of(ls.name)}")

    def made(file: Any) -> str:
        ls.file = file
        return pyline.file_of(ls.name)

    def described(_: Any) -> str:
        return f"<BufferedWriter: {io.DEFAULT_BUFFER_SIZE} bytes of buffer in Python>"

    line = pyline.makefile(ls.name)
    simple_call(lab, ls, ticket, "makefile", line, lambda: ls.sock.makefile("wb"), result=made,
                result_text=described)  # fmt: skip


def _file(ls: LabSocket) -> Any:
    if ls.file is None:
        raise Conflict("socket", f"{ls.name} has no file: run makefile() on it first")
    return ls.file


def op_write(lab: LabContext, ls: LabSocket, cmd: Write, ticket: Ticket) -> None:
    file = _file(ls)
    busy(ls, "out")
    data, text = payload_bytes(ls, cmd)
    line = pyline.write(ls.name, text)

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        record_call(lab, ls, "write", line, outcome, call_id=call_id, asked=len(data),
                        result=outcome.value, result_text=str(outcome.value))  # fmt: skip
        if outcome.ok:
            ls.sent_total += len(data)  # in the stream once flushed: the pattern goes on from here
        return answer(ticket, outcome.ok, outcome.value, outcome)

    call(lab, ls, ticket, "out", "write", line, lambda: file.write(data), finish)


def op_flush(lab: LabContext, ls: LabSocket, cmd: Flush, ticket: Ticket) -> None:
    file = _file(ls)
    busy(ls, "out")
    line = pyline.flush(ls.name)

    def finish(outcome: Outcome, call_id: int) -> CommandResult:
        record_call(lab, ls, "flush", line, outcome, call_id=call_id)
        return answer(ticket, outcome.ok, None, outcome)

    call(lab, ls, ticket, "out", "flush", line, file.flush, finish)


def close_file(lab: LabContext, ls: LabSocket) -> None:
    if ls.file is not None:
        file, ls.file = ls.file, None
        line = pyline.close_file(ls.name)
        record_call(lab, ls, "close", line, perform(lambda: close_without_waiting(ls, file)))


def close_without_waiting(ls: LabSocket, file: Any) -> None:
    """file.close() flushes; on a full blocking socket that would hang the lab thread.

    The flush is tried without blocking: what does not fit is lost, as the error says.
    """
    ls.sock.setblocking(False)
    file.close()
