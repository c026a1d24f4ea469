"""A lab's sockets talk to programs outside the lab, both ways."""

from __future__ import annotations

import socket

import pytest

from sockscope.engine.core.policy import LabPolicy

from helpers import wait_until


def test_outside_client_is_accepted_like_a_lab_socket(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as outsider:
        wait_until(lambda: lab.sock("srv")["figures"]["accept_queue"] == 1, what="queued")
        result = lab.ok({"op": "accept", "socket": "srv"})
        assert result.result["address"] == list(outsider.getsockname())
        outsider.sendall(b"from nc")
        got = lab.ok({"op": "recv", "socket": "conn", "bufsize": 100})
        assert got.result["head"] == "b'from nc'"


def test_lab_client_reaches_an_outside_listener_in_the_lab_range(lab) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as outside:
        for port in range(lab.policy.port_min, lab.policy.port_max + 1):
            try:
                outside.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        outside.listen(1)
        lab.ok({"op": "socket", "name": "cli"})
        lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
        conn, _ = outside.accept()
        with conn:
            lab.ok({"op": "send", "socket": "cli", "text": "hi"})
            conn.settimeout(5)
            assert conn.recv(10) == b"hi"


@pytest.fixture
def policy() -> LabPolicy:
    return LabPolicy(max_sockets=3)


def test_the_socket_cap_is_a_clear_error_and_nothing_is_lost(lab) -> None:  # type: ignore[no-untyped-def]
    for name in ("a", "b", "c"):
        lab.ok({"op": "socket", "name": name})
    result = lab.run({"op": "socket", "name": "d"})
    assert result.status == 409 and "3 sockets" in result.error["message"]
    assert [s["name"] for s in lab.snapshot()["sockets"]] == ["a", "b", "c"]
