"""Connections the kernel still tracks after their socket was closed (TIME_WAIT, LAST_ACK...).

A closed socket has no file descriptor left to probe, but the kernel keeps its
4-tuple for a while: FIN_WAIT2 and LAST_ACK until the other side answers,
TIME_WAIT for about a minute. /proc/net/tcp lists them (addresses in hex, IPv4
little-endian); parsing it is pure.
"""

from __future__ import annotations

import socket
import struct

from sockscope.engine.tcpinfo import state_name

Address = tuple[str, int]
PROC_NET_TCP = "/proc/net/tcp"


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


def read_table(path: str = PROC_NET_TCP) -> dict[tuple[Address, Address], str]:
    try:
        with open(path, encoding="ascii") as file:
            return parse_proc_net_tcp(file.read())
    except OSError:
        return {}
