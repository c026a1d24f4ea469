"""Step mode: a paused loop runs exactly one select() per step."""

from __future__ import annotations

from helpers import wait_until


def test_step_runs_exactly_one_iteration(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server(rcvbuf=4096, blocking=False)
    lab.ok({"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "blocking": False}})
    lab.ok({"op": "pause"})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    # Paused: nothing completes the connect, however long we look.
    assert lab.sock("cli")["role"] == "connecting"
    before = len(lab.events("select"))
    result = lab.ok({"op": "step"})
    selects = [e for e in result.events if e.kind == "select"]
    assert len(selects) == 1
    assert selects[0].writers == ["cli"] and selects[0].ready_writers == ["cli"]
    assert [e.op for e in result.events if e.kind == "call"] == ["getsockopt"]
    assert lab.sock("cli")["role"] == "connected"
    assert len(lab.events("select")) == before + 1
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "sendall", "socket": "cli", "size": 100_000})
    pending = lab.sock("cli")["pending_out"]
    assert 0 < pending < 100_000
    lab.ok({"op": "auto", "socket": "conn", "recv": "discard", "bufsize": 1000})
    second = lab.ok({"op": "step"})
    kinds = [e.kind for e in second.events if e.kind in ("select", "call")]
    assert kinds.count("select") == 1
    assert len(lab.events("select")) == before + 2
    lab.ok({"op": "resume"})
    wait_until(lambda: lab.calls("cli", "sendall"), timeout=20, what="sendall after resume")


def test_step_on_a_running_loop_is_refused(lab) -> None:  # type: ignore[no-untyped-def]
    result = lab.run({"op": "step"})
    assert not result.ok and result.status == 409
    assert "pause" in result.error["message"]
