"""The claim checks are pure: fed made-up records, they fail when the evidence says so."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from sockscope.events import (
    CallEvent,
    CallStartedEvent,
    SegmentEvent,
    SelectEvent,
    SocketEvent,
    SocketInfo,
)
from sockscope.lessons import checks
from sockscope.lessons.checks import RunRecord

_seq = itertools.count(1)


def call(socket: str, op: str, *, errno: str | None = None, result: Any = None) -> CallEvent:
    seq = next(_seq)
    return CallEvent(
        seq=seq,
        t_ns=seq,
        call_id=seq,
        socket=socket,
        op=op,
        line=f"{socket}.{op}()",
        via="command",
        asked=None,
        done=None,
        data=None,
        result=result,
        result_text=errno or repr(result),
        errno=errno,
        error=None,
        started_ns=0,
        duration_ns=1,
    )


def bound(name: str, local: tuple[str, int]) -> SocketEvent:
    info = SocketInfo(
        name=name,
        fd=3,
        role="connected",
        local=local,
        peer=None,
        blocking=True,
        timeout=None,
        origin="socket",
        listener=None,
        auto_accept=False,
        auto_recv="off",
        bufsize=1,
        eof=False,
        pending_out=0,
        watch_read=False,
        watch_write=False,
        network="host",
        family="AF_INET",
        type="SOCK_STREAM",
        dup_of=None,
    )
    return SocketEvent(seq=next(_seq), t_ns=0, info=info)


def test_a_listener_that_moved_data_fails_claim_1() -> None:
    record = RunRecord(
        events=[
            call("srv", "accept", result={"socket": "conn"}),
            call("srv", "recv", result=5),  # impossible on Linux: exactly what the check rejects
        ]
    )
    passed, observed = checks.listener_moves_no_data(record, listener="srv")
    assert passed is False and "srv.recv()" in observed


def test_claim_1_waits_for_evidence() -> None:
    assert checks.listener_moves_no_data(RunRecord(), listener="srv")[0] is None


def info_event(
    name: str,
    local: tuple[str, int],
    peer: tuple[str, int] | None = None,
    listener: str | None = None,
) -> SocketEvent:
    event = bound(name, local)
    return SocketEvent(
        seq=event.seq, t_ns=0, info=dataclasses.replace(event.info, peer=peer, listener=listener)
    )


SERVER = ("127.0.0.1", 20001)


def two_connections(a_port: int, b_port: int, conn_peers: tuple[int, int]) -> list[Any]:
    return [
        info_event("srv", SERVER),
        info_event("a", ("127.0.0.1", a_port), SERVER),
        info_event("b", ("127.0.0.1", b_port), SERVER),
        info_event("ca", SERVER, ("127.0.0.1", conn_peers[0]), listener="srv"),
        info_event("cb", SERVER, ("127.0.0.1", conn_peers[1]), listener="srv"),
    ]


def test_claim_4_pairs_each_client_with_the_socket_whose_peer_it_is() -> None:
    record = RunRecord(events=two_connections(50000, 50001, (50001, 50000)))  # any order
    passed, observed = checks.ephemeral_ports(record, clients=["a", "b"], listener="srv")
    assert passed is True, observed
    assert "127.0.0.1:20001 <-> 127.0.0.1:50000 (a)" in observed


def test_an_accepted_socket_that_is_no_clients_peer_fails_claim_4() -> None:
    """Zipping lists would pair a with ca; here ca's peer is a port no client has."""
    record = RunRecord(events=two_connections(50000, 50001, (50002, 50001)))
    passed, observed = checks.ephemeral_ports(record, clients=["a", "b"], listener="srv")
    assert passed is False and "0 accepted sockets have 127.0.0.1:50000 as peer" in observed


def test_two_clients_on_one_port_fail_claim_4() -> None:
    record = RunRecord(events=two_connections(50000, 50000, (50000, 50000)))
    passed, observed = checks.ephemeral_ports(record, clients=["a", "b"], listener="srv")
    assert passed is False and "[50000, 50000]" in observed


def test_a_client_that_chose_its_port_fails_claim_4() -> None:
    events = two_connections(50000, 50001, (50000, 50001))
    record = RunRecord(events=[call("a", "bind"), *events])
    passed, observed = checks.ephemeral_ports(record, clients=["a", "b"], listener="srv")
    assert passed is False and "a chose its own port with bind()" in observed


def test_tcp_faster_than_both_fails_claim_5() -> None:
    record = RunRecord(
        data={
            "ipc": [
                {"channel": "tcp", "bytes": 10**6, "runs_s": [0.001]},
                {"channel": "unix", "bytes": 10**6, "runs_s": [0.002]},
                {"channel": "pipe", "bytes": 10**6, "runs_s": [0.003]},
            ]
        }
    )
    passed, observed = checks.ipc_faster_than_tcp(record)
    assert passed is False and "tcp 1000 MB/s" in observed


def test_claim_5_judges_the_fastest_run() -> None:
    record = RunRecord(
        data={
            "ipc": [
                {"channel": "tcp", "bytes": 10**6, "runs_s": [0.002, 0.002]},
                {"channel": "unix", "bytes": 10**6, "runs_s": [0.009, 0.001]},  # one noisy run
                {"channel": "pipe", "bytes": 10**6, "runs_s": [0.0015]},
            ]
        }
    )
    assert checks.ipc_faster_than_tcp(record)[0] is True


def test_a_pipe_slower_than_tcp_fails_claim_5_even_if_the_unix_socket_wins() -> None:
    """The claim is about both roads: the better of the two beating TCP is not enough."""
    record = RunRecord(
        data={
            "ipc": [
                {"channel": "tcp", "bytes": 10**6, "runs_s": [0.002]},
                {"channel": "unix", "bytes": 10**6, "runs_s": [0.001]},
                {"channel": "pipe", "bytes": 10**6, "runs_s": [0.003]},
            ]
        }
    )
    passed, observed = checks.ipc_faster_than_tcp(record)
    assert passed is False and "pipe 333 MB/s" in observed


def test_a_recv_ended_by_its_timeout_fails_claim_9() -> None:
    """It waited long enough, but a timeout ended it: not a recv that waits on silence."""
    started = CallStartedEvent(
        seq=800, t_ns=0, call_id=800, socket="conn", op="recv", line="conn.recv(1024)"
    )
    done = CallEvent(
        **{**_fields(call("conn", "recv", errno="timeout")), "call_id": 800,
           "duration_ns": 3_000_000_000}
    )  # fmt: skip
    passed, observed = checks.recv_waits(
        RunRecord(events=[started, done]), socket="conn", peer="cli", seconds=2
    )
    assert passed is False and "ended without cli closing" in observed


def test_a_shutdown_before_the_wait_does_not_prove_claim_18() -> None:
    """The recv() returned b'' after a shutdown, but the shutdown came before it began."""
    shut = call("conn", "shutdown")
    started = CallStartedEvent(
        seq=next(_seq), t_ns=0, call_id=901, socket="conn", op="recv", line="conn.recv(1024)"
    )
    done = CallEvent(
        **{**_fields(call("conn", "recv", result=0)), "call_id": 901, "done": 0,
           "duration_ns": 3_000_000_000}
    )  # fmt: skip
    passed, observed = checks.stuck_thread(
        RunRecord(events=[shut, started, done]), socket="conn", seconds=2
    )
    assert passed is False and "nothing outside the thread ended it" in observed


def test_a_peer_that_closed_first_leaves_nothing_for_claim_16s_close_check() -> None:
    """conn closed first: cli's close() is the passive one, no FIN_WAIT2 and no TIME_WAIT."""
    from sockscope.events import LingerEvent

    first = call("conn", "close")
    second = call("cli", "close")
    gone = LingerEvent(seq=next(_seq), t_ns=0, socket="cli", local=("127.0.0.1", 1),
                       peer=("127.0.0.1", 2), state=None)  # fmt: skip
    passed, observed = checks.close_is_not_the_end(
        RunRecord(events=[first, second, gone]), closer="cli", peer="conn"
    )
    assert passed is False and "None" in observed


def test_the_same_bytes_in_both_runs_fail_claim_14() -> None:
    run = {"value": 1, "wire": "00 00 00 01", "right": 1, "wrong": 16777216}
    record = RunRecord(data={"byteorder": [{**run, "fmt": "!I"}, {**run, "fmt": "!I"}]})
    assert checks.byte_order_matters(record)[0] is None  # no '<' run: nothing compared
    record = RunRecord(data={"byteorder": [{**run, "fmt": "!I"}, {**run, "fmt": "<I"}]})
    passed, observed = checks.byte_order_matters(record)  # '<' must have reversed them
    assert passed is False and "as '<I' crossed the wire as 00 00 00 01" in observed


def test_a_reply_refused_after_shut_wr_fails_claim_15() -> None:
    shut = CallEvent(**{**_fields(call("cli", "shutdown")), "line": "cli.shutdown(socket.SHUT_WR)"})
    eof = CallEvent(**{**_fields(call("conn", "recv", result=0)), "done": 0})
    refused = call("conn", "send", errno="EPIPE")  # as after a full close, not a half-close
    passed, observed = checks.half_close(RunRecord(events=[shut, eof, refused]), closer="cli",
                                         peer="conn")  # fmt: skip
    assert passed is False and "EPIPE" in observed
    assert checks.half_close(RunRecord(events=[shut]), closer="cli", peer="conn")[0] is None


def test_a_recv_that_returned_by_itself_fails_claim_18() -> None:
    started = CallStartedEvent(
        seq=900, t_ns=0, call_id=900, socket="conn", op="recv", line="conn.recv(1024)"
    )
    done = CallEvent(
        **{
            **_fields(call("conn", "recv", result=5)),
            "call_id": 900,
            "duration_ns": 3_000_000_000,
            "result_text": "b'hello' (5 bytes)",
        }
    )
    passed, observed = checks.stuck_thread(
        RunRecord(events=[started, done]), socket="conn", seconds=2
    )
    assert passed is False and "b'hello'" in observed


def test_select_that_waits_fails_claim_21() -> None:
    slow = SelectEvent(
        seq=1,
        t_ns=0,
        iteration=1,
        readers=[],
        writers=["cli"],
        errors=[],
        timeout=0.25,
        ready_readers=[],
        ready_writers=["cli"],
        ready_errors=[],
        blocked_ns=200_000_000,
        woken=False,
        idle_before=0,
    )
    passed, _ = checks.writable_spins(RunRecord(events=[slow] * 150), socket="cli", at_least=100)
    assert passed is False


def test_claims_20_and_22_wait_for_their_evidence() -> None:
    assert checks.select_reports_ready(RunRecord(), listener="srv", connector="cli")[0] is None
    assert checks.select_on_blocking(RunRecord(), socket="conn")[0] is None


def _fields(event: CallEvent) -> dict[str, Any]:
    return {f: getattr(event, f) for f in event.__dataclass_fields__}


def test_a_select_server_with_many_workers_fails_claim_23() -> None:
    def shape(name: str, workers: int, blocked: int) -> dict[str, Any]:
        return {"shape": name, "label": name, "clients": 4, "served": 4, "seconds": 0.3,
                "peak_workers": workers, "peak_blocked": blocked}  # fmt: skip

    record = RunRecord(data={"shapes": [shape("thread", 4, 4), shape("process", 4, 4),
                                        shape("select", 4, 4)]})  # fmt: skip
    passed, observed = checks.three_shapes(record)
    assert passed is False and "select: served 4/4" in observed


def sized(
    socket: str, op: str, asked: int | None, done: int | None, errno: str | None = None
) -> CallEvent:
    made = call(socket, op, errno=errno)
    return dataclasses.replace(made, asked=asked, done=done, result_text=errno or str(done))


def datagram_run(tail_kept: bool, empty_ends: bool) -> RunRecord:
    events: list[Any] = [
        sized("cli", "sendto", 5, 5),
        sized("cli", "sendto", 5, 5),
        sized("srv", "recvfrom", 1024, 5),
        sized("srv", "recvfrom", 3, 3),
        sized("srv", "recvfrom", 1024, 2)
        if tail_kept
        else sized("srv", "recvfrom", 1024, None, "EAGAIN"),
        sized("cli", "sendto", 0, 0),
        sized("srv", "recvfrom", 1024, 0),
        sized("cli", "sendto", 5, 5),
        sized("srv", "recvfrom", 1024, 5),
    ]
    srv = bound("srv", ("127.0.0.1", 20001))
    events.append(dataclasses.replace(srv, info=dataclasses.replace(srv.info, eof=empty_ends)))
    return RunRecord(events=events)


def test_claim_31_passes_only_when_the_short_reads_rest_is_gone_and_b_empty_ends_nothing() -> None:
    assert checks.datagrams_keep_edges(datagram_run(False, False), sender="cli", receiver="srv")[0]
    kept, observed = checks.datagrams_keep_edges(
        datagram_run(True, False), sender="cli", receiver="srv"
    )
    assert kept is False and "recvfrom() -> 2" in observed  # the tail came: a stream, not datagrams
    ended, _ = checks.datagrams_keep_edges(datagram_run(False, True), sender="cli", receiver="srv")
    assert ended is False


def test_claim_31_fails_at_once_when_one_read_took_both_messages() -> None:
    run = RunRecord(
        events=[
            sized("cli", "send", 5, 5),
            sized("cli", "send", 5, 5),
            sized("conn", "recv", 1024, 10),
        ]
    )
    passed, observed = checks.datagrams_keep_edges(run, sender="cli", receiver="conn")
    assert passed is False and "no read yet smaller" in observed


def v6_info(
    name: str, family: str, local: tuple[str, int], peer: tuple[str, int] | None
) -> SocketEvent:
    event = info_event(name, local, peer)
    return dataclasses.replace(event, info=dataclasses.replace(event.info, family=family))  # type: ignore[arg-type]


def test_claim_33_needs_the_mapped_address_and_the_v6only_refusal() -> None:
    def record(
        peer_host: str, v6only: int, refused: str | None, port: int = 20002, native: str = "::1"
    ) -> RunRecord:
        flag = dataclasses.replace(
            call("only6", "setsockopt"),
            line=f"only6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, {v6only})",
        )
        tried = dataclasses.replace(
            call("late4", "connect", errno=refused),
            line=f"late4.connect(('127.0.0.1', {port}))",
        )
        return RunRecord(events=[
            v6_info("cli4", "AF_INET", ("127.0.0.1", 41000), ("127.0.0.1", 20001)),
            v6_info("conn", "AF_INET6", ("::ffff:127.0.0.1", 20001), (peer_host, 41000)),
            v6_info("conn6", "AF_INET6", ("::1", 20001), (native, 41002)),
            v6_info("only6", "AF_INET6", ("::", 20002), None),
            flag,
            tried,
        ])  # fmt: skip

    params = {
        "mapped": "conn",
        "client4": "cli4",
        "native": "conn6",
        "only": "only6",
        "refused": "late4",
    }
    assert checks.dual_stack(record("::ffff:127.0.0.1", 1, "ECONNREFUSED"), **params)[0] is True
    assert checks.dual_stack(record("127.0.0.1", 1, "ECONNREFUSED"), **params)[0] is False
    assert checks.dual_stack(record("::ffff:127.0.0.1", 0, None), **params)[0] is False
    # Refused at another port proves nothing about only6; a mapped peer is not an IPv6 one.
    assert (
        checks.dual_stack(record("::ffff:127.0.0.1", 1, "ECONNREFUSED", port=20999), **params)[0]
        is False
    )
    assert (
        checks.dual_stack(
            record("::ffff:127.0.0.1", 1, "ECONNREFUSED", native="::ffff:127.0.0.1"), **params
        )[0]
        is False
    )


# -- the wire's evidence ------------------------------------------------------------------


def segment(sender: str, receiver: str, flags: str, *, length: int = 0, wire_ns: int | None = None,
            notes: tuple[str, ...] = ()) -> SegmentEvent:  # fmt: skip
    seq = next(_seq)
    return SegmentEvent(
        seq=seq, t_ns=seq, wire_ns=seq if wire_ns is None else wire_ns, frame=seq, sender=sender,
        receiver=receiver, src=("127.0.0.1", 1), dst=("127.0.0.1", 2), flags=flags, rel_seq=1,
        rel_ack=1, length=length, window=100, wscale=None, mss=None,
        offset=0 if length else None, notes=notes,
    )  # fmt: skip


def test_the_wire_cites_what_it_saw_and_says_when_it_saw_nothing() -> None:
    from sockscope.lessons import wire

    events = [call("cli", "close"), segment("cli", "conn", "FIN ACK")]
    fin = wire.first(events, "cli", "FIN")
    assert fin is not None and wire.name(fin) == f"cli's FIN (frame {fin.frame})"
    assert (
        wire.cite("x", [wire.name(fin)], events, "cli")
        == f"x; on the wire: cli's FIN (frame {fin.frame})"
    )
    assert wire.cite("x", [], [call("cli", "close")], "cli") == f"x; {wire.NO_CAPTURE}"
    # a segment the kernel saw before the run began is an earlier run's, handed over late
    stale = segment("cli", "conn", "FIN ACK", wire_ns=0)
    assert wire.first([call("cli", "close"), stale], "cli", "FIN") is None


def test_a_reset_from_a_full_listener_contradicts_the_queue() -> None:
    events = [call("c4", "connect", errno="EINPROGRESS"), segment("srv", "c4", "RST ACK"),
              call("srv", "accept")]  # fmt: skip
    passed, observed = checks.backlog_queue(RunRecord(events=events), listener="srv", backlog=2,
                                            clients=["c4"])  # fmt: skip
    assert passed is False and "on the wire: srv's RST" in observed


def test_a_fin_that_reached_the_waiting_socket_means_the_peer_was_not_dead() -> None:
    gone = call("cli", "close")
    timed = dataclasses.replace(call("conn", "recv", errno="timeout"), started_ns=gone.t_ns,
                                duration_ns=3_000_000_000)  # fmt: skip
    fin = segment("lnk", "conn", "FIN ACK", wire_ns=gone.t_ns + 5)
    record = RunRecord(events=[gone, fin, timed], observations={"st": "ESTABLISHED"})
    passed, observed = checks.dead_peer_hangs(record, socket="conn", peer="cli", state="st",
                                              seconds=2)  # fmt: skip
    assert passed is False and "lnk's FIN" in observed
