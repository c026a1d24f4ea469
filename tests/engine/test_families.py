"""UDP, IPv6 and dup(): the socket types, families and references a lab can make, on the
real kernel (127.0.0.1 and ::1, ports of the lab range)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine import machine
from sockscope.engine.core.commands import parse_command
from sockscope.events import SocketEvent


def wait_until(test: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def state(lab: LabDriver, name: str) -> str | None:
    figures = lab.sock(name)["figures"] or {}
    value: str | None = figures.get("state")
    return value


def udp(lab: LabDriver, name: str, **options: Any) -> int:
    lab.ok({"op": "socket", "name": name, "options": {"type": "SOCK_DGRAM", **options}})
    bound = lab.ok({"op": "bind", "socket": name, "address": ["127.0.0.1", 0]})
    port: int = bound.result["address"][1]
    return port


needs_ipv6 = pytest.mark.skipif(
    machine.ipv6_missing() is not None, reason="this kernel has no IPv6 loopback (::1)"
)


# -- UDP -----------------------------------------------------------------------------------


def test_two_datagrams_are_two_recvfroms_and_a_short_buffer_truncates(lab: LabDriver) -> None:
    port = udp(lab, "srv")
    lab.ok({"op": "socket", "name": "cli", "options": {"type": "SOCK_DGRAM"}})
    for text in ("hello", "world"):
        sent = lab.ok(
            {"op": "sendto", "socket": "cli", "text": text, "address": ["127.0.0.1", port]}
        )
        assert sent.result == 5
    assert lab.sock("cli")["local"] is not None  # sendto() bound it to a port of its own
    assert lab.sock("cli")["role"] == "bound"
    first = lab.ok({"op": "recvfrom", "socket": "srv", "bufsize": 1024})
    assert first.result["len"] == 5 and first.result["eof"] is False
    assert lab.sock("cli")["local"][0] == "0.0.0.0"  # the kernel bound it to the wildcard
    assert first.result["address"] == ["127.0.0.1", lab.sock("cli")["local"][1]]
    short = lab.ok({"op": "recvfrom", "socket": "srv", "bufsize": 3})
    assert short.result["len"] == 3  # the rest of "world" is gone
    lab.ok({"op": "setblocking", "socket": "srv", "flag": False})
    empty = lab.run({"op": "recvfrom", "socket": "srv", "bufsize": 1024})
    assert not empty.ok and empty.error["errno"] == "EAGAIN"
    texts = [c.result_text for c in lab.calls("srv", "recvfrom")]
    assert texts[0].startswith("(b'hello', ('127.0.0.1', ")
    assert texts[1].startswith("(b'wor', ")


def test_an_empty_datagram_is_not_the_end_of_anything(lab: LabDriver) -> None:
    port = udp(lab, "srv")
    lab.ok({"op": "socket", "name": "cli", "options": {"type": "SOCK_DGRAM"}})
    lab.ok({"op": "sendto", "socket": "cli", "text": "", "address": ["127.0.0.1", port]})
    got = lab.ok({"op": "recvfrom", "socket": "srv", "bufsize": 16})
    assert got.result["len"] == 0 and got.result["eof"] is False
    assert "a datagram of 0 bytes" in lab.calls("srv", "recvfrom")[-1].result_text
    assert lab.sock("srv")["eof"] is False and lab.sock("srv")["type"] == "SOCK_DGRAM"


def test_a_udp_echo_loop_sends_each_datagram_back_whole(lab: LabDriver) -> None:
    port = udp(lab, "srv", auto_recv="echo")
    lab.ok({"op": "socket", "name": "cli", "options": {"type": "SOCK_DGRAM"}})
    lab.ok({"op": "sendto", "socket": "cli", "text": "ping", "address": ["127.0.0.1", port]})
    lab.ok({"op": "sendto", "socket": "cli", "text": "pong!", "address": ["127.0.0.1", port]})
    wait_until(lambda: len(lab.calls("srv", "sendto")) >= 2, "the echoes")
    one = lab.ok({"op": "recv", "socket": "cli", "bufsize": 64})
    two = lab.ok({"op": "recv", "socket": "cli", "bufsize": 64})
    assert (one.result["len"], two.result["len"]) == (4, 5)


def test_udp_sendto_is_held_to_the_lab_policy(lab: LabDriver) -> None:
    lab.ok({"op": "socket", "name": "cli", "options": {"type": "SOCK_DGRAM"}})
    refused = lab.run({"op": "sendto", "socket": "cli", "text": "x", "address": ["10.1.2.3", 53]})
    assert not refused.ok and refused.error["field"] == "address"
    assert lab.calls("cli", "sendto") == []  # refused before the kernel was asked


def test_listen_on_udp_is_the_kernels_no(lab: LabDriver) -> None:
    udp(lab, "srv")
    result = lab.run({"op": "listen", "socket": "srv"})
    assert not result.ok and result.error["errno"] in ("EOPNOTSUPP", "ENOTSUP")  # one number, 95


# -- dup() ---------------------------------------------------------------------------------


def connected(lab: LabDriver) -> None:
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv", "name": "conn"})


def test_closing_one_of_two_references_sends_no_fin(lab: LabDriver) -> None:
    connected(lab)
    made = lab.ok({"op": "dup", "socket": "conn"})
    assert made.result["socket"] == "conn_dup"
    copy = lab.sock("conn_dup")
    assert copy["origin"] == "dup" and copy["dup_of"] == "conn"
    assert copy["fd"] != lab.sock("conn")["fd"] and copy["local"] == lab.sock("conn")["local"]
    lab.ok({"op": "close", "socket": "conn"})
    notices = [getattr(e, "message", "") for e in lab.events("notice")]
    assert any("conn_dup still refers to the same kernel socket" in m for m in notices)
    lab.ok({"op": "settimeout", "socket": "cli", "timeout": 0.3})
    quiet = lab.run({"op": "recv", "socket": "cli", "bufsize": 64})
    assert not quiet.ok and quiet.error["errno"] == "timeout"  # no FIN came
    assert state(lab, "cli") == "ESTABLISHED"
    lab.ok({"op": "send", "socket": "conn_dup", "text": "still here"})
    assert lab.ok({"op": "recv", "socket": "cli", "bufsize": 64}).result["len"] == 10
    lab.ok({"op": "close", "socket": "conn_dup"})
    assert lab.ok({"op": "recv", "socket": "cli", "bufsize": 64}).result["eof"] is True
    # Only the last reference's connection is followed after its close (FIN_WAIT2 ...).
    wait_until(lambda: any(getattr(e, "state", None) for e in lab.events("linger")), "linger")
    assert {getattr(e, "socket", None) for e in lab.events("linger")} == {"conn_dup"}


def test_shutdown_sends_the_fin_whatever_else_holds_the_socket(lab: LabDriver) -> None:
    connected(lab)
    lab.ok({"op": "dup", "socket": "conn", "name": "other"})
    lab.ok({"op": "shutdown", "socket": "conn", "how": "SHUT_WR"})
    lab.ok({"op": "settimeout", "socket": "cli", "timeout": 2})
    assert lab.ok({"op": "recv", "socket": "cli", "bufsize": 64}).result["eof"] is True
    wait_until(lambda: state(lab, "other") == "FIN_WAIT2", "the copy in FIN_WAIT2")  # one socket


def test_a_dup_name_is_checked_like_any_other(lab: LabDriver) -> None:
    connected(lab)
    taken = lab.run({"op": "dup", "socket": "conn", "name": "cli"})
    assert not taken.ok and taken.error["field"] == "name"
    assert "cli" in {s["name"] for s in lab.snapshot()["sockets"]}


# -- IPv6 ----------------------------------------------------------------------------------


def v6_server(lab: LabDriver, host: str, v6only: bool) -> int:
    options = {"family": "AF_INET6", "v6only": v6only}
    lab.ok({"op": "socket", "name": "srv", "options": options})
    port: int = lab.ok({"op": "bind", "socket": "srv", "address": [host, 0]}).result["address"][1]
    lab.ok({"op": "listen", "socket": "srv"})
    return port


@needs_ipv6
def test_a_dual_stack_listener_takes_an_ipv4_client_as_a_mapped_address(
    lab: LabDriver,
) -> None:
    port = v6_server(lab, "::", v6only=False)
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    accepted = lab.ok({"op": "accept", "socket": "srv", "name": "conn"})
    assert accepted.result["address"][0] == "::ffff:127.0.0.1"
    assert lab.sock("conn")["local"] == ["::ffff:127.0.0.1", port]
    assert lab.sock("conn")["family"] == "AF_INET6"
    assert state(lab, "conn") == "ESTABLISHED"


@needs_ipv6
def test_v6only_refuses_the_ipv4_client(lab: LabDriver) -> None:
    port = v6_server(lab, "::", v6only=True)
    lab.ok({"op": "socket", "name": "cli"})
    refused = lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    assert not refused.ok and refused.error["errno"] == "ECONNREFUSED"


@needs_ipv6
def test_an_ipv6_connection_is_watched_after_close(lab: LabDriver) -> None:
    port = v6_server(lab, "::1", v6only=True)
    lab.ok({"op": "socket", "name": "cli", "options": {"family": "AF_INET6"}})
    lab.ok({"op": "connect", "socket": "cli", "address": ["::1", port]})
    lab.ok({"op": "accept", "socket": "srv", "name": "conn"})
    assert lab.sock("cli")["peer"] == ["::1", port]
    lab.ok({"op": "close", "socket": "cli"})
    wait_until(
        lambda: any(getattr(e, "state", None) == "FIN_WAIT2" for e in lab.events("linger")),
        "cli's connection in FIN_WAIT2",
    )


def test_a_client_may_connect_to_the_ipv6_loopback_but_not_beyond(lab: LabDriver) -> None:
    lab.ok({"op": "socket", "name": "cli", "options": {"family": "AF_INET6"}})
    outside = lab.run({"op": "connect", "socket": "cli", "address": ["2001:db8::1", 20001]})
    assert not outside.ok and outside.error["field"] == "address"
    wrong_port = lab.run({"op": "connect", "socket": "cli", "address": ["::1", 80]})
    assert not wrong_port.ok and wrong_port.error["field"] == "address"


def test_a_copy_made_blocking_makes_the_original_block_too_in_a_worker(lab: LabDriver) -> None:
    """One open file description: the copy's setblocking(True) clears O_NONBLOCK for both.
    conn's recv() then blocks, as it would in a program, in a worker: the lab goes on."""
    connected(lab)
    lab.ok({"op": "setblocking", "socket": "conn", "flag": False})
    lab.ok({"op": "dup", "socket": "conn", "name": "copy"})
    assert lab.sock("conn")["blocking"] is False
    lab.ok({"op": "setblocking", "socket": "copy", "flag": True})
    assert lab.sock("conn")["blocking"] is True  # its own timeout is still 0
    told = [e.info for e in lab.events("socket") if isinstance(e, SocketEvent)]
    assert [i.blocking for i in told if i.name == "conn"][-1] is True  # viewers were told
    waiting = lab.engine.submit(
        parse_command({"op": "recv", "socket": "conn", "bufsize": 64}, lab.policy)
    )
    wait_until(lambda: any(b["op"] == "recv" for b in lab.sock("conn")["blocked"]), "conn blocked")
    lab.ok({"op": "send", "socket": "cli", "text": "wake"})  # the lab thread still answers
    assert waiting.future.result(5).result["len"] == 4


def test_only_a_connected_or_listening_socket_is_copied(lab: LabDriver) -> None:
    lab.ok({"op": "socket", "name": "fresh"})
    refused = lab.run({"op": "dup", "socket": "fresh"})
    assert (
        not refused.ok
        and refused.status == 409
        and "connect, or listen, first" in (refused.error["message"])
    )


def test_a_udp_socket_shut_for_reading_leaves_selects_readers(lab: LabDriver) -> None:
    udp(lab, "srv", auto_recv="discard")
    lab.run(
        {"op": "shutdown", "socket": "srv", "how": "SHUT_RD"}
    )  # ENOTCONN, and shut all the same
    before = len(lab.calls("srv", "recvfrom"))
    time.sleep(0.3)
    assert len(lab.calls("srv", "recvfrom")) == before  # no busy loop of EAGAINs


def test_a_link_is_ipv4_only_and_says_so(lab: LabDriver) -> None:
    refused = lab.run({"op": "link", "name": "lnk", "target": ["::1", 20001]})
    assert not refused.ok and refused.error["field"] == "target"
    assert "IPv4 only" in refused.error["message"]


@needs_ipv6
def test_an_ipv6_socket_takes_a_port_whose_ipv4_side_is_free_too(lab: LabDriver) -> None:
    """Another program (another lab) holds the IPv4 side of the port a V6ONLY socket could
    have: port 0 passes it by, so an IPv4 client of the lab's port meets nobody else's."""
    first = v6_server(lab, "::", v6only=True)
    lab.ok({"op": "close", "socket": "srv"})
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", first))
        other.listen()
        port = v6_server(lab, "::", v6only=True)
        assert port != first
        lab.ok({"op": "socket", "name": "cli"})
        refused = lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
        assert not refused.ok and refused.error["errno"] == "ECONNREFUSED"
