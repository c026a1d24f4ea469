"""HOWTO claims 8 and 16: b'' means the peer closed; the other side sits in CLOSE_WAIT."""

from __future__ import annotations

from helpers import wait_until


def connected_pair(lab, *, blocking: bool = False) -> None:  # type: ignore[no-untyped-def]
    port = lab.server(blocking=blocking)
    lab.ok({"op": "socket", "name": "cli", "options": {"blocking": True}})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})


def test_recv_returns_empty_after_peer_close_and_close_wait(lab) -> None:  # type: ignore[no-untyped-def]
    connected_pair(lab)
    lab.ok({"op": "send", "socket": "cli", "text": "bye"})
    lab.ok({"op": "close", "socket": "cli"})
    assert lab.ok({"op": "recv", "socket": "conn", "bufsize": 100}).result["len"] == 3
    last = lab.ok({"op": "recv", "socket": "conn", "bufsize": 100})
    assert last.result == {"len": 0, "head": "b''", "eof": True}
    assert lab.calls("conn", "recv")[-1].result_text == "b'' (peer closed)"
    assert wait_until(lambda: lab.sock("conn")["figures"]["state"] == "CLOSE_WAIT")
    assert lab.sock("conn")["eof"] is True
    assert [e.socket for e in lab.events("socket_closed")] == ["cli"]


def test_open_connection_is_not_close_wait(lab) -> None:  # type: ignore[no-untyped-def]
    connected_pair(lab)
    assert lab.sock("conn")["figures"]["state"] == "ESTABLISHED"


def test_shutdown_wr_lets_the_peer_reply(lab) -> None:  # type: ignore[no-untyped-def]
    connected_pair(lab)
    lab.ok({"op": "shutdown", "socket": "cli", "how": "SHUT_WR"})
    assert lab.ok({"op": "recv", "socket": "conn", "bufsize": 10}).result["eof"] is True
    lab.ok({"op": "send", "socket": "conn", "text": "reply"})
    got = lab.ok({"op": "recv", "socket": "cli", "bufsize": 10})
    assert got.result["len"] == 5
    assert wait_until(lambda: lab.sock("cli")["figures"]["state"] == "FIN_WAIT2")


def test_abort_makes_the_peer_see_a_reset(lab) -> None:  # type: ignore[no-untyped-def]
    connected_pair(lab)
    lab.ok({"op": "abort", "socket": "cli"})
    result = lab.run({"op": "recv", "socket": "conn", "bufsize": 10})
    assert not result.ok and result.error["errno"] == "ECONNRESET"
    assert "SO_LINGER" in lab.calls("cli", "setsockopt")[-1].line
