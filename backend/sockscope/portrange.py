"""The lab port range beside the kernel's ephemeral range: what the banner says at start-up.

A port the kernel picks for a client (``connect()`` without ``bind()``) comes from
``net.ipv4.ip_local_port_range`` (32768-60999 on Linux by default), skipping the ports in
``ip_local_reserved_ports``. A lab range inside it loses ports to every client of the machine,
the lab's own included (seen under load: clients on 40188, 40196, 40198 of 40000-40199, then
EADDRINUSE for a lab server). So the default range lies below it, and a range inside it is
said at start-up, with the one line that reserves it where the server may not.
"""

from __future__ import annotations

from pathlib import Path

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
RESERVED = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")


def ephemeral_range(path: Path = EPHEMERAL) -> tuple[int, int] | None:
    try:
        low, high = path.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def reserved_ports(path: Path = RESERVED) -> list[tuple[int, int]]:
    """``ip_local_reserved_ports`` as ranges ("20000-20999,8080": two of them)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return []
    found = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        try:
            found.append((int(low), int(high or low)))
        except ValueError:
            continue
    return found


def lab_range_note(
    lab: tuple[int, int],
    ephemeral: tuple[int, int] | None,
    reserved: list[tuple[int, int]],
) -> str:
    """The banner's words on the lab range: outside the ephemeral range, reserved, or neither."""
    low, high = lab
    where = f"lab sockets use ports {low}-{high}"
    if ephemeral is None:
        return f"{where} (the kernel's ephemeral range is unknown here)"
    e_low, e_high = ephemeral
    inside = range(max(low, e_low), min(high, e_high) + 1)
    if not inside:
        return f"{where}, outside the kernel's ephemeral range {e_low}-{e_high}"
    if all(any(r_low <= p <= r_high for r_low, r_high in reserved) for p in inside):
        return f"{where}, inside the ephemeral range {e_low}-{e_high} but reserved from it"
    return (
        f"{where}, INSIDE the kernel's ephemeral range {e_low}-{e_high}: clients the kernel"
        f" gives a port may take lab ports (EADDRINUSE under load). Choose a range outside it"
        " (--lab-ports), or reserve it as root:"
        f" sysctl -w net.ipv4.ip_local_reserved_ports={low}-{high}"
    )
