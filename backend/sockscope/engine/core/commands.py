"""Commands: the JSON a participant sends, checked and turned into typed values (pure).

Every action is a socket method named as Python names it. Parsing checks shape
and ranges only; whether the call makes sense for the socket's state is the
kernel's to answer, and the lab records that answer.
"""

from __future__ import annotations

import keyword
import re
import socket
from dataclasses import dataclass
from typing import Any, Literal

from sockscope.engine.core.errors import CommandError, InvalidCommand, TooLarge
from sockscope.engine.core.policy import LabPolicy

SOCKET_OPS = (
    "socket",
    "bind",
    "listen",
    "accept",
    "connect",
    "send",
    "sendall",
    "recv",
    "shutdown",
    "close",
    "abort",
    "setblocking",
    "settimeout",
    "setsockopt",
    "getsockopt",
    "auto",
    "makefile",
    "write",
    "flush",
    "watch",
)
LOOP_OPS = ("pause", "resume", "step")
LINK_OPS = ("link", "fault")
NETWORK_OPS = ("cable",)  # the lab's private network: pull its cable out, plug it back in
OPS = SOCKET_OPS + LOOP_OPS + LINK_OPS + NETWORK_OPS

SHUT_HOWS = {"SHUT_RD": socket.SHUT_RD, "SHUT_WR": socket.SHUT_WR, "SHUT_RDWR": socket.SHUT_RDWR}
AUTO_RECV_MODES = ("off", "discard", "echo")
NETWORKS = ("host", "private")

# The socket options a lab may set or read: name -> (level name, level, option).
SOCKOPTS: dict[str, tuple[str, int, int]] = {
    "SO_SNDBUF": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_SNDBUF),
    "SO_RCVBUF": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_RCVBUF),
    "SO_REUSEADDR": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_REUSEADDR),
    "SO_KEEPALIVE": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "SO_RCVLOWAT": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_RCVLOWAT),
    "TCP_NODELAY": ("IPPROTO_TCP", socket.IPPROTO_TCP, socket.TCP_NODELAY),
    "TCP_KEEPIDLE": ("IPPROTO_TCP", socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "TCP_KEEPINTVL": ("IPPROTO_TCP", socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    "TCP_KEEPCNT": ("IPPROTO_TCP", socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    "TCP_USER_TIMEOUT": ("IPPROTO_TCP", socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
}
READ_ONLY_SOCKOPTS: dict[str, tuple[str, int, int]] = {
    "SO_ERROR": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_ERROR),
    "SO_TYPE": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_TYPE),
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_RESERVED_NAMES = frozenset({"socket", "select", "pattern", "data", "self"})


@dataclass(frozen=True, slots=True)
class Payload:
    """Bytes to send: literal (from text or hex) or ``size`` patterned bytes."""

    literal: bytes | None
    size: int
    source: Literal["text", "hex", "size"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketOptions:
    sndbuf: int | None = None
    rcvbuf: int | None = None
    nodelay: bool | None = None
    reuseaddr: bool | None = None
    blocking: bool = True
    auto_accept: bool = False
    auto_recv: Literal["off", "discard", "echo"] = "off"
    bufsize: int = 65536
    network: Literal["host", "private"] = "host"  # private: the lab's own loopback

    def sockopts(self) -> list[tuple[str, int]]:
        """The socket options to set, in the order socket() applies them."""
        given = (
            ("SO_REUSEADDR", self.reuseaddr),
            ("SO_SNDBUF", self.sndbuf),
            ("SO_RCVBUF", self.rcvbuf),
            ("TCP_NODELAY", self.nodelay),
        )
        return [(option, int(value)) for option, value in given if value is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A checked command. Fields not used by ``op`` keep their defaults."""

    op: str
    socket: str | None = None
    name: str | None = None
    options: SocketOptions | None = None
    address: tuple[str, int] | None = None
    backlog: int | None = None
    payload: Payload | None = None
    bufsize: int | None = None
    how: str | None = None
    flag: bool | None = None
    timeout: float | None = None
    option: str | None = None
    value: int | None = None
    auto_accept: bool | None = None
    auto_recv: Literal["off", "discard", "echo"] | None = None
    faults: dict[str, Any] | None = None  # fault: what to change (latency_ms, rate, stall, ...)


QUOTED_CHARS = 60  # an error repeats at most this much of what it refuses


def quoted(value: Any) -> str:
    """``repr(value)``, cut short: a refusal must not echo a huge input back (or into the log)."""
    text = repr(value)
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1] + "…"


def parse_command(raw: Any, policy: LabPolicy) -> Command:
    """Check one command's JSON.

    Raises:
        InvalidCommand: unknown op, missing or ill-typed field (``field`` names it).
        TooLarge: a size over the lab's caps.
    """
    if not isinstance(raw, dict):
        raise InvalidCommand(None, f"a command is a JSON object, got {type(raw).__name__}")
    op = raw.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise InvalidCommand("op", f"unknown op {quoted(op)}; expected one of: {', '.join(OPS)}")
    known = _FIELDS_BY_OP[op] | {"op", "id"}
    extra = sorted(set(raw) - known)
    if extra:
        raise InvalidCommand(extra[0], f"{op} takes no field {quoted(extra[0])}")
    if op in LOOP_OPS:
        return Command(op=op)
    if op == "link":
        address = tuple(_address(raw)) if "address" in raw else ("127.0.0.1", 0)
        target = _address({"address": raw.get("target")}, "target")
        return Command(op=op, name=socket_name(raw.get("name"), "name"), address=address,  # type: ignore[arg-type]
                       faults={"target": target})  # fmt: skip
    if op == "fault":
        return _parse_fault(raw, policy)
    if op == "cable":
        return Command(op=op, flag=_bool(raw, "plugged"))
    if op == "socket":
        return Command(
            op=op,
            name=socket_name(raw.get("name"), "name"),
            options=_options(raw.get("options", {}), policy),
        )
    sock = socket_name(raw.get("socket"), "socket")
    parse = _PARSERS.get(op)
    return parse(op, sock, raw, policy) if parse else Command(op=op, socket=sock)


def socket_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidCommand(
            field, f"{field}: a Python identifier of at most 32 characters, got {quoted(value)}"
        )
    if keyword.iskeyword(value) or value in _RESERVED_NAMES:
        raise InvalidCommand(field, f"{field}: {quoted(value)} is reserved, choose another name")
    return value


def _int(
    raw: dict[str, Any],
    field: str,
    lo: int,
    hi: int,
    *,
    size: bool = True,
    default: int | None = None,
) -> int:
    """An integer field; over ``hi`` is TooLarge (413) for sizes, InvalidCommand otherwise."""
    value = raw.get(field, default)
    if value is None:
        raise InvalidCommand(field, f"{field}: required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCommand(field, f"{field}: an integer is required, got {quoted(value)}")
    if size and value > hi:
        raise TooLarge(field, f"{field}: {value} is over this lab's limit of {hi}")
    if not lo <= value <= hi:
        raise InvalidCommand(field, f"{field}: must be between {lo} and {hi}, got {value}")
    return value


def _bool(raw: dict[str, Any], field: str) -> bool:
    value = raw.get(field)
    if not isinstance(value, bool):
        raise InvalidCommand(field, f"{field}: true or false is required, got {quoted(value)}")
    return value


def _address(raw: dict[str, Any], field: str = "address") -> tuple[str, int]:
    value = raw.get("address")
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not isinstance(value[0], str)
        or isinstance(value[1], bool)
        or not isinstance(value[1], int)
    ):
        raise InvalidCommand(field, f'{field}: ["host", port] is required, got {quoted(value)}')
    host, port = value[0], value[1]
    if not 0 <= port <= 65535:
        raise InvalidCommand(field, f"{field}: port must be 0-65535, got {port}")
    return host, port


def _payload(raw: dict[str, Any], policy: LabPolicy) -> Payload:
    given = [k for k in ("text", "hex", "size") if k in raw]
    if len(given) != 1:
        raise InvalidCommand("data", 'give exactly one of "text", "hex" or "size"')
    kind = given[0]
    if kind == "size":
        return Payload(None, _int(raw, "size", 0, policy.max_payload), "size")
    value = raw[kind]
    if not isinstance(value, str):
        raise InvalidCommand(kind, f"{kind}: a string is required, got {quoted(value)}")
    if kind == "text":
        data = value.encode("utf-8")
    else:
        try:
            data = bytes.fromhex(value)
        except ValueError:
            raise InvalidCommand("hex", f"hex: not hexadecimal bytes: {value[:40]!r}") from None
    if len(data) > policy.max_payload:
        raise TooLarge(kind, f"{kind}: {len(data)} bytes is over the limit of {policy.max_payload}")
    return Payload(data, len(data), "text" if kind == "text" else "hex")


def _auto_recv(value: Any, field: str) -> Literal["off", "discard", "echo"]:
    if value in AUTO_RECV_MODES:
        return value  # type: ignore[no-any-return]
    raise InvalidCommand(field, f"{field}: one of off, discard, echo; got {quoted(value)}")


def _options(raw: Any, policy: LabPolicy) -> SocketOptions:
    if not isinstance(raw, dict):
        raise InvalidCommand("options", f"options: an object is required, got {quoted(raw)}")
    extra = sorted(set(raw) - _OPTION_FIELDS)
    if extra:
        raise InvalidCommand(
            f"options.{extra[0]}",
            f"options.{extra[0]}: unknown option; known: {', '.join(sorted(_OPTION_FIELDS))}",
        )
    buf_hi = policy.max_buffer_option

    def opt_int(field: str, lo: int, hi: int) -> int | None:
        if field not in raw:
            return None
        try:
            return _int(raw, field, lo, hi)
        except CommandError as exc:
            raise type(exc)(f"options.{field}", f"options.{exc.message}") from None

    def opt_bool(field: str) -> bool | None:
        if field not in raw:
            return None
        try:
            return _bool(raw, field)
        except InvalidCommand as exc:
            raise InvalidCommand(f"options.{field}", f"options.{exc.message}") from None

    blocking = opt_bool("blocking")
    auto_accept = opt_bool("auto_accept")
    bufsize = opt_int("bufsize", 1, policy.max_bufsize)
    network = raw.get("network", "host")
    if not (isinstance(network, str) and network in NETWORKS):
        raise InvalidCommand(
            "options.network",
            f"options.network: host (this machine's loopback) or private (the lab's own,"
            f" whose cable can be pulled out); got {quoted(network)}",
        )
    return SocketOptions(
        sndbuf=opt_int("sndbuf", 1, buf_hi),
        rcvbuf=opt_int("rcvbuf", 1, buf_hi),
        nodelay=opt_bool("nodelay"),
        reuseaddr=opt_bool("reuseaddr"),
        blocking=True if blocking is None else blocking,
        auto_accept=bool(auto_accept),
        auto_recv=_auto_recv(raw.get("auto_recv", "off"), "options.auto_recv"),
        bufsize=65536 if bufsize is None else bufsize,
        network="private" if network == "private" else "host",
    )


_OPTION_FIELDS = frozenset(
    {
        "sndbuf",
        "rcvbuf",
        "nodelay",
        "reuseaddr",
        "blocking",
        "auto_accept",
        "auto_recv",
        "bufsize",
        "network",
    }
)


def _parse_bind_connect(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    return Command(op=op, socket=sock, address=_address(raw))


def _parse_listen(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    backlog = _int(raw, "backlog", 0, policy.max_backlog, size=False) if "backlog" in raw else None
    return Command(op=op, socket=sock, backlog=backlog)


def _parse_accept(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    name = socket_name(raw["name"], "name") if raw.get("name") is not None else None
    return Command(op=op, socket=sock, name=name)


def _parse_send(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    return Command(op=op, socket=sock, payload=_payload(raw, policy))


def _parse_recv(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    return Command(op=op, socket=sock, bufsize=_int(raw, "bufsize", 1, policy.max_bufsize))


def _parse_shutdown(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    how = raw.get("how")
    if not (isinstance(how, str) and how in SHUT_HOWS):
        raise InvalidCommand("how", f"how: one of SHUT_RD, SHUT_WR, SHUT_RDWR; got {quoted(how)}")
    return Command(op=op, socket=sock, how=how)


def _parse_setblocking(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    return Command(op=op, socket=sock, flag=_bool(raw, "flag"))


def _parse_settimeout(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    value = raw.get("timeout")  # omitted or null: settimeout(None), blocking with no limit
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600
    ):
        raise InvalidCommand(
            "timeout", f"timeout: seconds between 0 and 3600, or null; got {quoted(value)}"
        )
    return Command(op=op, socket=sock, timeout=None if value is None else float(value))


def _sockopt_name(raw: dict[str, Any], table: dict[str, tuple[str, int, int]]) -> str:
    option = raw.get("option")
    if not isinstance(option, str) or option not in table:
        raise InvalidCommand("option", f"option: one of {', '.join(table)}; got {quoted(option)}")
    return option


def _parse_setsockopt(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    option = _sockopt_name(raw, SOCKOPTS)
    if isinstance(raw.get("value"), bool):
        raw = {**raw, "value": int(raw["value"])}
    value = _int(raw, "value", 0, policy.max_buffer_option)
    return Command(op=op, socket=sock, option=option, value=value)


def _parse_getsockopt(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    return Command(op=op, socket=sock, option=_sockopt_name(raw, SOCKOPTS | READ_ONLY_SOCKOPTS))


def _parse_auto(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    if not {"accept", "recv", "bufsize"} & set(raw):
        raise InvalidCommand("accept", 'auto: give "accept", "recv" and/or "bufsize"')
    return Command(
        op=op,
        socket=sock,
        auto_accept=_bool(raw, "accept") if "accept" in raw else None,
        auto_recv=_auto_recv(raw["recv"], "recv") if "recv" in raw else None,
        bufsize=_int(raw, "bufsize", 1, policy.max_bufsize) if "bufsize" in raw else None,
    )


_FAULT_INTS = {"latency_ms": 10_000, "rate": 100_000_000, "slice": 65536, "jitter": 65536}
_FAULT_FLAGS = ("stall", "reset", "close")


def _parse_fault(raw: dict[str, Any], policy: LabPolicy) -> Command:
    name = socket_name(raw.get("link"), "link")
    direction = raw.get("direction", "both")
    if direction not in ("up", "down", "both"):
        raise InvalidCommand("direction", f"direction: up, down or both; got {quoted(direction)}")
    faults: dict[str, Any] = {"direction": direction}
    for key, most in _FAULT_INTS.items():
        if key in raw:
            faults[key] = _int(raw, key, 0, most, size=False)
    for key in _FAULT_FLAGS:
        if key in raw:
            faults[key] = _bool(raw, key)
    if len(faults) == 1:
        raise InvalidCommand(
            "link", "fault: give at least one of " + ", ".join([*_FAULT_INTS, *_FAULT_FLAGS])
        )
    return Command(op="fault", name=name, faults=faults)


def _parse_watch(op: str, sock: str, raw: dict[str, Any], policy: LabPolicy) -> Command:
    if "read" not in raw and "write" not in raw:
        raise InvalidCommand("read", 'watch: give "read" and/or "write" (true or false)')
    faults: dict[str, Any] = {k: _bool(raw, k) for k in ("read", "write") if k in raw}
    return Command(op=op, socket=sock, faults=faults)


_PARSERS = {
    "bind": _parse_bind_connect,
    "connect": _parse_bind_connect,
    "listen": _parse_listen,
    "accept": _parse_accept,
    "send": _parse_send,
    "sendall": _parse_send,
    "recv": _parse_recv,
    "shutdown": _parse_shutdown,
    "setblocking": _parse_setblocking,
    "settimeout": _parse_settimeout,
    "setsockopt": _parse_setsockopt,
    "getsockopt": _parse_getsockopt,
    "auto": _parse_auto,
    "write": _parse_send,
    "watch": _parse_watch,
}

_FIELDS_BY_OP: dict[str, set[str]] = {
    "socket": {"name", "options"},
    "bind": {"socket", "address"},
    "connect": {"socket", "address"},
    "listen": {"socket", "backlog"},
    "accept": {"socket", "name"},
    "send": {"socket", "text", "hex", "size"},
    "sendall": {"socket", "text", "hex", "size"},
    "recv": {"socket", "bufsize"},
    "shutdown": {"socket", "how"},
    "close": {"socket"},
    "abort": {"socket"},
    "setblocking": {"socket", "flag"},
    "settimeout": {"socket", "timeout"},
    "setsockopt": {"socket", "option", "value"},
    "getsockopt": {"socket", "option"},
    "auto": {"socket", "accept", "recv", "bufsize"},
    "makefile": {"socket"},
    "write": {"socket", "text", "hex", "size"},
    "flush": {"socket"},
    "watch": {"socket", "read", "write"},
    "link": {"name", "address", "target"},
    "fault": {"link", "direction", *_FAULT_INTS, *_FAULT_FLAGS},
    "cable": {"plugged"},
    "pause": set(),
    "resume": set(),
    "step": set(),
}
