"""The closed-connection watch: what the kernel still tracks after a socket was closed.

A closed socket has no file descriptor left to probe, but the kernel keeps its
4-tuple for a while: FIN_WAIT2 and LAST_ACK until the other side answers,
TIME_WAIT for about a minute. The watch reads /proc/net/tcp (parsed by the pure
:mod:`sockscope.engine.core.tcptable`) and records each state the connection
passes through, until it is gone (or two minutes passed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sockscope.engine.context import LabContext
from sockscope.engine.core.tcptable import Address, parse_proc_net_tcp
from sockscope.engine.sockets import LabSocket
from sockscope.events import LingerEvent

PROC_NET_TCP = "/proc/net/tcp"
WATCH_NS = 120_000_000_000  # stop following a connection after two minutes

Key = tuple[str, Address, Address]  # (network, local, peer)


def read_table(path: str = PROC_NET_TCP) -> dict[tuple[Address, Address], str]:
    try:
        with open(path, encoding="ascii") as file:
            return parse_proc_net_tcp(file.read())
    except OSError:
        return {}


@dataclass(slots=True)
class Watched:
    name: str  # the closed socket's name
    last: str  # the state last recorded; "" before the first, "gone" at the end
    since: int  # monotonic ns of the close


class ClosedWatch:
    """The connections of closed sockets, followed through the kernel's table."""

    def __init__(self) -> None:
        self.entries: dict[Key, Watched] = {}

    def remember(self, ls: LabSocket) -> None:
        """``ls`` was just closed: watch its connection go, if it had one."""
        if ls.local and ls.peer and ls.role == "connected":
            key = (ls.network, (ls.local[0], ls.local[1]), (ls.peer[0], ls.peer[1]))
            self.entries[key] = Watched(ls.name, "", time.monotonic_ns())

    def forget(self, network: str) -> None:
        """Stop following a network's connections (its kernel table went), saying nothing."""
        self.entries = {k: v for k, v in self.entries.items() if k[0] != network}

    def poll(self, lab: LabContext, now: int) -> None:
        if not self.entries:
            return
        tables = {"host": read_table()}
        if lab.private is not None:  # the namespace's own table, seen through its helper
            tables["private"] = read_table(f"/proc/{lab.private.pid}/net/tcp")
        for key, entry in list(self.entries.items()):
            last = entry.last
            state = tables.get(key[0], {}).get((key[1], key[2]))
            if state == "CLOSE":
                state = None
            if state != (last or None) or (state is None and last == ""):
                lab.emit(LingerEvent, socket=entry.name, local=key[1], peer=key[2], state=state)
                entry.last = state or "gone"
            if state is None or now - entry.since > WATCH_NS:
                del self.entries[key]
