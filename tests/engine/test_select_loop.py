"""The lab's select() loop: what it passes in, what comes back, and its quiet when idle."""

from __future__ import annotations

import socket
import time

from helpers import wait_until


def test_listener_with_auto_accept_is_a_reader_and_accepts(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server(auto_accept=True, auto_recv="echo")
    wait_until(lambda: any("srv" in e.readers for e in lab.events("select")), what="srv in readers")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as outsider:
        ready = wait_until(
            lambda: [e for e in lab.events("select") if "srv" in e.ready_readers],
            what="srv reported readable",
        )
        assert ready[0].writers == []
        conn = wait_until(lambda: lab.calls("srv", "accept"), what="loop accept")[0]
        assert conn.via == "loop" and conn.result["socket"] == "conn"
        outsider.sendall(b"ping")
        outsider.settimeout(5)
        assert outsider.recv(10) == b"ping"  # the lab's echo
    echo = lab.calls("conn", "recv")[0]
    assert echo.line == "data = conn.recv(65536)" and echo.done == 4
    readable = [e for e in lab.events("select") if "conn" in e.ready_readers]
    assert readable and "conn" in readable[0].readers


def test_only_sockets_with_something_to_send_are_writers(lab) -> None:  # type: ignore[no-untyped-def]
    """HOWTO claim 21: keep a socket out of writers unless there is something to send."""
    port = lab.server(rcvbuf=4096, blocking=False)
    lab.ok({"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "blocking": False}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("cli")["role"] == "connected")
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "sendall", "socket": "cli", "size": 200_000})
    wait_until(lambda: any("cli" in e.writers for e in lab.events("select")), what="cli a writer")
    lab.ok({"op": "auto", "socket": "conn", "recv": "discard"})
    wait_until(lambda: lab.calls("cli", "sendall"), timeout=20, what="sendall to finish")
    last = lab.events("select")[-1].seq
    iteration = lab.snapshot()["iteration"]
    wait_until(lambda: lab.snapshot()["iteration"] >= iteration + 2, what="two more iterations")
    after = [e for e in lab.events("select") if e.seq > last]
    assert all("cli" not in e.writers for e in after)
    assert lab.sock("cli")["pending_out"] == 0


def test_an_idle_loop_does_not_flood_the_log(lab) -> None:  # type: ignore[no-untyped-def]
    lab.server(auto_accept=True)
    wait_until(lambda: lab.events("select"), what="a first select")
    before = lab.engine.log.last_seq
    deadline = time.monotonic() + 1.2  # about five select() timeouts of 0.25 s
    while time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.engine.log.last_seq - before <= 1
    snapshot_iterations = lab.snapshot()["iteration"]
    assert snapshot_iterations >= 4, "the loop was not running"
