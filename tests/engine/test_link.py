"""The fault-injecting link, between two programs outside the lab (plain sockets)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from helpers import wait_until

MIB = 1024 * 1024


class Outside:
    """A server outside the lab, on a lab port, reading everything into ``got``."""

    def __init__(self, policy) -> None:  # type: ignore[no-untyped-def]
        self.listener = socket.socket()
        for port in range(policy.port_min, policy.port_max + 1):
            try:
                self.listener.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.clients: list[socket.socket] = []

    def accept(self) -> socket.socket:
        self.listener.settimeout(5)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(5)
        return self.conn

    def close(self) -> None:
        for s in (self.conn, self.listener, *self.clients):
            if s is not None:
                s.close()


@pytest.fixture
def outside(lab) -> Iterator[Outside]:  # type: ignore[no-untyped-def]
    server = Outside(lab.policy)
    yield server
    server.close()


def linked(lab, outside: Outside) -> tuple[socket.socket, socket.socket]:  # type: ignore[no-untyped-def]
    """client -> link -> outside server; returns (client, server-side connection)."""
    answer = lab.ok({"op": "link", "name": "lnk", "target": ["127.0.0.1", outside.port]})
    client = socket.create_connection(("127.0.0.1", answer.result["address"][1]), timeout=5)
    outside.clients.append(client)
    server = outside.accept()

    def far_leg_up() -> bool:
        return any(
            s["name"] == "lnk_b" and s["role"] == "connected" for s in lab.snapshot()["sockets"]
        )

    wait_until(far_leg_up, what="the link's far leg")
    return client, server


def read_exactly(sock: socket.socket, size: int, deadline: float = 20.0) -> bytes:
    chunks, got, end = [], 0, time.monotonic() + deadline
    while got < size:
        assert time.monotonic() < end, f"only {got} of {size} bytes arrived"
        chunk = sock.recv(min(65536, size - got))
        assert chunk, f"EOF after {got} of {size} bytes"
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def test_sliced_link_passes_several_mib_unchanged(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    client, server = linked(lab, outside)
    lab.ok({"op": "fault", "link": "lnk", "direction": "both", "slice": 1000, "jitter": 400})
    data = os.urandom(3 * MIB)
    sender = threading.Thread(target=client.sendall, args=(data,), daemon=True)
    sender.start()
    assert read_exactly(server, len(data)) == data
    reply = os.urandom(200_000)
    server.sendall(reply)
    assert read_exactly(client, len(reply)) == reply
    sender.join(5)
    sends = [c for c in lab.calls("lnk_b", "send") if c.done]
    assert max(c.done or 0 for c in sends) <= 1400 and len(sends) > 2000  # sliced for real
    client.close()


def test_stall_holds_bytes_and_sends_no_fin(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    client, server = linked(lab, outside)
    lab.ok({"op": "fault", "link": "lnk", "direction": "up", "stall": True})
    client.sendall(b"are you there?")
    client.close()  # the FIN stops at the stalled link too
    server.settimeout(0.5)
    with pytest.raises(TimeoutError):
        server.recv(100)  # nothing at all: neither the bytes nor b''
    # A stalled direction stops reading too: the bytes wait in the link leg's kernel queue.
    wait_until(lambda: lab.sock("lnk_a")["figures"]["recv_queue"] == 14, what="bytes held")
    assert [e.link for e in lab.events("link")][-1]["up"]["stalled"] is True
    lab.ok({"op": "fault", "link": "lnk", "direction": "up", "stall": False})
    server.settimeout(5)
    assert read_exactly(server, 14) == b"are you there?"
    assert server.recv(100) == b""  # the held FIN follows


def test_reset_gives_both_ends_econnreset(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    client, server = linked(lab, outside)
    lab.ok({"op": "fault", "link": "lnk", "reset": True})
    for end in (client, server):
        end.settimeout(5)
        with pytest.raises(ConnectionResetError):
            end.recv(100)
    assert not any(s["name"].startswith("lnk_") for s in lab.snapshot()["sockets"])


def test_close_one_direction_sends_a_fin_that_way_only(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    client, server = linked(lab, outside)
    lab.ok({"op": "fault", "link": "lnk", "direction": "up", "close": True})
    assert server.recv(100) == b""  # the server sees the end of the client's stream
    server.sendall(b"still here")
    assert read_exactly(client, 10) == b"still here"  # the other direction still works


def test_latency_delays_delivery(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    client, server = linked(lab, outside)
    lab.ok({"op": "fault", "link": "lnk", "direction": "up", "latency_ms": 300})
    start = time.monotonic()
    client.sendall(b"ping")
    assert read_exactly(server, 4) == b"ping"
    took = time.monotonic() - start
    assert 0.29 <= took < 2.0, took


def test_rate_caps_bandwidth(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    client, server = linked(lab, outside)
    lab.ok({"op": "fault", "link": "lnk", "direction": "up", "rate": 100_000})
    start = time.monotonic()
    client.sendall(os.urandom(60_000))
    read_exactly(server, 60_000)
    took = time.monotonic() - start
    assert 0.45 <= took < 3.0, took  # 60 kB at 100 kB/s, less the first burst


def test_fault_on_an_unknown_link_is_a_clear_error(lab) -> None:  # type: ignore[no-untyped-def]
    result = lab.run({"op": "fault", "link": "nope", "stall": True})
    assert result.status == 404 and "no link named 'nope'" in result.error["message"]
    bad = lab.run({"op": "fault", "link": "nope"})
    assert bad.status == 400 and "at least one" in bad.error["message"]


def test_a_link_that_cannot_reach_its_target_resets_its_client(lab) -> None:  # type: ignore[no-untyped-def]
    # Bound but not listening: connects are refused, and the port stays taken, so the
    # link cannot pick it for itself.
    lab.ok({"op": "socket", "name": "gone"})
    gone = lab.ok({"op": "bind", "socket": "gone", "address": ["127.0.0.1", 0]}).result["address"][
        1
    ]
    answer = lab.ok({"op": "link", "name": "lnk", "target": ["127.0.0.1", gone]})
    # The reset may arrive before connect() has read SO_ERROR, or after: either way the
    # client must see ECONNRESET, not data, not a clean end, not a hang.
    with socket.socket() as client:
        client.settimeout(5)
        with pytest.raises(ConnectionResetError):
            client.connect(("127.0.0.1", answer.result["address"][1]))
            client.recv(100)


def test_closing_a_link_frees_its_name(lab, outside: Outside) -> None:  # type: ignore[no-untyped-def]
    lab.ok({"op": "link", "name": "lnk", "target": ["127.0.0.1", outside.port]})
    lab.ok({"op": "close", "socket": "lnk"})
    assert lab.snapshot()["links"] == []
    lab.ok({"op": "link", "name": "lnk", "target": ["127.0.0.1", outside.port]})


def test_a_target_outside_the_policy_names_the_field(lab) -> None:  # type: ignore[no-untyped-def]
    refused = lab.run({"op": "link", "name": "lnk", "target": ["10.0.0.1", 40000]})
    assert refused.status == 403 and refused.error["field"] == "target"


def test_a_second_client_is_reset_with_a_notice_and_the_first_goes_on(  # type: ignore[no-untyped-def]
    lab, outside: Outside
) -> None:
    client, server = linked(lab, outside)
    port = lab.snapshot()["links"][0]["listen"][1]
    with socket.socket() as second:
        second.settimeout(5)
        with pytest.raises(ConnectionResetError):
            second.connect(("127.0.0.1", port))
            second.recv(100)  # the reset comes at connect() or at the first recv()
    notices = [e.message for e in lab.events("notice")]  # type: ignore[attr-defined]
    assert any("carries one connection" in m for m in notices), notices
    client.sendall(b"still relayed")
    assert read_exactly(server, 13) == b"still relayed"
