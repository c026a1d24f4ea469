"""Packed records (engine/packed.py) stand for the very events the object path makes.

Each case records the same outcome twice through the real recorders: once with a ticket
collecting (so as objects, the way every event used to be made) and once without (packed),
then compares the two events field by field but for their seq, time and call id.
"""

from __future__ import annotations

import errno
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine import packed
from sockscope.engine.calls import Outcome
from sockscope.engine.core.payload import pattern
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.lab import LabEngine
from sockscope.engine.log import encode
from sockscope.engine.record import SelectRecord, record_loop_recv, record_send
from sockscope.engine.sockets import LabSocket
from sockscope.engine.tickets import Ticket
from sockscope.events import CallEvent, Event, SelectEvent, from_wire, to_wire
from sockscope.labs.remote import MirrorLog

SIZES = [0, 1, 47, 48, 49, 255, 256, 257, 3000]


@pytest.fixture
def idle() -> Iterator[LabEngine]:
    engine = LabEngine(secrets.token_hex(8), LabPolicy())  # not started: this thread records
    yield engine
    engine._wake_r.close()  # never started: its thread would have closed them
    engine._wake_w.close()


@pytest.fixture
def stream() -> Iterator[LabSocket]:
    a, b = _tcp_pair()
    with a, b:
        yield LabSocket("cli", a, role="connected", local=("127.0.0.1", 1), peer=("127.0.0.1", 2))


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        a = socket.create_connection(listener.getsockname()[:2], timeout=5)
        b, _ = listener.accept()
    return a, b


def both_ways(idle: LabEngine, record: Any) -> tuple[Event, Event, bool]:
    """(as an object, packed then unpacked, whether it was packed) of what ``record`` makes."""
    idle.ticket = Ticket(None)
    before = idle.log.last_seq
    record()
    idle.ticket = None
    middle = idle.log.last_seq
    record()
    (made,) = idle.log.after(before, 10).events[: middle - before]
    (unpacked,) = idle.log.after(middle, 10).events
    with idle.log._lock:
        was_packed = isinstance(idle.log._events[-1], bytes)
    (text,) = idle.log.wire_after(middle, 10).texts  # made from the record, not the object
    assert text == encode(unpacked)
    (row,) = idle.log.rows_after(middle, 10).texts
    assert row == read_row(row, middle + 1, idle.log.strings.values)
    assert encode(from_rows(row, middle + 1, idle.log.strings.values)) == text
    return made, unpacked, was_packed


def read_row(row: str, seq: int, values: list[Any]) -> str:
    """A row read back and made again (what a lab host's mirror does): the same text."""
    if row.startswith("{"):
        return row
    strings = packed.Strings()
    strings.values[:] = values
    record = packed.from_row(json.loads(row))
    (again,) = packed.row_texts([record], seq, strings, encode)
    return again


def from_rows(row: str, seq: int, values: list[Any]) -> Event:
    """The event a row stands for, read with the strings it names."""
    if row.startswith("{"):
        return from_wire(json.loads(row))
    strings = packed.Strings()
    strings.values[:] = values
    return packed.unpack(packed.from_row(json.loads(row)), seq, strings)


def same(made: Event, unpacked: Event) -> None:
    ignore = {"seq", "t_ns", "call_id"}
    a = {k: v for k, v in to_wire(made).items() if k not in ignore}
    b = {k: v for k, v in to_wire(unpacked).items() if k not in ignore}
    assert a == b
    assert type(made) is type(unpacked)
    text = encode(unpacked)  # what a viewer is sent is made from the object too
    assert text == encode(type(unpacked)(**{**vars_of(unpacked)}))


def vars_of(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


def loop_recv(lab: LabEngine, ls: LabSocket, outcome: Outcome, bufsize: int) -> None:
    """The loop's recv() of ``bufsize`` as auto_recv() records it."""
    ls.bufsize = bufsize
    record_loop_recv(lab, ls, outcome.value, outcome.exc, outcome.started_ns, outcome.duration_ns)


def ok(value: Any) -> Outcome:
    return Outcome(value, None, 1_000, 2_000)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["pattern", "text"])
def test_a_loop_send_packs_to_the_same_event(
    idle: LabEngine, stream: LabSocket, size: int, kind: str
) -> None:
    stream.sent_total = 4096 + 5
    offered = pattern(stream.sent_total, size + 10) if kind == "pattern" else b"\xe9'x\n" * size
    done = min(size, len(offered))

    def record() -> None:
        record_send(idle, stream, ("cli.send(view[", 7, ":])"), ok(done), memoryview(offered),
                    via="loop")  # fmt: skip
        stream.sent_total -= done  # both records start at the same offset

    made, unpacked, was_packed = both_ways(idle, record)
    assert was_packed
    assert isinstance(made, CallEvent) and made.line == "cli.send(view[7:])"
    same(made, unpacked)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["pattern", "text"])
def test_a_loop_recv_packs_to_the_same_event(
    idle: LabEngine, stream: LabSocket, size: int, kind: str
) -> None:
    stream.received_total = 2040
    data = pattern(stream.received_total, size) if kind == "pattern" else bytes(range(256)) * 12
    data = data[:size]

    def record() -> None:
        loop_recv(idle, stream, ok(data), 1024)
        stream.received_total -= len(data)

    made, unpacked, was_packed = both_ways(idle, record)
    assert was_packed
    same(made, unpacked)
    with idle.log._lock:
        record_bytes = idle.log._events[-1]
    assert isinstance(record_bytes, bytes)
    if kind == "pattern":  # the pattern's bytes are made again, not kept
        assert len(record_bytes) == packed._CALL.size
    # Again, now that the socket keeps its recv() site (the flood's shorter path): the same.
    assert stream.recv_site is not None
    made_again, again, packed_again = both_ways(idle, record)
    assert packed_again and record_bytes == idle_record(idle, record_bytes)
    same(made_again, again)
    same(made, again)


def idle_record(idle: LabEngine, before: bytes) -> bytes:
    """The newest record, with the numbers that differ from ``before`` by time (t_ns, call
    id) made equal to it, so two records of one outcome compare."""
    with idle.log._lock:
        newest = idle.log._events[-1]
    assert isinstance(newest, bytes)
    fields = list(packed._CALL.unpack_from(newest))
    fields[1:3] = packed._CALL.unpack_from(before)[1:3]
    return packed._CALL.pack(*fields) + newest[packed._CALL.size :]


@pytest.mark.parametrize("shut", [False, True])
def test_an_empty_recv_says_why_it_is_empty(idle: LabEngine, stream: LabSocket, shut: bool) -> None:
    stream.shut_rd = shut
    made, unpacked, _ = both_ways(idle, lambda: loop_recv(idle, stream, ok(b""), 8))
    assert isinstance(unpacked, CallEvent)
    assert unpacked.result_text == (
        "b'' (this side was shut down)" if shut else "b'' (peer closed)"
    )
    same(made, unpacked)
    assert stream.eof


@pytest.mark.parametrize(
    "exc",
    [
        BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        BrokenPipeError(errno.EPIPE, "Broken pipe"),
    ],
)
def test_a_failed_loop_call_packs_to_the_same_event(
    idle: LabEngine, stream: LabSocket, exc: OSError
) -> None:
    failed = Outcome(None, exc, 10, 20)
    made, unpacked, was_packed = both_ways(idle, lambda: loop_recv(idle, stream, failed, 8))
    assert was_packed
    same(made, unpacked)
    made, unpacked, was_packed = both_ways(
        idle,
        lambda: record_send(idle, stream, ("cli.send(view[", 0, ":])"), failed, b"abc", via="loop"),
    )
    assert was_packed
    same(made, unpacked)


def test_a_select_turn_packs_to_the_same_event(idle: LabEngine) -> None:
    def record() -> None:
        SelectRecord().turn(
            idle,
            iteration=12,
            lists=(("srv", "conn"), ("cli",)),
            ready=(("conn",), ()),
            timeout=0.123456,
            blocked_ns=999,
            woken=True,
            record_always=False,
        )

    made, unpacked, was_packed = both_ways(idle, record)
    assert was_packed
    assert isinstance(unpacked, SelectEvent) and unpacked.ready_readers == ["conn"]
    same(made, unpacked)


def test_past_its_strings_limit_a_log_records_objects(idle: LabEngine, stream: LabSocket) -> None:
    idle.log.strings.limit = len(idle.log.strings.values)  # full: no new string
    loop_recv(idle, stream, ok(b"abc"), 3)
    with idle.log._lock:
        last = idle.log._events[-1]
    assert isinstance(last, CallEvent) and last.result_text == "b'abc' (3 bytes)"


def test_a_loop_recv_says_the_bufsize_and_name_it_was_called_with(
    idle: LabEngine, stream: LabSocket
) -> None:
    """The loop keeps its recv()'s interned line on the socket: a new bufsize or a new
    name must give a new line, not the kept one."""
    loop_recv(idle, stream, ok(b"ab"), 1024)
    loop_recv(idle, stream, ok(b"cd"), 8)
    stream.name = "other"
    loop_recv(idle, stream, ok(b"ef"), 8)
    events = idle.log.after(idle.log.last_seq - 3, 3).events
    assert [e.line for e in events if isinstance(e, CallEvent)] == [
        "data = cli.recv(1024)",
        "data = cli.recv(8)",
        "data = other.recv(8)",
    ]
    assert [e.socket for e in events if isinstance(e, CallEvent)] == ["cli", "cli", "other"]


def test_a_flood_reads_back_the_same_as_objects_and_as_text(
    make_lab: Callable[[], LabDriver],
) -> None:
    """A real lab's flood: packed, every event reads back, seqs without holes; each recv
    shows the bytes that arrived; what a viewer is sent is each event's text."""
    driver = make_lab()
    port = driver.server(auto_accept=True, auto_recv="discard", bufsize=256, blocking=False)
    driver.ok({"op": "socket", "name": "cli", "options": {"blocking": False}})
    driver.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    deadline = time.monotonic() + 10
    while driver.sock("cli")["role"] != "connected" or "conn" not in driver.engine.sockets:
        assert time.monotonic() < deadline, "never connected"
        time.sleep(0.01)
    size = 200_000
    driver.ok({"op": "sendall", "socket": "cli", "size": size})
    while sum(c.done or 0 for c in driver.calls("conn", "recv")) < size:
        assert time.monotonic() < deadline, "the flood never arrived"
        time.sleep(0.01)
    log = driver.engine.log
    # The wire lane's last segments may still come in: read the first ``n`` events each way.
    with log._lock:
        items = list(log._events)
    n = len(items)
    packed_count = sum(isinstance(e, bytes) for e in items)
    events = log.after(0, n).events
    assert packed_count > 700  # some 800 recv()s of 256 bytes, and their select() turns
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    recvs = [
        c
        for c in events
        if isinstance(c, CallEvent) and c.socket == "conn" and c.op == "recv" and c.done
    ]
    assert sum(c.done or 0 for c in recvs) == size
    for call in recvs:
        assert call.data is not None and call.via == "loop"
        assert call.data.hex == pattern(call.data.offset, call.data.len).hex()
    assert log.wire_after(0, n).texts == [encode(e) for e in events]
    rows = log.rows_after(0, n).texts
    assert sum(row.startswith("[") for row in rows) == packed_count
    assert [log._row(e, seq) for seq, e in enumerate(items, start=1)] == rows  # one at a time
    mirror = MirrorLog(len(rows) + 10)  # what a lab host's web process keeps and reads
    mirror.extend(tuple(rows), None, tuple(log.strings_from(1)))
    assert mirror.rows_after(0, 1_000_000).texts == rows
    assert mirror.wire_after(0, 1_000_000).texts == [encode(e) for e in events]
    assert [encode(e) for e in mirror.after(0, 1_000_000).events] == [encode(e) for e in events]


def turn(
    idle: LabEngine,
    lists: tuple[tuple[str, ...], tuple[str, ...]],
    ready: tuple[tuple[str, ...], tuple[str, ...]],
    iteration: int = 1,
) -> None:
    """One recorded select() turn with these lists and these ready."""
    SelectRecord().turn(idle, iteration=iteration, lists=lists, ready=ready, timeout=0.25,
                        blocked_ns=1, woken=False, record_always=True)  # fmt: skip


@pytest.mark.parametrize(
    ("lists", "ready"),
    [
        ((("srv", "c1", "c2", "c3"), ("cli",)), (("c1", "c3"), ("cli",))),
        ((("srv",), ()), ((), ())),
        ((tuple(f"c{i}" for i in range(64)), ()), (("c0", "c63"), ())),
    ],
)
def test_ready_sets_pack_as_masks_over_the_lists(
    idle: LabEngine,
    lists: tuple[tuple[str, ...], tuple[str, ...]],
    ready: tuple[tuple[str, ...], tuple[str, ...]],
) -> None:
    made, unpacked, was_packed = both_ways(idle, lambda: turn(idle, lists, ready))
    assert was_packed
    same(made, unpacked)


def test_many_ready_sets_take_one_string(idle: LabEngine) -> None:
    """A busy lab's ready sets are masks, not strings: 2^N of them would fill the table."""
    names = tuple(f"c{i}" for i in range(12))
    before = len(idle.log.strings.values)
    for bits in range(1, 300):
        ready = tuple(n for i, n in enumerate(names) if bits >> i & 1)
        turn(idle, (names, ()), (ready, ()), iteration=bits)
    assert len(idle.log.strings.values) == before + 1
    with idle.log._lock:
        assert all(isinstance(e, bytes) for e in idle.log._events[-299:])


def test_a_ready_set_out_of_order_or_unknown_is_recorded_as_an_object(idle: LabEngine) -> None:
    for ready in (("c2", "c1"), ("nobody",)):
        turn(idle, (("c1", "c2"), ()), (ready, ()))
        (event,) = idle.log.after(idle.log.last_seq - 1, 1).events
        assert isinstance(event, SelectEvent) and event.ready_readers == list(ready)
    too_many = tuple(f"c{i}" for i in range(65))
    turn(idle, (too_many, ()), (("c64",), ()))
    with idle.log._lock:
        assert isinstance(idle.log._events[-1], SelectEvent)
