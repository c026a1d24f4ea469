"""One rendering of a call's Python line: what the lab records is what a form previews."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.pyline import preview

if TYPE_CHECKING:
    from conftest import LabDriver


def recorded_lines(lab: LabDriver, command: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(what preview() says the command runs, what the lab recorded for it)."""
    before = len(lab.calls())
    lab.run(command)
    said = [call.line for call in lab.calls()[before:] if call.via != "loop"]
    return preview(parse_command(command, lab.policy), lab.policy), said


def test_the_lab_records_the_lines_a_preview_shows(lab: LabDriver) -> None:
    port = lab.server("srv")
    commands: list[dict[str, Any]] = [
        {"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "rcvbuf": 8192,
                                                    "nodelay": True, "blocking": False}},
        {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]},
        {"op": "accept", "socket": "srv", "name": "conn"},
        {"op": "setblocking", "socket": "cli", "flag": True},
        {"op": "settimeout", "socket": "cli", "timeout": 2.5},
        {"op": "setsockopt", "socket": "cli", "option": "SO_KEEPALIVE", "value": 1},
        {"op": "getsockopt", "socket": "cli", "option": "SO_ERROR"},
        {"op": "send", "socket": "cli", "text": "hello"},
        {"op": "send", "socket": "cli", "hex": "00 01"},
        {"op": "sendall", "socket": "cli", "size": 1000},
        {"op": "recv", "socket": "conn", "bufsize": 100},
        {"op": "makefile", "socket": "cli"},
        {"op": "write", "socket": "cli", "text": "x"},
        {"op": "flush", "socket": "cli"},
        {"op": "shutdown", "socket": "cli", "how": "SHUT_WR"},
        {"op": "abort", "socket": "conn"},
    ]  # fmt: skip
    for command in commands:
        shown, recorded = recorded_lines(lab, command)
        assert recorded[: len(shown)] == shown, command


def test_a_bind_to_port_zero_is_previewed_as_asked_and_recorded_as_bound(lab: LabDriver) -> None:
    lab.ok({"op": "socket", "name": "srv"})
    shown, recorded = recorded_lines(
        lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]}
    )
    note = f"  # port 0: the first free port of the lab range {lab.policy.port_min}-"
    assert shown == [f"srv.bind(('127.0.0.1', 0)){note}{lab.policy.port_max}"]
    port = lab.sock("srv")["local"][1]
    assert recorded == [f"srv.bind(('127.0.0.1', {port})){note}{lab.policy.port_max}"]
