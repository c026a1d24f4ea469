"""A select() turn makes a plain reader's recv() itself (LabEngine._turns) and keeps
select()'s lists between turns: what it records is what loopcalls.auto_recv records, and
the lists it keeps are the ones the sockets ask for. A flood's turns run one after another
in one frame (``_turns``) until something asks the loop for its attention.

Each case runs real turns of a lab that is not started (this thread is its lab thread) on
real sockets, then records the same outcome the object way (a ticket collecting) and
compares the two events field by field but for their seq, times and call id.
"""

from __future__ import annotations

import dataclasses
import fcntl
import secrets
import select
import socket
import termios
import time
from collections.abc import Iterator

import pytest
from engine.test_packed import SIZES, _tcp_pair

from sockscope.engine import lab as labmod
from sockscope.engine import loopcalls
from sockscope.engine.core.payload import pattern
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.lab import LabEngine
from sockscope.engine.record import SelectRecord
from sockscope.engine.sockets import LabSocket, Outbox
from sockscope.engine.throttle import EventRate
from sockscope.engine.tickets import Ticket
from sockscope.events import CallEvent, Event, SelectEvent, SocketEvent, to_wire

OFFSET = 2040  # the reader's stream offset before the turn: mid-block


@pytest.fixture
def lab() -> Iterator[LabEngine]:
    engine = LabEngine(secrets.token_hex(8), LabPolicy())  # not started: this thread runs it
    yield engine
    for ls in list(engine.sockets.values()):
        ls.sock.close()
    engine._wake_r.close()
    engine._wake_w.close()
    engine.capture.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = _tcp_pair()
    with a, b:
        yield a, b


def reader(lab: LabEngine, sock: socket.socket, name: str = "conn") -> LabSocket:
    ls = LabSocket(name, sock, role="connected", local=("127.0.0.1", 1), peer=("127.0.0.1", 2),
                   auto_recv="discard", bufsize=4096)  # fmt: skip
    ls.received_total = OFFSET
    lab.add_socket(ls)
    return ls


def readable(sock: socket.socket) -> None:
    ready, _, _ = select.select([sock], [], [], 5)
    assert ready, "the bytes never arrived"


def turn(lab: LabEngine) -> list[Event]:
    """One turn of the lab's loop, and the events it recorded."""
    before = lab.log.last_seq
    lab._iterate()
    return lab.log.after(before, 100).events


def calls(events: list[Event]) -> list[CallEvent]:
    return [e for e in events if isinstance(e, CallEvent)]


def same(made: Event, turned: Event) -> None:
    """The two events say the same but for their seq, times and call id."""
    ignore = {"seq", "t_ns", "call_id", "started_ns", "duration_ns"}
    assert type(made) is type(turned)
    a = {k: v for k, v in to_wire(made).items() if k not in ignore}
    b = {k: v for k, v in to_wire(turned).items() if k not in ignore}
    assert a == b


def as_object(lab: LabEngine, ls: LabSocket, got: bytes | None, exc: Exception | None) -> Event:
    """What loopcalls.recv_ended records of this outcome with a ticket collecting (the
    object path), from the offset and state the socket had before the turn."""
    lab.ticket = Ticket(None)
    before = lab.log.last_seq
    try:
        loopcalls.recv_ended(lab, ls, got, exc, lab.t0 + 1_000, 2_000)
    finally:
        lab.ticket = None
    (made,) = calls(lab.log.after(before, 10).events)
    return made


@pytest.mark.parametrize("size", [s for s in SIZES if s])
@pytest.mark.parametrize("kind", ["pattern", "text"])
def test_a_turn_records_a_plain_recv_as_auto_recv_does(
    lab: LabEngine,
    pair: tuple[socket.socket, socket.socket],
    size: int,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def general(*_: object) -> None:
        raise AssertionError("a plain reader's recv() went the general way")

    monkeypatch.setattr(loopcalls, "on_readable", general)
    a, b = pair
    data = pattern(OFFSET, size) if kind == "pattern" else (b"\xe9'x\n\0\\" * size)[:size]
    ls = reader(lab, b)
    assert loopcalls.plain_reader(ls)
    a.sendall(data)
    readable(b)
    events = turn(lab)
    (call,) = calls(events)
    kinds = [type(e) for e in events if isinstance(e, (SelectEvent, CallEvent))]
    assert kinds == [SelectEvent, CallEvent]
    assert call.done == size and ls.received_total == OFFSET + size
    with lab.log._lock:
        kept = lab.log._events[call.seq - lab.log._first_seq]
    assert isinstance(kept, bytes), "the turn's recv() was not packed"
    ls.received_total = OFFSET
    same(as_object(lab, ls, data, None), call)
    assert call.started_ns <= call.t_ns and call.duration_ns >= 0


def test_a_turn_records_its_select_as_the_object_path_does(
    lab: LabEngine, pair: tuple[socket.socket, socket.socket]
) -> None:
    """A busy turn's select() record (SelectRecord.busy) reads as the event turn_masks makes
    with a ticket collecting: the lists, which were ready, the timeout, the idle count."""
    a, b = pair
    reader(lab, b)
    lab._iterate()  # a first turn: nothing ready, so the next counts its idle turns
    a.sendall(b"ready")
    readable(b)
    (select_event,) = [e for e in turn(lab) if isinstance(e, SelectEvent)]
    assert select_event.ready_readers == ["conn"] and select_event.readers == ["conn"]
    lab.ticket = Ticket(None)
    before = lab.log.last_seq
    try:
        SelectRecord().turn_masks(lab, select_event.iteration, (("conn",), ()), None, (1, 0),
                                  None, 0.25, select_event.blocked_ns, select_event.woken,
                                  True)  # fmt: skip
    finally:
        lab.ticket = None
    (made,) = lab.log.after(before, 10).events
    assert isinstance(made, SelectEvent)
    same(dataclasses.replace(made, idle_before=select_event.idle_before), select_event)
    assert select_event.timeout == 0.25 and select_event.t_ns >= select_event.blocked_ns


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_a_turn_hands_an_ending_to_recv_ended(
    lab: LabEngine, pair: tuple[socket.socket, socket.socket], how: str
) -> None:
    """b'' (the peer closed) and an error (reset) are recorded and acted on as auto_recv
    does: eof, the socket's description, and the reader out of the next turn's lists."""
    a, b = pair
    ls = reader(lab, b)
    if how == "fin":
        a.shutdown(socket.SHUT_WR)
    else:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        a.close()
    readable(b)
    events = turn(lab)
    (call,) = calls(events)
    assert ls.eof
    assert call.result_text == "b'' (peer closed)" if how == "fin" else call.errno == "ECONNRESET"
    assert any(isinstance(e, SocketEvent) for e in events[events.index(call) :])
    assert lab._stale, "the ending did not make the lists again"
    ls.eof = False
    got, exc = (
        (b"", None)
        if how == "fin"
        else (None, ConnectionResetError(104, "Connection reset by peer"))
    )
    same(as_object(lab, ls, got, exc), call)
    assert lab._lists().readers == []


def test_kept_lists_follow_a_change_of_auto_recv(
    lab: LabEngine, pair: tuple[socket.socket, socket.socket]
) -> None:
    """A reader set to echo through a command is no longer read by the turn itself: its
    bytes go back out (loopcalls.auto_recv), and the lists are made again for it."""
    a, b = pair
    ls = reader(lab, b)
    a.sendall(b"one")
    readable(b)
    turn(lab)
    kept = lab._turn
    assert kept is not None and not lab._stale

    def echo() -> None:
        ls.auto_recv = "echo"
        lab.sync(ls)

    lab.post(echo)
    lab._drain_inbox()
    a.sendall(b"two")
    readable(b)
    (call,) = calls(turn(lab))
    assert lab._turn is not kept and lab._turn is not None and lab._turn.plain == [False]
    assert call.done == 3 and [box.data for box in ls.outbox] == [b"two"]


def test_the_suite_check_sees_lists_kept_too_long(
    lab: LabEngine, pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHECK_TURNS (on in the suite) notices lists kept past a change that did not say so,
    and the turn uses the lists made again."""
    monkeypatch.setattr(labmod, "CHECK_TURNS", True)
    a, b = pair
    ls = reader(lab, b)
    turn_deadline = time.monotonic() + 5
    a.sendall(b"x")
    readable(b)
    turn(lab)
    ls.auto_recv = "off"  # changed behind the lab's back: no sync, no command
    try:
        while lab._turn is not None and lab._turn.readers:
            assert time.monotonic() < turn_deadline
            turn(lab)
        assert labmod.TURN_CHECK_FAILURES, "the check did not notice"
    finally:
        labmod.TURN_CHECK_FAILURES.clear()


def queued(sock: socket.socket, size: int) -> None:
    """Wait until ``size`` bytes are in the receive queue (FIONREAD)."""
    deadline = time.monotonic() + 5
    while int.from_bytes(fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"), "little") < size:
        assert time.monotonic() < deadline, "the bytes never arrived"
        time.sleep(0.001)


def no_probe_due(lab: LabEngine) -> None:
    lab._probes.next_look = 1 << 62  # only what the test does stops the run of turns


def test_a_flood_runs_its_turns_in_one_frame(
    lab: LabEngine, pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pass of the loop runs the flood's turns until a select() finds nothing ready: a
    select() and a recv() each, in order, every seq taken, every byte counted."""
    monkeypatch.setattr(labmod, "LOOP_TIMEOUT", 0.05)  # the run ends on a quiet select()
    a, b = pair
    ls = reader(lab, b)
    ls.bufsize = 100
    no_probe_due(lab)
    turn(lab)
    turn(lab)  # two quiet turns: the second is counted, not recorded
    a.sendall(pattern(OFFSET, 1000))
    queued(b, 1000)
    events = turn(lab)
    shown = [e for e in events if isinstance(e, (SelectEvent, CallEvent))]
    assert [type(e) for e in shown[:20]] == [SelectEvent, CallEvent] * 10
    assert [c.done for c in calls(events)] == [100] * 10
    got = [(c.data.offset, bytes.fromhex(c.data.hex)) for c in calls(events) if c.data]
    assert got == [(OFFSET + 100 * i, pattern(OFFSET + 100 * i, 100)) for i in range(10)]
    assert ls.received_total == OFFSET + 1000
    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    selects = [e for e in shown if isinstance(e, SelectEvent)]
    assert [e.iteration for e in selects] == list(
        range(selects[0].iteration, selects[0].iteration + 11)
    )
    assert [e.idle_before for e in selects] == [1] + [0] * 10
    # The quiet select() that ended the run is recorded: the turn before it was busy.
    assert shown[20] is selects[10] and selects[10].ready_readers == []


@pytest.mark.parametrize("asks", ["inbox", "budget", "probe"])
def test_a_run_of_turns_stops_for_what_the_loop_must_see_to(
    lab: LabEngine, pair: tuple[socket.socket, socket.socket], asks: str
) -> None:
    """A command in the inbox, the event budget reached or a probe due ends the run after
    the turn it came in: _iterate sees to it before the next select()."""
    a, b = pair
    ls = reader(lab, b)
    ls.bufsize = 100
    a.sendall(pattern(OFFSET, 1000))
    queued(b, 1000)
    turn(lab)  # a first turn: the probe clock starts
    no_probe_due(lab)
    expected = 1
    if asks == "inbox":
        lab._inbox.append(lambda: None)  # as post() does, without the wakeup
    elif asks == "budget":
        lab._rate = EventRate(40)  # 4 events a 100 ms window: over after the third turn
        expected = 3
    else:
        lab._probes.next_look = 0
    events = turn(lab)
    assert [c.done for c in calls(events)] == [100] * expected
    assert len([e for e in events if isinstance(e, SelectEvent)]) == expected


def test_a_writer_and_a_plain_reader_share_a_turn(
    lab: LabEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer ready beside a flood's reader: its send() is recorded the general way, in
    order between the turn's select() and the recv() the turn packs itself."""

    def general(*_: object) -> None:
        raise AssertionError("a plain reader's recv() went the general way")

    monkeypatch.setattr(loopcalls, "on_readable", general)
    a, b = _tcp_pair()
    c, d = _tcp_pair()
    with a, b, c, d:
        ls = reader(lab, b)
        cli = LabSocket("cli", c, role="connected", local=("127.0.0.1", 3),
                        peer=("127.0.0.1", 4))  # fmt: skip
        cli.sock.setblocking(False)
        cli.outbox.append(Outbox(b"hello"))
        lab.add_socket(cli)
        a.sendall(b"flood")
        queued(b, 5)
        no_probe_due(lab)
        events = turn(lab)
        shown = [(type(e).__name__, getattr(e, "op", None)) for e in events
                 if isinstance(e, (SelectEvent, CallEvent))]  # fmt: skip
        assert shown[:3] == [("SelectEvent", None), ("CallEvent", "send"), ("CallEvent", "recv")]
        (select_event,) = [e for e in events if isinstance(e, SelectEvent)][:1]
        assert select_event.ready_writers == ["cli"] and select_event.ready_readers == ["conn"]
        assert d.recv(10) == b"hello" and ls.received_total == OFFSET + 5
        recv = next(e for e in calls(events) if e.op == "recv")
        with lab.log._lock:
            kept = lab.log._events[recv.seq - lab.log._first_seq]
        assert isinstance(kept, bytes), "the turn's recv() was not packed"
