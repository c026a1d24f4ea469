"""Blocking sockets: their calls run on a worker thread, so a blocked recv() blocks nobody else."""

from __future__ import annotations

from sockscope.engine.core.commands import parse_command
from sockscope.events import CallEvent

from helpers import wait_until


def pair(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})


def test_blocked_recv_shows_blocked_and_completes_when_data_comes(lab) -> None:  # type: ignore[no-untyped-def]
    pair(lab)
    ticket = lab.engine.submit(
        parse_command({"op": "recv", "socket": "conn", "bufsize": 100}, lab.policy)
    )
    blocked = wait_until(lambda: lab.sock("conn")["blocked"], what="conn blocked")
    assert blocked[0]["op"] == "recv" and blocked[0]["line"] == "conn.recv(100)"
    assert not ticket.future.done()
    # The lab keeps answering while conn is blocked.
    lab.ok({"op": "send", "socket": "cli", "text": "hello"})
    result = ticket.future.result(5)
    assert result.ok and result.result["len"] == 5
    call = lab.calls("conn", "recv")[-1]
    assert call.via == "worker" and call.duration_ns > 0
    assert lab.sock("conn")["blocked"] == []


def test_close_wakes_a_blocked_recv(lab) -> None:  # type: ignore[no-untyped-def]
    pair(lab)
    ticket = lab.engine.submit(
        parse_command({"op": "recv", "socket": "conn", "bufsize": 9}, lab.policy)
    )
    wait_until(lambda: lab.sock("conn")["blocked"], what="conn blocked")
    lab.ok({"op": "close", "socket": "conn"})
    assert ticket.future.result(5).result["eof"] is True
    assert [c.line for c in lab.calls("conn")][-3:] == [
        "conn.shutdown(socket.SHUT_RDWR)",
        "conn.close()",
        "conn.recv(9)",
    ]


def test_second_blocking_recv_on_the_same_socket_is_refused(lab) -> None:  # type: ignore[no-untyped-def]
    pair(lab)
    lab.engine.submit(parse_command({"op": "recv", "socket": "conn", "bufsize": 9}, lab.policy))
    wait_until(lambda: lab.sock("conn")["blocked"], what="conn blocked")
    again = lab.run({"op": "recv", "socket": "conn", "bufsize": 9})
    assert again.status == 409 and "blocked in recv()" in again.error["message"]


def test_recv_timeout_set_by_the_program_ends_the_wait(lab) -> None:  # type: ignore[no-untyped-def]
    pair(lab)
    lab.ok({"op": "settimeout", "socket": "conn", "timeout": 0.2})
    result = lab.run({"op": "recv", "socket": "conn", "bufsize": 9})
    assert result.error["errno"] == "timeout"
    assert lab.sock("conn")["timeout"] == 0.2


def test_the_history_lets_a_ticket_go_once_answered_and_keeps_a_blocked_ones(lab) -> None:  # type: ignore[no-untyped-def]
    """The history keeps each command and its events (what the exported script replays),
    not the ticket with its two futures (heap.py: a room of 300 labs held 5,000 of those a
    lab): the ticket stays reachable while its call is blocked, for the room's flags."""
    pair(lab)
    kept = lab.engine.history[-1]
    assert kept.command.op == "accept" and kept.ticket is None
    # Its calls only (what the script replays); its socket and probe events are in the log.
    assert [type(e).__name__ for e in kept.events] == ["CallStartedEvent", "CallEvent"]
    assert kept.events[-1].line == "conn, addr = srv.accept()"
    ticket = lab.engine.submit(
        parse_command({"op": "recv", "socket": "conn", "bufsize": 100}, lab.policy)
    )
    wait_until(lambda: lab.sock("conn")["blocked"], what="conn blocked")
    blocked = lab.engine.history[-1]
    assert blocked.ticket is ticket and blocked.events is ticket.events
    lab.ok({"op": "send", "socket": "cli", "text": "hello"})
    assert ticket.future.result(5).ok
    assert blocked.ticket is None and ticket.kept is None
    calls = [e for e in blocked.events if isinstance(e, CallEvent)]
    assert calls[-1].op == "recv" and calls[-1].done
