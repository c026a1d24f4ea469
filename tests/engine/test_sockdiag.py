"""NETLINK_SOCK_DIAG: the parser against hand-built bytes, the reader against the real kernel,
and the shared poller that asks it once per interval for every lab."""

from __future__ import annotations

import errno
import logging
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine import watch
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.core.sockdiag import (
    ALL_STATES,
    DiagDone,
    DiagError,
    DiagFormatError,
    DiagSocket,
    dump_request,
    lookup_request,
    parse_replies,
)
from sockscope.engine.sockdiag import DiagReader, DiagUnavailable
from sockscope.engine.sockets import LabSocket
from sockscope.engine.watch import ClosedWatch, SharedPoller, open_reader, read_table

from helpers import wait_until

Conn = tuple[tuple[str, int], tuple[str, int]]

# -- hand-built replies ---------------------------------------------------------------------


def nlmsg(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """nlmsghdr (u32 len, u16 type, u16 flags, u32 seq, u32 pid) + body, padded to 4."""
    raw = struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body
    return raw + b"\0" * (-len(raw) % 4)


def diag_msg(state: int, src: str, sport: int, dst: str, dport: int, family: int = 2) -> bytes:
    """struct inet_diag_msg: 4 u8, sockid (be16 ports, 16-byte addresses, if, cookie), 5 u32."""
    return (
        bytes([family, state, 3, 0])
        + struct.pack(">HH", sport, dport)
        + socket.inet_pton(family if family == 10 else 2, src).ljust(16, b"\0")
        + socket.inet_pton(family if family == 10 else 2, dst).ljust(16, b"\0")
        + struct.pack("=III", 0, 0x1234, 0x5678)
        + struct.pack("=IIIII", 59000, 0, 0, 0, 0)
    )


def test_a_reply_is_parsed_with_ports_in_network_order() -> None:
    # TIME_WAIT (6), 127.0.0.1:40000 -> 127.0.0.1:50000, with an attribute after the message
    attr = struct.pack("=HH", 5, 8) + b"\x01\0\0\0"
    data = nlmsg(20, 0, 7, diag_msg(6, "127.0.0.1", 40000, "127.0.0.1", 50000) + attr)
    assert data[20:24] == b"\x9c\x40\xc3\x50"  # the ports as the kernel puts them
    assert parse_replies(data) == [
        DiagSocket(7, "TIME_WAIT", ("127.0.0.1", 40000), ("127.0.0.1", 50000), multi=False)
    ]


def test_a_multipart_dump_ends_with_done() -> None:
    first = nlmsg(20, 2, 9, diag_msg(1, "127.0.0.1", 20001, "127.0.0.1", 41000))
    second = nlmsg(20, 2, 9, diag_msg(5, "10.0.0.2", 41000, "10.0.0.1", 20001))
    other = nlmsg(20, 2, 9, diag_msg(1, "0.0.0.0", 1, "0.0.0.0", 2, family=1))  # AF_UNIX
    noop = nlmsg(1, 0, 9, b"")
    part1 = first + other + second
    part2 = noop + nlmsg(3, 2, 9, struct.pack("=i", 0))
    replies = parse_replies(part1) + parse_replies(part2)
    assert [type(r).__name__ for r in replies] == ["DiagSocket", "DiagSocket", "DiagDone"]
    assert replies[1] == DiagSocket(
        9, "FIN_WAIT2", ("10.0.0.2", 41000), ("10.0.0.1", 20001), multi=True
    )
    assert replies[2] == DiagDone(9, 0)


def test_an_ipv6_reply_and_request_carry_all_sixteen_bytes() -> None:
    data = nlmsg(20, 0, 4, diag_msg(1, "::1", 20001, "::ffff:127.0.0.1", 41000, family=10))
    assert parse_replies(data) == [
        DiagSocket(4, "ESTABLISHED", ("::1", 20001), ("::ffff:127.0.0.1", 41000), multi=False)
    ]
    request = lookup_request(5, (("::1", 20001), ("::1", 41000)))
    assert request[16] == socket.AF_INET6
    assert request[28:44] == socket.inet_pton(socket.AF_INET6, "::1")  # after the ports
    assert lookup_request(6, (("127.0.0.1", 1), ("127.0.0.1", 2)))[16] == socket.AF_INET


def test_errors_name_their_request() -> None:
    request = lookup_request(12, (("127.0.0.1", 1), ("127.0.0.1", 2)))
    # NLMSG_ERROR: i32 -errno, then the request echoed back
    missing = nlmsg(2, 0, 12, struct.pack("=i", -errno.ENOENT) + request)
    refused = nlmsg(2, 0, 13, struct.pack("=i", -errno.EINVAL) + request[:16])
    failed_dump = nlmsg(3, 2, 14, struct.pack("=i", -errno.ENOENT))
    replies = parse_replies(missing + refused + failed_dump)
    assert replies == [DiagError(12, errno.ENOENT), DiagError(13, errno.EINVAL), DiagDone(14, 2)]
    assert isinstance(replies[0], DiagError) and replies[0].not_found
    assert isinstance(replies[1], DiagError) and not replies[1].not_found


@pytest.mark.parametrize(
    "data",
    [
        b"\x10\0\0\0",  # shorter than a header
        struct.pack("=IHHII", 100, 20, 0, 1, 0) + b"\0" * 20,  # says more than there is
        struct.pack("=IHHII", 8, 20, 0, 1, 0),  # says less than its own header
        nlmsg(20, 0, 1, b"\0" * 40),  # an inet_diag_msg cut short
        nlmsg(2, 0, 1, b""),  # an error without its code
        nlmsg(4, 0, 1, b""),  # NLMSG_OVERRUN
    ],
)
def test_malformed_replies_are_refused(data: bytes) -> None:
    with pytest.raises(DiagFormatError):
        parse_replies(data)


def test_a_lookup_request_is_laid_out_as_inet_diag_req_v2() -> None:
    raw = lookup_request(5, (("127.0.0.1", 40000), ("10.1.2.3", 20001)))
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", raw)
    assert (length, kind, flags, seq, pid) == (72, 20, 1, 5, 0) and len(raw) == 72
    assert raw[16:18] == bytes([socket.AF_INET, socket.IPPROTO_TCP])
    assert raw[24:28] == struct.pack(">HH", 40000, 20001)
    assert raw[28:32] == bytes([127, 0, 0, 1]) and raw[44:48] == bytes([10, 1, 2, 3])
    assert raw[32:44] == raw[48:60] == b"\0" * 12
    assert raw[64:72] == b"\xff" * 8  # INET_DIAG_NOCOOKIE
    dump = dump_request(6, ALL_STATES, (20000, 20999))
    assert struct.unpack_from("=IHH", dump) == (len(dump), 20, 0x301)
    assert struct.unpack_from("=HH", dump, 72) == (4 + 36, 1)  # INET_DIAG_REQ_BYTECODE


# -- the real kernel ------------------------------------------------------------------------


@dataclass
class Pair:
    listener: socket.socket
    cli: socket.socket
    srv: socket.socket
    c: Conn = field(init=False)  # the client's end, (local, peer)
    s: Conn = field(init=False)  # the accepted end

    def __post_init__(self) -> None:
        self.c = (self.cli.getsockname(), self.cli.getpeername())
        self.s = (self.srv.getsockname(), self.srv.getpeername())

    def close(self) -> None:
        for each in (self.cli, self.srv, self.listener):
            each.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    listener = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(listener.getsockname()[:2], timeout=5)
    srv, _ = listener.accept()
    made = Pair(listener, cli, srv)
    yield made
    made.close()


@pytest.fixture
def reader() -> Iterator[DiagReader]:
    made = DiagReader()
    made.open()
    yield made
    made.close()


def both(reader: DiagReader, conns: list[Conn]) -> tuple[dict[Conn, Any], dict[Conn, Any]]:
    table = read_table()
    return reader.lookup(conns), {c: table.get(c) for c in conns}


def test_the_reader_sees_the_states_proc_net_tcp_shows(reader: DiagReader, pair: Pair) -> None:
    conns = [pair.c, pair.s]
    assert both(reader, conns) == ({pair.c: "ESTABLISHED", pair.s: "ESTABLISHED"},) * 2

    pair.cli.close()  # the active closer: FIN_WAIT2, the other end CLOSE_WAIT
    expected = {pair.c: "FIN_WAIT2", pair.s: "CLOSE_WAIT"}
    wait_until(lambda: reader.lookup(conns) == expected, what="FIN_WAIT2 / CLOSE_WAIT")
    assert both(reader, conns) == (expected, expected)

    pair.srv.close()  # LAST_ACK, answered at once on loopback: gone; the client TIME_WAIT
    expected = {pair.c: "TIME_WAIT", pair.s: None}
    wait_until(lambda: reader.lookup(conns) == expected, what="TIME_WAIT / gone")
    assert both(reader, conns) == (expected, expected)
    # The listener on the accepted end's port is what the kernel answered with: not it.
    assert pair.listener.getsockname() == pair.s[0]


def test_a_connection_never_made_is_not_there(reader: DiagReader) -> None:
    nowhere: Conn = (("127.0.0.1", 1), ("127.0.0.2", 2))
    assert reader.lookup([nowhere]) == {nowhere: None}


def test_many_lookups_are_answered_in_batches_and_lost_ones_are_left_out(pair: Pair) -> None:
    reader = DiagReader(rcvbuf=65536)  # the kernel doubles it: about 150 answers fit
    reader.open()
    try:
        assert reader.batch == 64
        fake: list[Conn] = [(("127.0.0.1", 1), ("127.0.0.3", p)) for p in range(1, 3001)]
        found = reader.lookup([*fake, pair.c])
        assert len(found) == 3001 and found[pair.c] == "ESTABLISHED"
        assert all(found[c] is None for c in fake)
        assert reader.lost == 0

        reader.batch = 1000  # more answers than the receive buffer holds: the kernel drops some
        found = reader.lookup([pair.c, *fake])
        assert reader.lost >= 1
        assert 0 < len(found) < 3001  # the dropped ones are unknown, not "gone"
        assert found[pair.c] == "ESTABLISHED"  # the first answer was queued
        assert all(state is None for c, state in found.items() if c != pair.c)
    finally:
        reader.close()


def test_a_dump_filtered_by_port_range_in_the_kernel(reader: DiagReader, pair: Pair) -> None:
    port = pair.listener.getsockname()[1]
    found = reader.dump(ALL_STATES, (port, port))
    assert found[pair.c] == found[pair.s] == "ESTABLISHED"
    assert found[(("127.0.0.1", port), ("0.0.0.0", 0))] == "LISTEN"
    assert all(port in (local[1], peer[1]) for local, peer in found)
    cport = pair.c[0][1]  # (other connections may have had this port number too)
    by_client_port = reader.dump(ALL_STATES, (cport, cport))
    assert {pair.c, pair.s} <= set(by_client_port)
    assert all(cport in (local[1], peer[1]) for local, peer in by_client_port)
    assert not {pair.c, pair.s} & set(reader.dump(ALL_STATES, (port + 1, port + 1)))


def test_a_kernel_without_the_interface_is_said_so() -> None:
    with pytest.raises(DiagUnavailable, match="no NETLINK_SOCK_DIAG"):
        DiagReader(netlink=31).open()  # no such netlink family: EPROTONOSUPPORT
    with pytest.raises(DiagUnavailable, match="No such file"):
        DiagReader(protocol=200).open()  # no diag handler for it: NLMSG_DONE -ENOENT


def test_without_sock_diag_the_poller_reads_proc_and_says_so_once(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    poller = SharedPoller(opener=lambda: open_reader(DiagReader(netlink=31)))
    with caplog.at_level(logging.WARNING, logger="sockscope.engine.watch"):
        for n in range(3):
            got = poller.read(1, [pair.c], n * poller.interval_ns)
            assert got.state(pair.c, 0) == (True, "ESTABLISHED")
    assert poller.queries == 3 and poller.source == "/proc/net/tcp"
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "reading /proc/net/tcp instead" in said[0]


# -- one query per interval for every lab ---------------------------------------------------


class Recorder:
    """What ClosedWatch.poll needs of a lab: emit(), and no private network."""

    private = None

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, cls: type[Any], **fields: Any) -> None:
        self.events.append(fields)

    def states(self) -> list[str | None]:
        return [e["state"] for e in self.events]


def closed(name: str, pair: Pair) -> LabSocket:
    ls = LabSocket(name, pair.cli, role="connected", local=pair.c[0], peer=pair.c[1])
    pair.cli.close()
    return ls


@pytest.fixture
def pairs() -> Iterator[list[Pair]]:
    made = []
    for _ in range(2):
        listener = socket.create_server(("127.0.0.1", 0))
        cli = socket.create_connection(listener.getsockname()[:2], timeout=5)
        srv, _ = listener.accept()
        made.append(Pair(listener, cli, srv))
    yield made
    for each in made:
        each.close()


@pytest.fixture
def poller() -> Iterator[SharedPoller]:
    made = SharedPoller()
    yield made
    made.close()


def test_two_labs_share_one_query_per_interval(pairs: list[Pair], poller: SharedPoller) -> None:
    watches = [ClosedWatch(poller), ClosedWatch(poller)]
    labs = [Recorder(), Recorder()]
    for n, (w, p) in enumerate(zip(watches, pairs, strict=True)):
        w.remember(closed(f"cli{n}", p))
    for p in pairs:
        wait_until(lambda p=p: read_table().get(p.c) == "FIN_WAIT2", what="FIN_WAIT2")
    t = time.monotonic_ns()
    watches[0].poll(labs[0], t)  # type: ignore[arg-type]
    watches[1].poll(labs[1], t + 1_000_000)  # type: ignore[arg-type]
    assert poller.queries == 1 and poller.reads == 2
    assert labs[0].states() == labs[1].states() == ["FIN_WAIT2"]

    for p in pairs:
        p.srv.close()
        wait_until(lambda p=p: read_table().get(p.c) == "TIME_WAIT", what="TIME_WAIT")
    watches[1].poll(labs[1], t + 200_000_000)  # type: ignore[arg-type]  # within the interval
    assert poller.queries == 1 and labs[1].states() == ["FIN_WAIT2"]
    watches[1].poll(labs[1], t + 250_000_000)  # type: ignore[arg-type]
    watches[0].poll(labs[0], t + 251_000_000)  # type: ignore[arg-type]
    assert poller.queries == 2 and poller.reads == 5
    assert labs[0].states() == labs[1].states() == ["FIN_WAIT2", "TIME_WAIT"]
    assert poller.watched() == {pairs[0].c, pairs[1].c}


def test_a_connection_closed_after_the_reading_waits_for_the_next(
    pairs: list[Pair], poller: SharedPoller
) -> None:
    first, second = ClosedWatch(poller), ClosedWatch(poller)
    lab1, lab2 = Recorder(), Recorder()
    first.remember(closed("a", pairs[0]))
    t = time.monotonic_ns()
    first.poll(lab1, t)  # type: ignore[arg-type]
    second.remember(closed("b", pairs[1]))  # after that reading was taken
    second.poll(lab2, t + 1_000_000)  # type: ignore[arg-type]
    assert poller.queries == 1 and lab2.events == [] and second.entries  # unknown: kept
    second.poll(lab2, t + 250_000_000)  # type: ignore[arg-type]
    assert poller.queries == 2 and lab2.states()[0] in ("FIN_WAIT1", "FIN_WAIT2")


def test_a_reading_taken_before_the_close_is_not_used(pair: Pair, poller: SharedPoller) -> None:
    t = time.monotonic_ns()
    # Something already follows this 4-tuple: the reading has it, ESTABLISHED.
    assert poller.read(99, [pair.c], t).state(pair.c, 0) == (True, "ESTABLISHED")
    w, lab = ClosedWatch(poller), Recorder()
    w.remember(closed("cli", pair))
    w.poll(lab, t + 1_000_000)  # type: ignore[arg-type]
    assert poller.queries == 1 and lab.events == []  # not "ESTABLISHED": that was before
    w.poll(lab, t + 250_000_000)  # type: ignore[arg-type]
    assert poller.queries == 2 and lab.states()[0] in ("FIN_WAIT1", "FIN_WAIT2")


def test_a_watch_that_stopped_asking_is_dropped(pair: Pair) -> None:
    poller = SharedPoller(lease_ns=1_000_000_000)
    try:
        w = ClosedWatch(poller)
        w.remember(closed("gone-lab", pair))
        t = time.monotonic_ns()
        w.poll(Recorder(), t)  # type: ignore[arg-type]
        assert poller.watched() == {pair.c}
        poller.read(99, [], t + 2_000_000_000)  # another lab asks, long after
        assert poller.watched() == set()
    finally:
        poller.close()


def test_two_running_labs_ask_the_kernel_about_once_per_interval_between_them() -> None:
    labs = [LabDriver(LabPolicy()) for _ in range(2)]
    try:
        for lab in labs:  # a connection in TIME_WAIT in each: watched for a minute
            port = lab.server()
            lab.ok({"op": "socket", "name": "cli"})
            lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
            lab.ok({"op": "accept", "socket": "srv"})
            lab.ok({"op": "close", "socket": "cli"})
            lab.ok({"op": "close", "socket": "conn"})
        for lab in labs:
            wait_until(
                lambda lab=lab: any(e.state == "TIME_WAIT" for e in lab.events("linger")),  # type: ignore[attr-defined]
                what="cli in TIME_WAIT",
            )
        queries, reads = watch.POLLER.queries, watch.POLLER.reads
        wait_until(lambda: watch.POLLER.reads - reads >= 16, 10, "16 polls between two labs")
        asked = watch.POLLER.queries - queries
        answered = watch.POLLER.reads - reads
        # One query per lab poll would make asked == answered; shared, about half.
        assert asked <= 0.75 * answered, (asked, answered)
        assert watch.POLLER.source == "sock_diag"
    finally:
        for lab in labs:
            lab.close()


class Garbled:
    """A reader whose kernel reply cannot be parsed (an NLMSG_OVERRUN, say)."""

    closed = 0

    def lookup(self, conns: Any) -> dict[Any, str | None]:
        raise DiagFormatError("an overrun")

    def close(self) -> None:
        Garbled.closed += 1


def test_a_reply_it_cannot_read_is_a_failed_query_not_a_lab_error(pair: Pair) -> None:
    """Like an OSError: counted, the reader closed (opened again next time), no state known;
    before, DiagFormatError went up into every watching lab's loop."""
    poller = SharedPoller(opener=lambda: (Garbled(), "sock_diag"))
    got = poller.read(1, [pair.c], 0)
    assert got.state(pair.c, 0) == (False, None)
    assert poller.failed == 1 and Garbled.closed == 1
    poller.read(1, [pair.c], poller.interval_ns)
    assert poller.failed == 2 and Garbled.closed == 2  # opened again, failed again
