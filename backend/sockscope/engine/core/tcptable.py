"""The kernel's table of TCP connections (/proc/net/tcp), parsed: pure.

Addresses are in hex, IPv4 little-endian. :mod:`sockscope.engine.watch` reads the
file and follows the connections of closed sockets through it.
"""

from __future__ import annotations

import socket
import struct

from sockscope.engine.core.tcpinfo import state_name

Address = tuple[str, int]


def _address(field: str) -> Address:
    host, port = field.split(":")
    ip = socket.inet_ntoa(struct.pack("<I", int(host, 16)))
    return ip, int(port, 16)


def parse_proc_net_tcp(text: str) -> dict[tuple[Address, Address], str]:
    """(local, remote) -> TCP state name, for every IPv4 TCP connection listed."""
    found: dict[tuple[Address, Address], str] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            found[(_address(fields[1]), _address(fields[2]))] = state_name(int(fields[3], 16))
        except (ValueError, OSError):
            continue
    return found
