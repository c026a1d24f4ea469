"""The claim checks are pure: fed made-up records, they fail when the evidence says so."""

from __future__ import annotations

import itertools
from typing import Any

from sockscope.events import CallEvent, SocketEvent, SocketInfo
from sockscope.lessons import checks
from sockscope.lessons.checks import RunRecord

_seq = itertools.count(1)


def call(socket: str, op: str, *, errno: str | None = None, result: Any = None) -> CallEvent:
    seq = next(_seq)
    return CallEvent(
        seq=seq, t_ns=seq, call_id=seq, socket=socket, op=op, line=f"{socket}.{op}()",
        via="command", asked=None, done=None, data=None, result=result,
        result_text=errno or repr(result), errno=errno, error=None, started_ns=0, duration_ns=1,
    )  # fmt: skip


def bound(name: str, local: tuple[str, int]) -> SocketEvent:
    info = SocketInfo(
        name=name, fd=3, role="connected", local=local, peer=None, blocking=True, timeout=None,
        origin="socket", listener=None, auto_accept=False, auto_recv="off", bufsize=1, eof=False,
        pending_out=0,
    )  # fmt: skip
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


def test_two_clients_on_one_port_fail_claim_4() -> None:
    record = RunRecord(
        events=[
            bound("a", ("127.0.0.1", 50000)),
            bound("b", ("127.0.0.1", 50000)),
            bound("ca", ("127.0.0.1", 40000)),
            bound("cb", ("127.0.0.1", 40000)),
        ]
    )
    passed, observed = checks.ephemeral_ports(record, clients=["a", "b"], server_conns=["ca", "cb"])
    assert passed is False and "[50000, 50000]" in observed


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
            ]
        }
    )
    assert checks.ipc_faster_than_tcp(record)[0] is True
