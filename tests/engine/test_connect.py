"""HOWTO claims 19 and 20: a non-blocking connect returns EINPROGRESS, then turns writable."""

from __future__ import annotations

from helpers import wait_until


def test_nonblocking_connect_einprogress_then_completes(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli", "options": {"blocking": False}})
    result = lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    assert not result.ok and result.error["errno"] == "EINPROGRESS"
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="the loop to finish connect")
    selects = [e for e in lab.events("select") if "cli" in e.writers]
    assert selects and "cli" in selects[0].ready_writers
    check = lab.calls("cli", "getsockopt")[-1]
    assert check.via == "loop" and check.result == 0
    assert lab.sock("cli")["peer"] == ["127.0.0.1", port]


def test_connect_to_a_closed_port_is_refused(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server(name="gone")
    lab.ok({"op": "close", "socket": "gone"})
    lab.ok({"op": "socket", "name": "cli", "options": {"blocking": False}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("cli")["role"] == "failed", what="connect to fail")
    assert lab.calls("cli", "getsockopt")[-1].result_text == "111 (ECONNREFUSED)"


def test_blocking_connect_refused_answers_the_errno(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server(name="gone")
    lab.ok({"op": "close", "socket": "gone"})
    lab.ok({"op": "socket", "name": "cli"})
    result = lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    assert result.error["errno"] == "ECONNREFUSED"
    assert lab.calls("cli", "connect")[-1].via == "worker"
    assert [e.op for e in lab.events("call_started")] == ["connect"]


def test_client_gets_an_ephemeral_port_and_its_own_four_tuple(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server()
    for name in ("a", "b"):
        lab.ok({"op": "socket", "name": name})
        lab.ok({"op": "connect", "socket": name, "address": ["127.0.0.1", port]})
        lab.ok({"op": "accept", "socket": "srv", "name": f"conn_{name}"})
    a, b = lab.sock("a"), lab.sock("b")
    assert a["local"][1] != b["local"][1]
    assert lab.sock("conn_a")["local"] == lab.sock("conn_b")["local"] == ["127.0.0.1", port]
    assert lab.sock("conn_a")["peer"] == a["local"] and lab.sock("conn_b")["peer"] == b["local"]
