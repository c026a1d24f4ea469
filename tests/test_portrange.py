"""The lab range beside the kernel's ephemeral range (the start-up banner's words)."""

from __future__ import annotations

import socket
from pathlib import Path

from sockscope.portrange import ephemeral_range, lab_range_note, reserved_ports
from sockscope.settings import Settings


def test_the_default_lab_range_lies_outside_this_kernels_ephemeral_range() -> None:
    """The reason for the default: a client port the kernel picks never takes a lab port."""
    low, high = Settings().lab_ports
    ephemeral = ephemeral_range()
    assert ephemeral is not None
    assert high < ephemeral[0] or low > ephemeral[1], (Settings().lab_ports, ephemeral)
    assert high - low + 1 >= 900  # room for 300 participants with three servers each
    with socket.create_server(("127.0.0.1", 0)) as server:  # a kernel-chosen client port
        client = socket.create_connection(server.getsockname())
        with client:
            port = client.getsockname()[1]
    assert ephemeral[0] <= port <= ephemeral[1] and not low <= port <= high


def test_the_note_says_outside_inside_or_reserved() -> None:
    assert lab_range_note((20000, 20999), (32768, 60999), []) == (
        "lab sockets use ports 20000-20999, outside the kernel's ephemeral range 32768-60999"
    )
    inside = lab_range_note((40000, 40199), (32768, 60999), [])
    assert "INSIDE the kernel's ephemeral range 32768-60999" in inside
    assert "sysctl -w net.ipv4.ip_local_reserved_ports=40000-40199" in inside
    reserved = lab_range_note((40000, 40199), (32768, 60999), [(39000, 40100), (40101, 40199)])
    assert reserved.endswith("inside the ephemeral range 32768-60999 but reserved from it")
    partly = lab_range_note((40000, 40199), (32768, 60999), [(40000, 40100)])
    assert "INSIDE" in partly
    assert "unknown" in lab_range_note((20000, 20999), None, [])


def test_the_kernel_files_are_read_and_bad_text_is_skipped(tmp_path: Path) -> None:
    ports = tmp_path / "range"
    ports.write_text("32768\t60999\n")
    assert ephemeral_range(ports) == (32768, 60999)
    assert ephemeral_range(tmp_path / "missing") is None
    kept = tmp_path / "reserved"
    kept.write_text("20000-20999,8080,junk\n")
    assert reserved_ports(kept) == [(20000, 20999), (8080, 8080)]
    assert reserved_ports(tmp_path / "missing") == []
    assert reserved_ports(Path("/proc/sys/net/ipv4/ip_local_reserved_ports")) is not None
