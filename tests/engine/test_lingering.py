"""Closed sockets the kernel still tracks: FIN_WAIT2, then TIME_WAIT, seen through /proc/net/tcp."""

from __future__ import annotations

from sockscope.engine.core.tcptable import parse_proc_net_tcp

from helpers import wait_until

SAMPLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt
   0: 0100007F:9C40 0100007F:C350 06 00000000:00000000 03:00001770 00000000     0        0 0 3
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1060 1
"""


def test_parse_proc_net_tcp() -> None:
    table = parse_proc_net_tcp(SAMPLE)
    assert table[(("127.0.0.1", 40000), ("127.0.0.1", 50000))] == "TIME_WAIT"
    assert table[(("0.0.0.0", 8080), ("0.0.0.0", 0))] == "LISTEN"
    assert parse_proc_net_tcp("header only\n") == {}


def test_the_active_closer_goes_fin_wait2_then_time_wait(lab) -> None:  # type: ignore[no-untyped-def]
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "close", "socket": "cli"})

    def states(name: str) -> list[str | None]:
        return [e.state for e in lab.events("linger") if e.socket == name]

    wait_until(lambda: "FIN_WAIT2" in states("cli"), what="cli in FIN_WAIT2 after close()")
    lab.ok({"op": "close", "socket": "conn"})
    wait_until(lambda: "TIME_WAIT" in states("cli"), what="cli in TIME_WAIT")
    linger = [e for e in lab.events("linger") if e.socket == "cli"][-1]
    assert linger.peer == ("127.0.0.1", port)
