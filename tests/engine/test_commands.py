"""Command parsing: every op's example, and errors that name the field at fault (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sockscope.engine.core.commands import (
    _FIELDS_BY_OP,
    OPS,
    Command,
    Payload,
    SocketOptions,
    parse_command,
)
from sockscope.engine.core.errors import CommandError, InvalidCommand, TooLarge
from sockscope.engine.core.policy import LabPolicy

POLICY = LabPolicy()
ADDRESS = ("127.0.0.1", 40001)

EXAMPLES: list[tuple[dict[str, Any], Command]] = [
    (
        {
            "op": "socket",
            "name": "srv",
            "options": {
                "sndbuf": 4096,
                "rcvbuf": 8192,
                "nodelay": True,
                "reuseaddr": True,
                "blocking": False,
                "auto_accept": True,
                "auto_recv": "echo",
                "bufsize": 1024,
                "network": "private",
            },
        },
        Command(
            op="socket",
            name="srv",
            options=SocketOptions(
                sndbuf=4096,
                rcvbuf=8192,
                nodelay=True,
                reuseaddr=True,
                blocking=False,
                auto_accept=True,
                auto_recv="echo",
                bufsize=1024,
                network="private",
            ),
        ),
    ),
    ({"op": "socket", "name": "cli"}, Command(op="socket", name="cli", options=SocketOptions())),
    (
        {"op": "bind", "socket": "srv", "address": list(ADDRESS)},
        Command(op="bind", socket="srv", address=ADDRESS),
    ),
    (
        {"op": "connect", "socket": "cli", "address": list(ADDRESS)},
        Command(op="connect", socket="cli", address=ADDRESS),
    ),
    (
        {"op": "listen", "socket": "srv", "backlog": 5},
        Command(op="listen", socket="srv", backlog=5),
    ),
    ({"op": "listen", "socket": "srv"}, Command(op="listen", socket="srv", backlog=None)),
    (
        {"op": "accept", "socket": "srv", "name": "conn"},
        Command(op="accept", socket="srv", name="conn"),
    ),
    ({"op": "accept", "socket": "srv"}, Command(op="accept", socket="srv", name=None)),
    (
        {"op": "send", "socket": "cli", "text": "héllo"},
        Command(op="send", socket="cli", payload=Payload("héllo".encode(), 6, "text")),
    ),
    (
        {"op": "send", "socket": "cli", "hex": "00ff 10"},
        Command(op="send", socket="cli", payload=Payload(b"\x00\xff\x10", 3, "hex")),
    ),
    (
        {"op": "send", "socket": "cli", "size": 0},
        Command(op="send", socket="cli", payload=Payload(None, 0, "size")),
    ),
    (
        {"op": "sendall", "socket": "cli", "text": "GET / HTTP/1.0\r\n\r\n"},
        Command(op="sendall", socket="cli", payload=Payload(b"GET / HTTP/1.0\r\n\r\n", 18, "text")),
    ),
    (
        {"op": "sendall", "socket": "cli", "hex": ""},
        Command(op="sendall", socket="cli", payload=Payload(b"", 0, "hex")),
    ),
    (
        {"op": "sendall", "socket": "cli", "size": 1048576},
        Command(op="sendall", socket="cli", payload=Payload(None, 1048576, "size")),
    ),
    (
        {"op": "recv", "socket": "conn", "bufsize": 4096},
        Command(op="recv", socket="conn", bufsize=4096),
    ),
    (
        {"op": "shutdown", "socket": "cli", "how": "SHUT_WR"},
        Command(op="shutdown", socket="cli", how="SHUT_WR"),
    ),
    ({"op": "close", "socket": "cli"}, Command(op="close", socket="cli")),
    ({"op": "abort", "socket": "cli"}, Command(op="abort", socket="cli")),
    (
        {"op": "setblocking", "socket": "cli", "flag": False},
        Command(op="setblocking", socket="cli", flag=False),
    ),
    (
        {"op": "settimeout", "socket": "cli", "timeout": 2},
        Command(op="settimeout", socket="cli", timeout=2.0),
    ),
    (
        {"op": "settimeout", "socket": "cli", "timeout": None},
        Command(op="settimeout", socket="cli", timeout=None),
    ),
    (
        {"op": "settimeout", "socket": "cli"},  # TOML lessons have no null
        Command(op="settimeout", socket="cli", timeout=None),
    ),
    (
        {"op": "setsockopt", "socket": "cli", "option": "TCP_NODELAY", "value": True},
        Command(op="setsockopt", socket="cli", option="TCP_NODELAY", value=1),
    ),
    (
        {"op": "getsockopt", "socket": "cli", "option": "SO_ERROR"},
        Command(op="getsockopt", socket="cli", option="SO_ERROR"),
    ),
    (
        {"op": "auto", "socket": "conn", "accept": False, "recv": "discard", "bufsize": 512},
        Command(op="auto", socket="conn", auto_accept=False, auto_recv="discard", bufsize=512),
    ),
    ({"op": "makefile", "socket": "cli"}, Command(op="makefile", socket="cli")),
    (
        {"op": "write", "socket": "cli", "text": "GET /\n"},
        Command(op="write", socket="cli", payload=Payload(b"GET /\n", 6, "text")),
    ),
    (
        {"op": "write", "socket": "cli", "size": 3},
        Command(op="write", socket="cli", payload=Payload(None, 3, "size")),
    ),
    (
        {"op": "write", "socket": "cli", "hex": "00ff"},
        Command(op="write", socket="cli", payload=Payload(b"\x00\xff", 2, "hex")),
    ),
    ({"op": "flush", "socket": "cli"}, Command(op="flush", socket="cli")),
    (
        {"op": "watch", "socket": "cli", "read": False, "write": True},
        Command(op="watch", socket="cli", faults={"read": False, "write": True}),
    ),
    (
        {"op": "link", "name": "lnk", "address": ["127.0.0.1", 0], "target": ["127.0.0.1", 40000]},
        Command(
            op="link", name="lnk", address=("127.0.0.1", 0), faults={"target": ("127.0.0.1", 40000)}
        ),
    ),
    (
        {
            "op": "fault",
            "link": "lnk",
            "direction": "up",
            "latency_ms": 5,
            "rate": 10,
            "slice": 3,
            "jitter": 1,
            "stall": True,
            "reset": False,
            "close": False,
        },
        Command(
            op="fault",
            name="lnk",
            faults={
                "direction": "up",
                "latency_ms": 5,
                "rate": 10,
                "slice": 3,
                "jitter": 1,
                "stall": True,
                "reset": False,
                "close": False,
            },
        ),
    ),
    ({"op": "pause", "id": 7}, Command(op="pause")),
    ({"op": "resume"}, Command(op="resume")),
    ({"op": "step"}, Command(op="step")),
    ({"op": "cable", "plugged": False}, Command(op="cable", flag=False)),
]


@pytest.mark.parametrize(("raw", "expected"), EXAMPLES, ids=lambda v: getattr(v, "op", None))
def test_example_parses(raw: dict[str, Any], expected: Command) -> None:
    assert parse_command(raw, POLICY) == expected


def test_the_examples_cover_every_op_and_field() -> None:
    used: dict[str, set[str]] = {}
    for raw, _ in EXAMPLES:
        used.setdefault(raw["op"], set()).update(set(raw) - {"op", "id"})
    assert set(used) == set(OPS)
    for op, fields in _FIELDS_BY_OP.items():
        assert used[op] == fields, op


def test_an_id_is_accepted_on_any_op() -> None:
    for raw, expected in EXAMPLES:
        assert parse_command({**raw, "id": "c-1"}, POLICY) == expected


BAD: list[tuple[str, Any, type[CommandError], str]] = [
    # (case, command, error type, field)
    ("unknown op", {"op": "frobnicate"}, InvalidCommand, "op"),
    ("no op", {"socket": "s"}, InvalidCommand, "op"),
    ("op not a string", {"op": 3}, InvalidCommand, "op"),
    ("missing socket", {"op": "close"}, InvalidCommand, "socket"),
    ("socket not a string", {"op": "close", "socket": 5}, InvalidCommand, "socket"),
    ("name a keyword", {"op": "socket", "name": "class"}, InvalidCommand, "name"),
    ("name too long", {"op": "socket", "name": "a" * 33}, InvalidCommand, "name"),
    ("name reserved", {"op": "socket", "name": "select"}, InvalidCommand, "name"),
    ("name not an identifier", {"op": "socket", "name": "1st"}, InvalidCommand, "name"),
    ("accept name reserved", {"op": "accept", "socket": "s", "name": "select"},
     InvalidCommand, "name"),
    ("size over the cap", {"op": "send", "socket": "s", "size": POLICY.max_payload + 1},
     TooLarge, "size"),
    ("text over the cap", {"op": "send", "socket": "s", "text": "x" * (POLICY.max_payload + 1)},
     TooLarge, "text"),
    ("negative size", {"op": "send", "socket": "s", "size": -1}, InvalidCommand, "size"),
    ("size not an int", {"op": "send", "socket": "s", "size": 1.5}, InvalidCommand, "size"),
    ("size a bool", {"op": "send", "socket": "s", "size": True}, InvalidCommand, "size"),
    ("text not a string", {"op": "send", "socket": "s", "text": 12}, InvalidCommand, "text"),
    ("bad hex", {"op": "send", "socket": "s", "hex": "zz"}, InvalidCommand, "hex"),
    ("odd hex", {"op": "sendall", "socket": "s", "hex": "abc"}, InvalidCommand, "hex"),
    ("unknown option", {"op": "socket", "name": "s", "options": {"xyz": 1}},
     InvalidCommand, "options.xyz"),
    ("options not an object", {"op": "socket", "name": "s", "options": [1]},
     InvalidCommand, "options"),
    ("option ill-typed", {"op": "socket", "name": "s", "options": {"blocking": "no"}},
     InvalidCommand, "options.blocking"),
    ("option out of range", {"op": "socket", "name": "s", "options": {"sndbuf": 0}},
     InvalidCommand, "options.sndbuf"),
    ("bad auto_recv", {"op": "socket", "name": "s", "options": {"auto_recv": "yes"}},
     InvalidCommand, "options.auto_recv"),
    ("bad how", {"op": "shutdown", "socket": "s", "how": "SHUT_BOTH"}, InvalidCommand, "how"),
    ("missing how", {"op": "shutdown", "socket": "s"}, InvalidCommand, "how"),
    ("extra field", {"op": "close", "socket": "s", "force": True}, InvalidCommand, "force"),
    ("loop op extra field", {"op": "step", "socket": "s"}, InvalidCommand, "socket"),
    ("address not a pair", {"op": "bind", "socket": "s", "address": "127.0.0.1:1"},
     InvalidCommand, "address"),
    ("address port out of range", {"op": "connect", "socket": "s", "address": ["h", 65536]},
     InvalidCommand, "address"),
    ("backlog over max", {"op": "listen", "socket": "s", "backlog": POLICY.max_backlog + 1},
     InvalidCommand, "backlog"),
    ("recv bufsize zero", {"op": "recv", "socket": "s", "bufsize": 0}, InvalidCommand, "bufsize"),
    ("recv bufsize over the cap", {"op": "recv", "socket": "s",
                                   "bufsize": POLICY.max_bufsize + 1}, TooLarge, "bufsize"),
    ("recv without bufsize", {"op": "recv", "socket": "s"}, InvalidCommand, "bufsize"),
    ("flag not a bool", {"op": "setblocking", "socket": "s", "flag": 0}, InvalidCommand, "flag"),
    ("timeout negative", {"op": "settimeout", "socket": "s", "timeout": -1},
     InvalidCommand, "timeout"),
    ("unknown sockopt", {"op": "setsockopt", "socket": "s", "option": "SO_LINGER", "value": 1},
     InvalidCommand, "option"),
    ("read-only sockopt set", {"op": "setsockopt", "socket": "s", "option": "SO_ERROR",
                               "value": 0}, InvalidCommand, "option"),
    ("sockopt value negative", {"op": "setsockopt", "socket": "s", "option": "SO_SNDBUF",
                                "value": -1}, InvalidCommand, "value"),
    ("auto with nothing to do", {"op": "auto", "socket": "s"}, InvalidCommand, "accept"),
    ("auto bad recv", {"op": "auto", "socket": "s", "recv": "all"}, InvalidCommand, "recv"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "raw", "error", "field"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_command_names_its_field(
    case: str, raw: Any, error: type[CommandError], field: str
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(raw, POLICY)
    exc = caught.value
    assert type(exc) is error
    assert exc.field == field
    assert exc.status == (413 if error is TooLarge else 400)
    assert field in exc.message
    assert str(exc) == exc.message


def test_text_hex_and_size_are_exclusive() -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command({"op": "send", "socket": "s", "text": "x", "size": 1}, POLICY)
    assert caught.value.field == "data"
    assert caught.value.status == 400
    # The field is the group "data"; the message names its members instead.
    assert all(member in caught.value.message for member in ('"text"', '"hex"', '"size"'))


def test_send_needs_some_data() -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command({"op": "send", "socket": "s"}, POLICY)
    assert caught.value.field == "data"


def test_the_payload_cap_follows_the_policy() -> None:
    small = LabPolicy(max_payload=4)
    assert parse_command({"op": "send", "socket": "s", "text": "abcd"}, small).payload == Payload(
        b"abcd", 4, "text"
    )
    with pytest.raises(TooLarge) as caught:
        parse_command({"op": "send", "socket": "s", "hex": "0102030405"}, small)
    assert caught.value.field == "hex"
    assert "5 bytes" in caught.value.message


def test_a_size_at_the_cap_is_accepted() -> None:
    raw = {"op": "send", "socket": "s", "size": POLICY.max_payload}
    assert parse_command(raw, POLICY).payload == Payload(None, POLICY.max_payload, "size")


def test_an_option_over_the_cap_names_the_option_field() -> None:
    raw = {"op": "socket", "name": "s", "options": {"sndbuf": POLICY.max_buffer_option + 1}}
    with pytest.raises(TooLarge) as caught:
        parse_command(raw, POLICY)
    assert caught.value.field == "options.sndbuf"


def test_a_size_over_a_small_cap_is_too_large() -> None:
    with pytest.raises(TooLarge):
        parse_command({"op": "send", "socket": "s", "size": 5}, LabPolicy(max_payload=4))


@pytest.mark.parametrize("raw", [None, "close", 42, ["op", "close"]])
def test_a_command_must_be_an_object(raw: Any) -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command(raw, POLICY)
    assert caught.value.field is None
    assert "object" in caught.value.message
    assert type(raw).__name__ in caught.value.message
