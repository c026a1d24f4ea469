"""What a lab may do: which ports it binds, where it connects, how much it sends (pure).

A workshop runs on a shared LAN, so the defaults are narrow: lab sockets bind
only to the lab port range, clients connect only to the playground's own ports
on this machine, and link-local / cloud-metadata addresses are refused even
when an instructor widens the allowlist.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sockscope.engine.core.errors import ForbiddenError, InvalidCommand

# Never reachable from a lab, whatever the allowlist says.
_NEVER = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32")
)
# This machine's loopback: 127/8 and IPv6's ::1 (an IPv4-mapped ::ffff:127.x.y.z is
# checked as the IPv4 address it is, see _parse_ip).
_LOOPBACK = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128"))


@dataclass(frozen=True, slots=True, kw_only=True)
class LabPolicy:
    port_min: int = 20000  # below the kernel's ephemeral range (32768-60999): see portrange.py
    port_max: int = 20999
    allow_connect: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_sockets: int = 16
    max_payload: int = 16 * 1024 * 1024
    max_bufsize: int = 4 * 1024 * 1024
    max_in_flight: int = 64 * 1024 * 1024
    max_buffer_option: int = 8 * 1024 * 1024
    max_backlog: int = 1024
    commands_per_second: float = 50.0
    command_burst: int = 200
    event_log_capacity: int = 20000
    # A free-running loop (a flood, two echoing sockets) can record 100k+ events a
    # second; past this the loop waits out the rest of each 100 ms window.
    max_events_per_second: int = 20000
    # The wire lane: capture the lab's own segments off lo (where the server may: it needs
    # CAP_NET_RAW); off, the lane says so and the rest is unchanged.
    capture: bool = True
    # Labs capturing at once in one process: the kernel runs every capturing lab's filter on
    # every frame that crosses lo (the room's own web traffic too), so 300 of them made a
    # room of 300's command p99 2.2 s against 0.19 s without (bench 7). Past this, a lab's
    # lane says so. One shared ring per process would lift it (issue 13, still open).
    capture_labs: int = 32

    def check_bind(self, host: str, port: int) -> None:
        """Raises ForbiddenError unless ``(host, port)`` is a lab address."""
        if port != 0 and not self.port_min <= port <= self.port_max:
            raise ForbiddenError(
                "address",
                f"port {port} is outside the lab port range {self.port_min}-{self.port_max}"
                " (use 0 for any free port in the range)",
            )
        ip = _parse_ip(host or "0.0.0.0")  # "" is the wildcard of either family
        if _in_never(ip):
            raise ForbiddenError("address", f"{host} is a link-local or metadata address")

    def check_connect(self, host: str, port: int) -> None:
        """Raises ForbiddenError unless a lab client may connect to ``(host, port)``."""
        ip = _parse_ip(host)
        if _in_never(ip):
            raise ForbiddenError(
                "address", f"{host} is a link-local or metadata address: never allowed"
            )
        if ip.is_unspecified or ip.is_multicast:
            raise ForbiddenError("address", f"{host} is not an address a client can connect to")
        if any(ip in net for net in self.allow_connect):
            return
        if _loopback(ip) and self.port_min <= port <= self.port_max:
            return
        raise ForbiddenError(
            "address",
            f"{host}:{port} is not allowed: lab clients connect to this machine (127.0.0.1,"
            f" ::1) on ports {self.port_min}-{self.port_max} unless the instructor allows more"
            " (--allow-connect CIDR)",
        )

    def check_reply(self, host: str, port: int) -> None:
        """Raises ForbiddenError unless a lab may answer a datagram from ``(host, port)``:
        a program on this machine (any port: its client's own), or where it may connect."""
        if not _loopback(_parse_ip(host)):
            self.check_connect(host, port)


def _loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(ip.version == n.version and ip in n for n in _LOOPBACK)


def _parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidCommand(
            "address", f"address: {host!r} is not an IP address (names are not resolved in a lab)"
        ) from None
    # ::ffff:a.b.c.d is the IPv4 address a.b.c.d, as an IPv6 socket writes it: the same rules.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped or ip


def _in_never(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_link_local or any(ip.version == n.version and ip in n for n in _NEVER)
