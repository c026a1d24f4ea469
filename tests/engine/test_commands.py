"""Command parsing: every op's example, and errors that name the field at fault (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sockscope.engine.core import commands as c
from sockscope.engine.core.commands import (
    FIELDS_BY_OP,
    OPS,
    Payload,
    SocketOptions,
    parse_command,
)
from sockscope.engine.core.errors import CommandError, InvalidCommand, TooLarge
from sockscope.engine.core.policy import LabPolicy

POLICY = LabPolicy()
ADDRESS = ("127.0.0.1", 40001)

EXAMPLES: list[tuple[dict[str, Any], Any]] = [
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
        c.NewSocket(
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
    (
        {"op": "socket", "name": "cli"},
        c.NewSocket(op="socket", name="cli", options=SocketOptions()),
    ),
    (
        {"op": "bind", "socket": "srv", "address": list(ADDRESS)},
        c.Bind(op="bind", socket="srv", address=ADDRESS),
    ),
    (
        {"op": "connect", "socket": "cli", "address": list(ADDRESS)},
        c.Connect(op="connect", socket="cli", address=ADDRESS),
    ),
    (
        {"op": "listen", "socket": "srv", "backlog": 5},
        c.Listen(op="listen", socket="srv", backlog=5),
    ),
    ({"op": "listen", "socket": "srv"}, c.Listen(op="listen", socket="srv", backlog=None)),
    (
        {"op": "accept", "socket": "srv", "name": "conn"},
        c.Accept(op="accept", socket="srv", name="conn"),
    ),
    ({"op": "accept", "socket": "srv"}, c.Accept(op="accept", socket="srv", name=None)),
    (
        {"op": "send", "socket": "cli", "text": "héllo"},
        c.Send(op="send", socket="cli", text="héllo"),
    ),
    (
        {"op": "send", "socket": "cli", "hex": "00ff 10"},
        c.Send(op="send", socket="cli", hex="00ff 10"),
    ),
    ({"op": "send", "socket": "cli", "size": 0}, c.Send(op="send", socket="cli", size=0)),
    (
        {"op": "sendall", "socket": "cli", "text": "GET / HTTP/1.0\r\n\r\n"},
        c.SendAll(op="sendall", socket="cli", text="GET / HTTP/1.0\r\n\r\n"),
    ),
    ({"op": "sendall", "socket": "cli", "hex": ""}, c.SendAll(op="sendall", socket="cli", hex="")),
    (
        {"op": "sendall", "socket": "cli", "size": 1048576},
        c.SendAll(op="sendall", socket="cli", size=1048576),
    ),
    (
        {"op": "recv", "socket": "conn", "bufsize": 4096},
        c.Recv(op="recv", socket="conn", bufsize=4096),
    ),
    (
        {
            "op": "socket",
            "name": "udp",
            "options": {"type": "SOCK_DGRAM", "family": "AF_INET6", "v6only": False},
        },
        c.NewSocket(
            op="socket",
            name="udp",
            options=SocketOptions(type="SOCK_DGRAM", family="AF_INET6", v6only=False),
        ),
    ),
    (
        {"op": "sendto", "socket": "udp", "text": "one", "address": ["::1", 20001]},
        c.SendTo(op="sendto", socket="udp", text="one", address=("::1", 20001)),
    ),
    (
        {"op": "sendto", "socket": "udp", "hex": "00 01", "address": ["127.0.0.1", 20001]},
        c.SendTo(op="sendto", socket="udp", hex="00 01", address=("127.0.0.1", 20001)),
    ),
    (
        {"op": "sendto", "socket": "udp", "size": 0, "address": ["127.0.0.1", 20001]},
        c.SendTo(op="sendto", socket="udp", size=0, address=("127.0.0.1", 20001)),
    ),
    (
        {"op": "recvfrom", "socket": "udp", "bufsize": 3},
        c.RecvFrom(op="recvfrom", socket="udp", bufsize=3),
    ),
    (
        {"op": "dup", "socket": "conn", "name": "conn_copy"},
        c.Dup(op="dup", socket="conn", name="conn_copy"),
    ),
    ({"op": "dup", "socket": "conn"}, c.Dup(op="dup", socket="conn", name=None)),
    (
        {"op": "shutdown", "socket": "cli", "how": "SHUT_WR"},
        c.Shutdown(op="shutdown", socket="cli", how="SHUT_WR"),
    ),
    ({"op": "close", "socket": "cli"}, c.Close(op="close", socket="cli")),
    ({"op": "abort", "socket": "cli"}, c.Abort(op="abort", socket="cli")),
    (
        {"op": "setblocking", "socket": "cli", "flag": False},
        c.SetBlocking(op="setblocking", socket="cli", flag=False),
    ),
    (
        {"op": "settimeout", "socket": "cli", "timeout": 2},
        c.SetTimeout(op="settimeout", socket="cli", timeout=2.0),
    ),
    (
        {"op": "settimeout", "socket": "cli", "timeout": None},
        c.SetTimeout(op="settimeout", socket="cli", timeout=None),
    ),
    (
        {"op": "settimeout", "socket": "cli"},  # TOML lessons have no null
        c.SetTimeout(op="settimeout", socket="cli", timeout=None),
    ),
    (
        {"op": "setsockopt", "socket": "cli", "option": "TCP_NODELAY", "value": True},
        c.SetSockOpt(op="setsockopt", socket="cli", option="TCP_NODELAY", value=1),
    ),
    (
        {"op": "getsockopt", "socket": "cli", "option": "SO_ERROR"},
        c.GetSockOpt(op="getsockopt", socket="cli", option="SO_ERROR"),
    ),
    (
        {"op": "auto", "socket": "conn", "accept": False, "recv": "discard", "bufsize": 512},
        c.Auto(op="auto", socket="conn", accept=False, recv="discard", bufsize=512),
    ),
    ({"op": "makefile", "socket": "cli"}, c.MakeFile(op="makefile", socket="cli")),
    (
        {"op": "write", "socket": "cli", "text": "GET /\n"},
        c.Write(op="write", socket="cli", text="GET /\n"),
    ),
    ({"op": "write", "socket": "cli", "size": 3}, c.Write(op="write", socket="cli", size=3)),
    (
        {"op": "write", "socket": "cli", "hex": "00ff"},
        c.Write(op="write", socket="cli", hex="00ff"),
    ),
    ({"op": "flush", "socket": "cli"}, c.Flush(op="flush", socket="cli")),
    (
        {"op": "watch", "socket": "cli", "read": False, "write": True},
        c.Watch(op="watch", socket="cli", read=False, write=True),
    ),
    (
        {"op": "link", "name": "lnk", "address": ["127.0.0.1", 0], "target": ["127.0.0.1", 40000]},
        c.NewLink(op="link", name="lnk", address=("127.0.0.1", 0), target=("127.0.0.1", 40000)),
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
        c.Fault(
            op="fault",
            link="lnk",
            direction="up",
            latency_ms=5,
            rate=10,
            slice=3,
            jitter=1,
            stall=True,
            reset=False,
            close=False,
        ),
    ),
    ({"op": "pause", "id": 7}, c.Pause(op="pause")),
    ({"op": "resume"}, c.Resume(op="resume")),
    ({"op": "step"}, c.Step(op="step")),
    ({"op": "cable", "plugged": False}, c.Cable(op="cable", plugged=False)),
]

# What each sending command carries, as the handlers get it.
PAYLOADS = [
    ({"op": "send", "socket": "cli", "text": "héllo"}, Payload("héllo".encode(), 6, "text")),
    ({"op": "send", "socket": "cli", "hex": "00ff 10"}, Payload(b"\x00\xff\x10", 3, "hex")),
    ({"op": "send", "socket": "cli", "size": 0}, Payload(None, 0, "size")),
    ({"op": "sendall", "socket": "cli", "hex": ""}, Payload(b"", 0, "hex")),
    ({"op": "write", "socket": "cli", "size": 3}, Payload(None, 3, "size")),
]


@pytest.mark.parametrize(("raw", "expected"), PAYLOADS)
def test_a_payload_is_the_bytes_asked_for(raw: dict[str, Any], expected: Payload) -> None:
    assert parse_command(raw, POLICY).payload == expected  # type: ignore[union-attr]


def test_the_fault_and_watch_changes_are_what_was_given() -> None:
    fault = parse_command({"op": "fault", "link": "l", "rate": 10, "stall": True}, POLICY)
    assert isinstance(fault, c.Fault)
    assert fault.faults() == {"direction": "both", "rate": 10, "stall": True}
    watch = parse_command({"op": "watch", "socket": "s", "write": True}, POLICY)
    assert isinstance(watch, c.Watch)
    assert watch.lists() == {"write": True}


@pytest.mark.parametrize(("raw", "expected"), EXAMPLES, ids=lambda v: getattr(v, "op", None))
def test_example_parses(raw: dict[str, Any], expected: Any) -> None:
    parsed = parse_command(raw, POLICY)
    assert type(parsed) is type(expected)
    assert parsed == expected


def test_the_examples_cover_every_op_and_field() -> None:
    used: dict[str, set[str]] = {}
    for raw, _ in EXAMPLES:
        used.setdefault(raw["op"], set()).update(set(raw) - {"op", "id"})
    assert set(used) == set(OPS)
    for op, fields in FIELDS_BY_OP.items():
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
    ("v6only on IPv4", {"op": "socket", "name": "s", "options": {"v6only": True}},
     InvalidCommand, "options.v6only"),
    ("nodelay on UDP", {"op": "socket", "name": "s", "options": {"type": "SOCK_DGRAM",
                                                               "nodelay": True}},
     InvalidCommand, "options.nodelay"),
    ("IPv6 in the private network", {"op": "socket", "name": "s", "options": {
        "family": "AF_INET6", "network": "private"}}, InvalidCommand, "options.network"),
    ("bad family", {"op": "socket", "name": "s", "options": {"family": "AF_UNIX"}},
     InvalidCommand, "options.family"),
    ("sendto without address", {"op": "sendto", "socket": "s", "text": "x"},
     InvalidCommand, "address"),
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
    parsed = parse_command({"op": "send", "socket": "s", "text": "abcd"}, small)
    assert parsed.payload == Payload(b"abcd", 4, "text")  # type: ignore[union-attr]
    with pytest.raises(TooLarge) as caught:
        parse_command({"op": "send", "socket": "s", "hex": "0102030405"}, small)
    assert caught.value.field == "hex"
    assert "5 bytes" in caught.value.message


def test_a_size_at_the_cap_is_accepted() -> None:
    raw = {"op": "send", "socket": "s", "size": POLICY.max_payload}
    parsed = parse_command(raw, POLICY)
    assert parsed.payload == Payload(None, POLICY.max_payload, "size")  # type: ignore[union-attr]


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


MESSAGES = [
    ({"op": "send", "socket": "s", "size": -5}, "size: must be between 0 and 16777216, got -5"),
    ({"op": "send", "socket": "s", "size": "5"}, "size: an integer is required, got '5'"),
    ({"op": "close"}, "socket: required"),
    ({"op": "close", "socket": "s", "force": 1}, "close takes no field 'force'"),
    ({"op": "shutdown", "socket": "s", "how": "x"},
     "how: one of SHUT_RD, SHUT_WR, SHUT_RDWR; got 'x'"),
    ({"op": "bind", "socket": "s", "address": ["h", -1]}, "address: port must be 0-65535, got -1"),
    ({"op": "socket", "name": "def"}, "name: 'def' is reserved, choose another name"),
    ({"op": "socket", "name": "s", "options": {"blocking": 1}},
     "options.blocking: true or false is required, got 1"),
    ({"op": "recv", "socket": "s", "bufsize": 5 * 1024 * 1024},
     "bufsize: 5242880 is over this lab's limit of 4194304"),
    ({"op": "send", "socket": "s", "text": "x", "hex": "00"},
     'give exactly one of "text", "hex" or "size"'),
    ({"op": "frobnicate"}, "unknown op 'frobnicate'; expected one of: " + ", ".join(OPS)),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "message"), MESSAGES, ids=[m[1][:30] for m in MESSAGES])
def test_a_refusal_says_what_was_expected_and_what_came(raw: Any, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(raw, POLICY)
    assert caught.value.message == message


def test_a_refusal_quotes_a_long_input_briefly() -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command({"op": "connect", "socket": "s", "address": "x" * 100_000}, POLICY)
    assert len(caught.value.message) < 120


def test_every_op_has_its_own_schema() -> None:
    schema = c.command_schema()
    assert schema["discriminator"]["propertyName"] == "op"
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(OPS)
    for op, ref in mapping.items():
        definition = schema["$defs"][ref.rsplit("/", 1)[1]]
        assert definition["properties"]["op"]["const"] == op
        assert definition["additionalProperties"] is False
        assert set(definition["properties"]) - {"op"} == FIELDS_BY_OP[op]
