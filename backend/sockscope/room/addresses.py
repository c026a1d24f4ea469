"""The addresses participants can reach this machine at: what the projector and the banner show."""

from __future__ import annotations

import contextlib
import ipaddress
import socket

# A UDP socket "connected" to these sends nothing; the kernel only picks the source address
# of its route, which is the LAN address when there is a default route (offline too).
PROBES = ("192.0.2.1", "10.255.255.255")


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, the default route's first."""
    found: list[str] = []
    for target in PROBES:
        with (
            contextlib.suppress(OSError),
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
        ):
            probe.connect((target, 9))
            found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(info[4][0]))
    usable = []
    for address in found:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local) and address not in usable:
            usable.append(address)
    return usable


def shown_hosts(host: str, in_container: bool = False) -> list[str]:
    """The hosts to print for a server listening on ``host``.

    In a container the addresses it sees are the container network's, which participants
    cannot reach: only 127.0.0.1 is shown (the host's own port mapping leads there).
    """
    if host in ("0.0.0.0", "", "::"):
        return ["127.0.0.1"] if in_container else ["127.0.0.1", *lan_addresses()]
    return [host]
