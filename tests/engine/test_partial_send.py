"""HOWTO claims 7 and 13: send() may take less than asked; under load it takes less and less."""

from __future__ import annotations

from helpers import wait_until

MIB = 1024 * 1024


def flood_setup(lab, *, server_reads: bool = False) -> None:  # type: ignore[no-untyped-def]
    port = lab.server(rcvbuf=4096, blocking=False)
    lab.ok({"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "blocking": False}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="connect to complete")
    lab.ok({"op": "accept", "socket": "srv"})
    if server_reads:
        lab.ok({"op": "auto", "socket": "conn", "recv": "discard", "bufsize": 65536})


def test_buffer_sizes_read_back_doubled(lab) -> None:  # type: ignore[no-untyped-def]
    flood_setup(lab)
    assert lab.sock("cli")["figures"]["sndbuf"] == 8192
    assert lab.sock("conn")["figures"]["rcvbuf"] == 8192  # inherited from the listener


def test_send_of_1mib_through_4kib_returns_less_then_eagain(lab) -> None:  # type: ignore[no-untyped-def]
    flood_setup(lab)
    returned = []
    for _ in range(50):
        result = lab.run({"op": "send", "socket": "cli", "size": MIB})
        if not result.ok:
            assert result.error["errno"] == "EAGAIN"
            break
        returned.append(result.result)
    else:
        raise AssertionError("send() never said EAGAIN to a peer that does not read")
    assert returned, "the first send() took nothing"
    assert all(0 < n < MIB for n in returned), returned
    assert returned == sorted(returned, reverse=True), f"sends did not shrink: {returned}"
    first = lab.calls("cli", "send")[0]
    assert first.asked == MIB and first.done == returned[0]
    assert first.line == "cli.send(pattern(1048576))"
    assert lab.calls("cli", "send")[-1].errno == "EAGAIN"
    cli, conn = lab.sock("cli"), lab.sock("conn")
    assert cli["figures"]["send_queue"] > 0
    assert conn["figures"]["recv_queue"] > 0
    # Every byte sent is either still unacknowledged at the sender or held by the
    # receiver (which reads nothing); a byte may be both until its ACK arrives.
    assert conn["figures"]["recv_queue"] <= sum(returned)
    assert cli["figures"]["send_queue"] <= sum(returned)
    assert cli["figures"]["send_queue"] + conn["figures"]["recv_queue"] >= sum(returned)


def test_a_reading_peer_lets_the_flood_through(lab) -> None:  # type: ignore[no-untyped-def]
    """The counter-case: with the receiver reading, one sendall gets everything across."""
    flood_setup(lab, server_reads=True)
    lab.ok({"op": "sendall", "socket": "cli", "size": MIB})
    done = wait_until(lambda: lab.calls("cli", "sendall"), timeout=20, what="sendall to finish")
    assert done[0].done == MIB and done[0].errno is None
    sends = lab.calls("cli", "send")
    assert len(sends) > 1, "1 MiB through an 8 KiB buffer went in one send()"
    assert sum(s.done or 0 for s in sends) == MIB
    wait_until(
        lambda: sum(c.done or 0 for c in lab.calls("conn", "recv")) == MIB,
        timeout=20,
        what="the reader to get every byte",
    )


def test_received_bytes_continue_the_senders_pattern(lab) -> None:  # type: ignore[no-untyped-def]
    flood_setup(lab)
    lab.ok({"op": "send", "socket": "cli", "size": 100})
    lab.ok({"op": "send", "socket": "cli", "size": 100})
    wait_until(lambda: lab.sock("conn")["figures"]["recv_queue"] == 200, what="200 bytes queued")
    got = lab.ok({"op": "recv", "socket": "conn", "bufsize": 150})
    assert got.result["len"] == 150
    second = lab.ok({"op": "recv", "socket": "conn", "bufsize": 150})
    recv = lab.calls("conn", "recv")[-1]
    assert recv.data is not None and recv.data.offset == 150
    assert second.result["head"].startswith("b'2|0000013|")  # byte 150: block 0x12, 7th byte
