"""HOWTO claim 3: listen(backlog) queues connections; past it, new ones wait."""

from __future__ import annotations

from helpers import wait_until


def test_listen_2_holds_three_and_leaves_the_rest_in_syn_sent(lab) -> None:  # type: ignore[no-untyped-def]
    lab.server(backlog=2, blocking=False)
    assert lab.sock("srv")["figures"]["backlog"] == 2
    port = lab.sock("srv")["local"][1]
    for n in range(5):
        lab.ok({"op": "socket", "name": f"c{n}", "options": {"blocking": False}})
        lab.run({"op": "connect", "socket": f"c{n}", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("srv")["figures"]["accept_queue"] == 3, what="3 queued")
    states = sorted(lab.sock(f"c{n}")["figures"]["state"] for n in range(5))
    assert states.count("ESTABLISHED") == 3
    assert states.count("SYN_SENT") == 2
    # accept() frees a slot; a waiting client gets in on its SYN retransmit (1 s, then 2 s).
    lab.ok({"op": "accept", "socket": "srv"})
    wait_until(
        lambda: sum(lab.sock(f"c{n}")["role"] == "connected" for n in range(5)) >= 4,
        timeout=10,
        what="a waiting client to connect after accept()",
    )
