"""Port 0 is the lab's: the first free port of its range, never the same one for two labs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sockscope.engine.core.policy import LabPolicy

if TYPE_CHECKING:
    from conftest import LabDriver


def test_many_labs_binding_port_0_at_once_each_get_a_port_of_their_own(
    policy: LabPolicy, make_lab: Callable[[], LabDriver]
) -> None:
    """A room-wide step binds port 0 in every lab at the same moment. Each lab probes for the
    first free port and then binds it; unguarded, two labs found the same port and one got
    EADDRINUSE (14 of 60 labs, measured, before the lock in handlers/sockets.py)."""
    labs = [make_lab() for _ in range(24)]

    for lab in labs:
        lab.ok({"op": "socket", "name": "srv"})
    start = threading.Barrier(len(labs))
    results: list[object] = [None] * len(labs)

    def bind(i: int) -> None:
        start.wait(timeout=10)
        results[i] = labs[i].run(
            {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]}, timeout=10
        )

    threads = [threading.Thread(target=bind, args=(i,)) for i in range(len(labs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    errors = [getattr(r, "error", None) for r in results if not getattr(r, "ok", False)]
    assert errors == []
    ports = [lab.sock("srv")["local"][1] for lab in labs]
    assert len(set(ports)) == len(labs)
    assert all(policy.port_min <= p <= policy.port_max for p in ports)
