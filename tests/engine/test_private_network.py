"""The lab's private network: its own 127.0.0.1, whose cable can be pulled out for real.

These tests need a kernel that gives a process a network namespace (root, or
unprivileged user namespaces). The CI machine does; where it does not, the first
test fails and says why rather than letting the others skip.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine import privnet
from sockscope.events import NetworkEvent, ProbeEvent

from helpers import wait_until


def test_this_machine_gives_a_private_network() -> None:
    possible, how = privnet.availability()
    assert possible, f"the private-network tests need a network namespace here: {how}"


def private_pair(lab: Any, timeout_ms: int | None = None) -> None:
    """psrv listening, pcli connected to it, pconn accepted: all in the private network."""
    lab.server("psrv", network="private")
    port = lab.sock("psrv")["local"][1]
    lab.ok({"op": "socket", "name": "pcli", "options": {"network": "private"}})
    if timeout_ms is not None:
        lab.ok({"op": "setsockopt", "socket": "pcli", "option": "TCP_USER_TIMEOUT",
                "value": timeout_ms})  # fmt: skip
    lab.ok({"op": "connect", "socket": "pcli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "psrv", "name": "pconn"})


def test_private_sockets_talk_to_each_other_and_say_where_they_live(lab) -> None:  # type: ignore[no-untyped-def]
    private_pair(lab)
    lab.ok({"op": "send", "socket": "pcli", "text": "hello"})
    got = lab.ok({"op": "recv", "socket": "pconn", "bufsize": 100})
    assert got.result["len"] == 5 and lab.calls("pconn", "recv")[0].data.head == "b'hello'"
    assert {lab.sock(n)["network"] for n in ("psrv", "pcli", "pconn")} == {"private"}
    networks = [e for e in lab.events("network") if isinstance(e, NetworkEvent)]
    assert [e.state for e in networks] == ["plugged"]
    assert lab.snapshot()["network"]["plugged"] is True
    line = lab.calls("pcli", "socket")[0].line
    assert line.endswith("# in the lab's private network")


def host_free_port(lab: Any, name: str = "probe") -> int:
    """A lab port nothing holds on this machine right now (found by a host bind, then freed)."""
    port: int = lab.server(name)
    lab.ok({"op": "close", "socket": name})
    return port


def test_the_machines_loopback_does_not_reach_a_private_listener(lab) -> None:  # type: ignore[no-untyped-def]
    port = host_free_port(lab)
    lab.ok({"op": "socket", "name": "psrv", "options": {"network": "private"}})
    lab.ok({"op": "bind", "socket": "psrv", "address": ["127.0.0.1", port]})
    lab.ok({"op": "listen", "socket": "psrv"})
    lab.ok({"op": "socket", "name": "outside"})
    refused = lab.run({"op": "connect", "socket": "outside", "address": ["127.0.0.1", port]})
    assert not refused.ok and refused.error["errno"] == "ECONNREFUSED"
    assert lab.sock("outside")["network"] == "host"


def test_a_cut_cable_makes_tcp_retransmit_then_give_up_with_etimedout(lab) -> None:  # type: ignore[no-untyped-def]
    private_pair(lab, timeout_ms=1500)
    assert lab.ok({"op": "cable", "plugged": False}).result == {"plugged": False}
    assert lab.snapshot()["network"]["plugged"] is False
    sent = lab.ok({"op": "send", "socket": "pcli", "text": "are you there?"})
    assert sent.result == 14  # the kernel takes the bytes: send() cannot know the cable is out
    ended = lab.run({"op": "recv", "socket": "pcli", "bufsize": 100}, timeout=10)
    assert not ended.ok and ended.error["errno"] == "ETIMEDOUT"
    retransmits = [
        e.figures.total_retrans or 0
        for e in lab.events("probe")
        if isinstance(e, ProbeEvent) and e.socket == "pcli"
    ]
    assert max(retransmits) >= 2, retransmits
    quiet = lab.sock("pconn")
    assert quiet["figures"]["state"] == "ESTABLISHED" and quiet["figures"]["recv_queue"] == 0


def test_plugged_back_the_silent_side_learns_with_a_reset(lab) -> None:  # type: ignore[no-untyped-def]
    private_pair(lab, timeout_ms=1000)
    lab.ok({"op": "cable", "plugged": False})
    lab.ok({"op": "send", "socket": "pcli", "text": "x"})
    assert lab.run({"op": "recv", "socket": "pcli", "bufsize": 1}, timeout=10).error["errno"] == (
        "ETIMEDOUT"
    )
    lab.ok({"op": "cable", "plugged": True})
    lab.ok({"op": "send", "socket": "pconn", "text": "still there?"})
    reset = lab.run({"op": "recv", "socket": "pconn", "bufsize": 100}, timeout=10)
    assert not reset.ok and reset.error["errno"] == "ECONNRESET"


def test_no_cable_to_pull_before_a_private_socket_exists(lab) -> None:  # type: ignore[no-untyped-def]
    refused = lab.run({"op": "cable", "plugged": False})
    assert refused.status == 409 and 'network = "private"' in refused.error["message"]
    bad = lab.run({"op": "socket", "name": "s", "options": {"network": "elsewhere"}})
    assert bad.status == 400 and bad.error["field"] == "options.network"
    assert lab.run({"op": "cable"}).error["field"] == "plugged"


def test_a_machine_without_namespaces_gets_a_reason_and_the_lab_goes_on(  # type: ignore[no-untyped-def]
    lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> privnet.PrivateNetwork:
        raise privnet.Unavailable("unshare(CLONE_NEWNET) was refused (Operation not permitted)")

    monkeypatch.setattr(privnet.PrivateNetwork, "start", staticmethod(refuse))
    refused = lab.run({"op": "socket", "name": "p", "options": {"network": "private"}})
    assert refused.status == 409 and refused.error["field"] == "options.network"
    assert "Operation not permitted" in refused.error["message"]
    assert "p" not in [s["name"] for s in lab.snapshot()["sockets"]]
    lab.server("srv")  # the lab goes on


def test_closing_the_lab_ends_its_helper_process(lab) -> None:  # type: ignore[no-untyped-def]
    lab.server("psrv", network="private")
    process = lab.engine.private.process
    assert process.poll() is None
    lab.close()
    assert wait_until(lambda: process.poll() is not None, 5, "the helper to exit")


def test_the_helper_exits_when_its_lab_side_vanishes() -> None:
    network = privnet.PrivateNetwork.start()
    network._channel.close()
    assert wait_until(lambda: network.process.poll() is not None, 5, "the helper to exit")
    assert network.process.returncode == 0


def test_bind_port_zero_probes_ports_in_the_private_network(lab) -> None:  # type: ignore[no-untyped-def]
    host_port = lab.server("hsrv")
    private_port = lab.server("psrv", network="private")
    # hsrv holds host_port on the machine; the private network is empty, so its first
    # free port is the range's first, whatever the machine's loopback holds.
    assert host_port >= lab.policy.port_min and private_port == lab.policy.port_min


def test_fresh_private_networks_bind_their_first_free_port(policy) -> None:  # type: ignore[no-untyped-def]
    """bind(port 0) probes with a throwaway socket from the helper: the helper must have let
    go of it before the lab closes it, or the port stays bound (EADDRINUSE, seen in 1 of 4
    fresh labs before the helper said so)."""
    for _ in range(30):
        lab = LabDriver(policy)
        try:
            assert lab.server("psrv", network="private") == policy.port_min
        finally:
            lab.close()


def test_the_same_four_tuple_in_both_networks_pairs_within_each(lab) -> None:  # type: ignore[no-untyped-def]
    """127.0.0.1:A -> 127.0.0.1:B can exist on the machine and in the private network at once."""
    server_port, client_port = lab.server("probe1"), lab.server("probe2")  # free on the host
    lab.ok({"op": "close", "socket": "probe1"})
    lab.ok({"op": "close", "socket": "probe2"})
    for suffix, network in (("h", "host"), ("p", "private")):
        lab.ok({"op": "socket", "name": f"srv{suffix}", "options": {"network": network}})
        lab.ok({"op": "bind", "socket": f"srv{suffix}", "address": ["127.0.0.1", server_port]})
        lab.ok({"op": "listen", "socket": f"srv{suffix}"})
        lab.ok({"op": "socket", "name": f"cli{suffix}", "options": {"network": network}})
        lab.ok({"op": "bind", "socket": f"cli{suffix}", "address": ["127.0.0.1", client_port]})
        lab.ok({"op": "connect", "socket": f"cli{suffix}",
                "address": ["127.0.0.1", server_port]})  # fmt: skip
        lab.ok({"op": "accept", "socket": f"srv{suffix}", "name": f"conn{suffix}"})
    assert lab.sock("clih")["local"] == lab.sock("clip")["local"]
    engine = lab.engine
    for suffix in ("h", "p"):
        peer = engine.local_peer(engine.sockets[f"cli{suffix}"])
        assert peer is not None and peer.name == f"conn{suffix}"


def test_a_killed_helper_gets_a_plain_reason_and_the_lab_goes_on(lab) -> None:  # type: ignore[no-untyped-def]
    private_pair(lab)
    lab.ok({"op": "socket", "name": "spare", "options": {"network": "private"}})
    helper = lab.engine.private.process
    helper.kill()
    helper.wait(5)
    answers = [
        lab.run({"op": "socket", "name": "late", "options": {"network": "private"}}),
        lab.run({"op": "bind", "socket": "spare", "address": ["127.0.0.1", 0]}),
    ]
    for answer in answers:
        assert answer.status == 409, answer.error
        assert "helper process exited (code -9)" in answer.error["message"], answer.error
    lab.ok({"op": "cable", "plugged": False})  # the cable is the sockets' own: no helper
    lab.ok({"op": "cable", "plugged": True})
    lab.ok({"op": "send", "socket": "pcli", "text": "hi"})  # its sockets still work
    assert lab.ok({"op": "recv", "socket": "pconn", "bufsize": 10}).result["len"] == 2
    lab.server("hsrv")  # and so does the rest of the lab
    lab.engine.reset("fresh").result(10)
    lab.server("psrv2", network="private")  # a reset makes a new private network


def test_a_helper_that_stops_answering_is_stopped_not_misread(  # type: ignore[no-untyped-def]
    lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privnet, "REPLY_TIMEOUT", 0.5)
    lab.server("psrv", network="private")
    helper = lab.engine.private.process
    os.kill(helper.pid, signal.SIGSTOP)
    try:
        stuck = lab.run({"op": "socket", "name": "late", "options": {"network": "private"}})
    finally:
        with contextlib.suppress(ProcessLookupError):  # too late: its answer is never read
            os.kill(helper.pid, signal.SIGCONT)
    assert stuck.status == 409 and "stopped answering" in stuck.error["message"]
    assert wait_until(lambda: helper.poll() is not None, 5, "the stuck helper to be stopped")
    again = lab.run({"op": "socket", "name": "later", "options": {"network": "private"}})
    assert again.status == 409 and "stopped answering" in again.error["message"]


def test_a_reset_forgets_private_connections_without_calling_them_gone(lab) -> None:  # type: ignore[no-untyped-def]
    private_pair(lab)
    lab.ok({"op": "cable", "plugged": False})
    lab.ok({"op": "close", "socket": "pcli"})  # its FIN cannot leave: FIN_WAIT1, kept
    wait_until(
        lambda: any(e.socket == "pcli" and e.state for e in lab.events("linger")),  # type: ignore[attr-defined]
        3,
        "pcli to linger",
    )
    lab.engine.reset("fresh").result(10)
    after = lab.engine.log.last_seq
    time.sleep(1.0)  # four probe periods: before the fix, pcli was called gone within one
    gone = [e for e in lab.events("linger") if e.seq > after and e.state is None]  # type: ignore[attr-defined]
    assert gone == []


def test_keepalive_lets_the_silent_side_notice_a_pulled_cable(lab) -> None:  # type: ignore[no-untyped-def]
    """The side with nothing to send hears nothing, unless it probes: SO_KEEPALIVE."""
    private_pair(lab)
    for option, value in (("SO_KEEPALIVE", 1), ("TCP_KEEPIDLE", 1), ("TCP_KEEPINTVL", 1),
                          ("TCP_KEEPCNT", 2)):  # fmt: skip
        lab.ok({"op": "setsockopt", "socket": "pconn", "option": option, "value": value})
    lab.ok({"op": "cable", "plugged": False})
    started = time.monotonic()
    ended = lab.run({"op": "recv", "socket": "pconn", "bufsize": 100}, timeout=15)
    assert not ended.ok and ended.error["errno"] == "ETIMEDOUT"
    assert 2.0 <= time.monotonic() - started < 10  # idle 1 s, then 2 unanswered probes


def test_a_refusal_in_a_container_names_the_compose_file_that_allows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCKSCOPE_IN_CONTAINER", "1")
    assert "compose.private-network.yml" in privnet._how_to_allow()
    monkeypatch.setenv("SOCKSCOPE_IN_CONTAINER", "0")
    assert "compose" not in privnet._how_to_allow()
