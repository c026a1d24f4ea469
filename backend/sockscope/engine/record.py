"""Recording calls: each call a lab makes becomes a call event with the Python line it is.

Used by the handlers (commands), the loop (its own calls) and the relay alike, so
a send() reads the same wherever it was made.
"""

from __future__ import annotations

from typing import Any

from sockscope.engine import packed
from sockscope.engine.calls import Outcome
from sockscope.engine.context import LabContext
from sockscope.engine.core import pyline
from sockscope.engine.core.calltext import address_text, errno_name, error_text
from sockscope.engine.core.payload import FULL_BYTES, PatternSpan, preview
from sockscope.engine.sockets import LabSocket, host_port
from sockscope.events import BytesInfo, CallEvent, SelectEvent


def record_call(
    lab: LabContext,
    ls: LabSocket,
    op: str,
    line: str,
    outcome: Outcome,
    *,
    via: str = "command",
    call_id: int | None = None,
    asked: int | None = None,
    done: int | None = None,
    data: BytesInfo | None = None,
    result: Any = None,
    result_text: str | None = None,
) -> CallEvent:
    if call_id is not None and call_id in lab.worker_calls:
        lab.worker_calls.discard(call_id)
        via = "worker"
    if not outcome.ok:
        result, result_text, done = None, errno_name(outcome.exc), None
    elif result_text is None:
        result_text = "None" if outcome.value is None else repr(outcome.value)
    event = lab.emit(
        CallEvent,
        call_id=call_id if call_id is not None else lab.new_call_id(),
        socket=ls.name,
        op=op,
        line=line,
        via=via,
        asked=asked,
        done=done,
        data=data,
        result=result,
        result_text=result_text,
        errno=errno_name(outcome.exc),
        error=error_text(outcome.exc),
        started_ns=outcome.started_ns - lab.t0,
        duration_ns=outcome.duration_ns,
    )
    lab.dirty.add(ls.name)
    return event  # type: ignore[return-value]


def bytes_info(data: bytes | memoryview | PatternSpan, offset: int) -> BytesInfo:
    head, truncated = preview(data)
    full = bytes(data).hex() if len(data) <= FULL_BYTES else None
    return BytesInfo(len=len(data), offset=offset, head=head, truncated=truncated, hex=full)


def _packed_call(
    lab: LabContext,
    ls: LabSocket,
    op: str,
    line: tuple[str, int, str],
    outcome: Outcome,
    asked: int,
    data: bytes | memoryview | PatternSpan | None,
    offset: int,
    note: int,
) -> bool:
    """Record a loop call as a packed record (engine/packed.py) when nothing needs it as an
    object (no ticket collects it); False when it must be made the usual way."""
    if lab.ticket is not None or ls.datagram:
        return False
    exc = outcome.exc
    number = lab.strings.number((ls.name, op, line[0], line[2]))
    if number is None:
        return False
    record = packed.pack_call(
        lab.strings,
        lab.now_ns(),
        lab.new_call_id(),
        number,
        line[1],
        asked,
        data,
        offset,
        outcome.started_ns - lab.t0,
        outcome.duration_ns,
        None if exc is None else (errno_name(exc) or "", error_text(exc) or ""),
        note,
        op == "recv",
    )
    if record is None:
        return False
    lab.emit_packed(record)
    lab.dirty.add(ls.name)
    return True


def record_loop_recv(
    lab: LabContext,
    ls: LabSocket,
    got: bytes | None,
    exc: Exception | None,
    started_ns: int,
    duration_ns: int,
) -> bool:
    """Record the loop's own recv() on a stream socket (``got``, or the ``exc`` it raised),
    of ``ls.bufsize``: packed when no ticket collects it as an object, else (or when the
    strings are full) as :func:`record_recv` makes it. Moves the socket's stream offset and
    eof. True when it was packed."""
    number = None if lab.ticket is not None else loop_recv_site(lab.strings, ls)
    record = None
    if number is not None:
        if got == b"":
            note = packed.NOTE_SHUT_DOWN if ls.shut_rd else packed.NOTE_PEER_CLOSED
        else:
            note = packed.NOTE_BYTES
        record = packed.pack_call(
            lab.strings,
            lab.now_ns(),
            lab.new_call_id(),
            number,
            packed.NO_ARG,
            ls.bufsize,
            got,
            ls.received_total,
            started_ns - lab.t0,
            duration_ns,
            None if exc is None else (errno_name(exc) or "", error_text(exc) or ""),
            note,
            True,
        )
    if record is None:
        outcome = Outcome(got, exc, started_ns, duration_ns)
        record_recv(lab, ls, loop_recv_line(ls), outcome, ls.bufsize, via="loop")
        return False
    lab.emit_packed(record)
    lab.dirty.add(ls.name)
    if got is not None:
        ls.eof = ls.eof or not got
        ls.received_total += len(got)
    return True


def loop_recv_line(ls: LabSocket) -> str:
    """The loop's recv() as the program it models writes it: ``data = cli.recv(1024)``."""
    return f"data = {pyline.recv(ls.name, ls.bufsize)}"


def loop_recv_site(strings: packed.Strings, ls: LabSocket) -> int | None:
    """The loop recv()'s site (socket, op, line) as interned in ``strings``, kept on the
    socket until its name or bufsize changes; None when the strings are full."""
    site = ls.recv_site
    if site is None or site[1] != ls.bufsize or site[2] is not strings or site[0] != ls.name:
        number = strings.number((ls.name, "recv", loop_recv_line(ls), ""))
        if number is None:
            return None
        site = ls.recv_site = (ls.name, ls.bufsize, strings, number)
    number_kept: int = site[3]
    return number_kept


def record_send(
    lab: LabContext,
    ls: LabSocket,
    line: str | tuple[str, int, str],
    outcome: Outcome,
    offered: bytes | memoryview | PatternSpan,
    *,
    via: str = "command",
    call_id: int | None = None,
    op: str = "send",
) -> int | None:
    """Record one send() (or sendto()) of ``offered`` and move the socket's stream offset by
    what it took. ``line`` may come in parts (head, number, tail), as the loop's sends do:
    "cli.send(view[", 4096, ":])"."""
    done: int | None = outcome.value if outcome.ok else None
    if isinstance(line, tuple):
        sent = None if done is None else offered[:done]
        if (
            via == "loop"
            and call_id is None
            and op == "send"
            and _packed_call(
                lab, ls, op, line, outcome, len(offered), sent, ls.sent_total, packed.NOTE_BYTES
            )
        ):
            if done:
                ls.sent_total += done
            return done
        line = f"{line[0]}{line[1]}{line[2]}"
    info = bytes_info(offered[:done], ls.sent_total) if done is not None else None
    record_call(lab, ls, op, line, outcome, via=via, call_id=call_id, asked=len(offered),
                done=done, data=info, result=done, result_text=str(done))  # fmt: skip
    if done:
        ls.sent_total += done
    return done


def record_recv(
    lab: LabContext,
    ls: LabSocket,
    line: str,
    outcome: Outcome,
    bufsize: int,
    *,
    via: str,
    call_id: int | None = None,
    op: str = "recv",
) -> dict[str, Any] | None:
    """Record one recv() (or recvfrom(), whose value is ``(data, address)``): the answer a
    command gets, None when the call failed (the loop's own calls are packed by
    :func:`record_loop_recv` when nothing collects them as objects).

    b'' ends a stream; on a datagram socket it is a datagram of no bytes.
    """
    if not outcome.ok:
        record_call(lab, ls, op, line, outcome, via=via, call_id=call_id, asked=bufsize)
        return None
    data: bytes
    sender: Any = None
    if op == "recvfrom":
        data, sender = outcome.value
        sender = host_port(sender) if sender else None
    else:
        data = outcome.value
    info = bytes_info(data, ls.received_total)
    if data:
        head, _ = preview(data)
        shown, note = f"{head}{'...' if info.truncated else ''}", f"{len(data)} bytes"
    elif ls.datagram:
        shown, note = "b''", "a datagram of 0 bytes"
    else:
        shown, note = "b''", "this side was shut down" if ls.shut_rd else "peer closed"
        ls.eof = True
    if op == "recvfrom":
        shown = f"({shown}, {address_text(sender)})"
    text = f"{shown} ({note})"
    record_call(
        lab,
        ls,
        op,
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
    answer: dict[str, Any] = {
        "len": len(data),
        "head": info.head,
        "eof": not data and not ls.datagram,
    }
    if op == "recvfrom":
        answer["address"] = list(sender) if sender else None
    return answer


class SelectRecord:
    """Which select() turns become select events: a turn with something ready, new lists,
    or the first quiet turn after activity (a socket that was ready is not any more);
    quiet repeats are counted (``idle_before`` of the next one), so an idle lab stays quiet."""

    def __init__(self) -> None:
        self.idle = 0
        self.last_lists: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self.was_ready = False

    def turn(
        self,
        lab: LabContext,
        *,
        iteration: int,
        lists: tuple[tuple[str, ...], tuple[str, ...]],
        ready: tuple[tuple[str, ...], tuple[str, ...]],
        timeout: float,
        blocked_ns: int,
        woken: bool,
        record_always: bool,
    ) -> None:
        """One select() turn, its ready sockets by name."""
        mask_r, mask_w = packed.mask(lists[0], ready[0]), packed.mask(lists[1], ready[1])
        masks = None if mask_r is None or mask_w is None else (mask_r, mask_w)
        self.turn_masks(lab, iteration, lists, None, masks, ready, timeout, blocked_ns, woken,
                        record_always)  # fmt: skip

    def busy(
        self,
        t_ns: int,
        iteration: int,
        lists: tuple[tuple[str, ...], tuple[str, ...]],
        number: int,
        mask_r: int,
        mask_w: int,
        timeout: float,
        blocked_ns: int,
        woken: bool,
    ) -> bytes:
        """The packed record of a turn with something ready (recorded whatever came before:
        a flood's turn), ``lists`` interned as ``number``; the lab adds it to its log."""
        record = packed.SELECT_RECORD.pack(packed.SELECT, t_ns, iteration, number,
                                           round(timeout, 4), blocked_ns, woken, self.idle,
                                           mask_r, mask_w)  # fmt: skip
        self.idle, self.last_lists, self.was_ready = 0, lists, True
        return record

    def turn_masks(
        self,
        lab: LabContext,
        iteration: int,
        lists: tuple[tuple[str, ...], tuple[str, ...]],
        number: int | None,
        masks: tuple[int, int] | None,
        ready: tuple[tuple[str, ...], tuple[str, ...]] | None,
        timeout: float,
        blocked_ns: int,
        woken: bool,
        record_always: bool,
    ) -> None:
        """One select() turn, as the lab loop gives it (positional: it runs every turn).

        ``masks`` says which of ``lists`` were ready (bit i: the i-th name; None when the
        lists are too long for masks, and then ``ready`` names them). ``number`` is
        ``lists`` as interned in the lab's strings when the caller kept it, else None."""
        busy = bool(masks[0] or masks[1]) if masks is not None else bool(ready and any(ready))
        if not (record_always or busy or lists != self.last_lists or self.was_ready):
            self.idle += 1
            return
        timeout = round(timeout, 4)
        record = None
        if lab.ticket is None and masks is not None:  # nothing collects it as an object
            if number is None:
                number = lab.strings.number(lists)
            if number is not None:
                record = packed.pack_select_masks(
                    lab.now_ns(), iteration, number, timeout, blocked_ns, woken, self.idle,
                    masks[0], masks[1],
                )  # fmt: skip
        if record is not None:
            lab.emit_packed(record)
        else:
            if ready is None:
                assert masks is not None
                ready = (tuple(packed.picked(lists[0], masks[0])),
                         tuple(packed.picked(lists[1], masks[1])))  # fmt: skip
            lab.emit(
                SelectEvent,
                iteration=iteration,
                readers=list(lists[0]),
                writers=list(lists[1]),
                errors=[],
                timeout=timeout,
                ready_readers=list(ready[0]),
                ready_writers=list(ready[1]),
                ready_errors=[],
                blocked_ns=blocked_ns,
                woken=woken,
                idle_before=self.idle,
            )
        self.idle, self.last_lists, self.was_ready = 0, lists, busy
