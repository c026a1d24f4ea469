"""Commands: the JSON a participant sends, one frozen type per ``op`` (pure).

Every action is a socket method named as Python names it, and its fields are the
method's arguments under their JSON names. :func:`parse_command` checks shape and
ranges only (pydantic, with the field types of :mod:`.validation`); whether the call
makes sense for the socket's state is the kernel's to answer, and the lab records
that answer. The same types give the JSON Schema of every command (the OpenAPI
document and the front end's generated types).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sockscope.engine.core.errors import InvalidCommand
from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.core.validation import (
    Address,
    BoolAsInt,
    SocketName,
    Timeout,
    Whole,
    choice,
    command_error,
    policy_of,
    quoted,
    refuse,
)

__all__ = ["Command", "Payload", "SocketOptions", "parse_command", "quoted"]

SHUT_HOWS = {"SHUT_RD": socket.SHUT_RD, "SHUT_WR": socket.SHUT_WR, "SHUT_RDWR": socket.SHUT_RDWR}

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
    "IPV6_V6ONLY": ("IPPROTO_IPV6", socket.IPPROTO_IPV6, socket.IPV6_V6ONLY),
}
READ_ONLY_SOCKOPTS: dict[str, tuple[str, int, int]] = {
    "SO_ERROR": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_ERROR),
    "SO_TYPE": ("SOL_SOCKET", socket.SOL_SOCKET, socket.SO_TYPE),
}
SettableOption = Literal[
    "SO_SNDBUF", "SO_RCVBUF", "SO_REUSEADDR", "SO_KEEPALIVE", "SO_RCVLOWAT", "TCP_NODELAY",
    "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT", "IPV6_V6ONLY",
]  # fmt: skip
ReadableOption = SettableOption | Literal["SO_ERROR", "SO_TYPE"]
AutoRecv = Literal["off", "discard", "echo"]
Family = Literal["AF_INET", "AF_INET6"]
SockType = Literal["SOCK_STREAM", "SOCK_DGRAM"]
FAMILIES = {"AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6}
TYPES = {"SOCK_STREAM": socket.SOCK_STREAM, "SOCK_DGRAM": socket.SOCK_DGRAM}

PayloadSize = Annotated[int, Whole(0, cap="max_payload", size=True)]
BufSize = Annotated[int, Whole(1, cap="max_bufsize", size=True)]
BufferOption = Annotated[int, Whole(1, cap="max_buffer_option", size=True)]


@dataclass(frozen=True, slots=True)
class Payload:
    """Bytes to send: literal (from text or hex) or ``size`` patterned bytes."""

    literal: bytes | None
    size: int
    source: Literal["text", "hex", "size"]


class _Checked(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SocketOptions(_Checked):
    """What ``socket()`` sets up, besides the socket itself."""

    family: Family = "AF_INET"
    """AF_INET (IPv4) or AF_INET6 (IPv6, which can also take IPv4 clients)"""
    type: SockType = "SOCK_STREAM"
    """SOCK_STREAM (TCP, a byte stream) or SOCK_DGRAM (UDP, one message at a time)"""
    v6only: StrictBool | None = None
    """IPV6_V6ONLY for an AF_INET6 socket: true, IPv6 only; false, IPv4 clients too"""
    sndbuf: BufferOption | None = None
    """SO_SNDBUF to ask for (the kernel doubles it)"""
    rcvbuf: BufferOption | None = None
    """SO_RCVBUF to ask for (the kernel doubles it)"""
    nodelay: StrictBool | None = None
    reuseaddr: StrictBool | None = None
    blocking: StrictBool = True
    auto_accept: StrictBool = False
    """the lab's loop accepts every connection as it arrives"""
    auto_recv: AutoRecv = "off"
    """the lab's loop reads whatever arrives: off, discard it, or echo it back"""
    bufsize: BufSize = 65536
    """the size of the loop's own recv() calls"""
    network: Literal["host", "private"] = "host"
    """host: this machine's loopback; private: the lab's own, whose cable can be pulled out"""

    def sockopts(self) -> list[tuple[str, int]]:
        """The socket options to set, in the order socket() applies them."""
        given = (
            ("IPV6_V6ONLY", self.v6only),
            ("SO_REUSEADDR", self.reuseaddr),
            ("SO_SNDBUF", self.sndbuf),
            ("SO_RCVBUF", self.rcvbuf),
            ("TCP_NODELAY", self.nodelay),
        )
        return [(option, int(value)) for option, value in given if value is not None]

    @model_validator(mode="after")
    def _consistent(self) -> SocketOptions:
        if self.v6only is not None and self.family != "AF_INET6":
            raise choice("options.v6only", "options.v6only: only an AF_INET6 socket has it")
        if self.type == "SOCK_DGRAM" and self.nodelay is not None:
            raise choice("options.nodelay", "options.nodelay: TCP_NODELAY is TCP's; UDP has none")
        if self.type == "SOCK_DGRAM" and self.auto_accept:
            raise choice("options.auto_accept", "options.auto_accept: UDP has no connections")
        if self.network == "private" and (self.family, self.type) != ("AF_INET", "SOCK_STREAM"):
            raise choice(
                "options.network",
                "options.network: the private network makes AF_INET SOCK_STREAM sockets only",
            )
        return self


class _Op(_Checked):
    op: str
    scope: ClassVar[Literal["lab", "socket"]] = "lab"


class OnSocket(_Op):
    scope: ClassVar[Literal["lab", "socket"]] = "socket"
    socket: SocketName
    """the lab socket the method is called on"""


# -- the lab --------------------------------------------------------------------------------


class NewSocket(_Op):
    """``name = socket.socket(family, type)`` (AF_INET, SOCK_STREAM unless asked), with options."""

    op: Literal["socket"]
    name: SocketName
    options: SocketOptions = SocketOptions()


class Pause(_Op):
    """Pause the lab's select() loop."""

    op: Literal["pause"]


class Resume(_Op):
    """Let the lab's select() loop run again."""

    op: Literal["resume"]


class Step(_Op):
    """Run one turn of the paused select() loop."""

    op: Literal["step"]


class NewLink(_Op):
    """A fault-injecting relay: it listens at ``address`` and forwards to ``target``."""

    op: Literal["link"]
    name: SocketName
    address: Address = ("127.0.0.1", 0)
    target: Address


FaultCount = Annotated[int, Whole(0, 65536)]


class Fault(_Op):
    """Change what a link does to the bytes it carries."""

    op: Literal["fault"]
    link: SocketName
    direction: Literal["up", "down", "both"] = "both"
    latency_ms: Annotated[int, Whole(0, 10_000)] | None = None
    rate: Annotated[int, Whole(0, 100_000_000)] | None = None
    """bytes per second (0: no limit)"""
    slice: FaultCount | None = None
    jitter: FaultCount | None = None
    stall: StrictBool | None = None
    reset: StrictBool | None = None
    close: StrictBool | None = None

    CHANGES: ClassVar[tuple[str, ...]] = (
        "latency_ms", "rate", "slice", "jitter", "stall", "reset", "close",
    )  # fmt: skip

    @model_validator(mode="after")
    def _something(self) -> Fault:
        if all(getattr(self, key) is None for key in self.CHANGES):
            raise choice("link", "fault: give at least one of " + ", ".join(self.CHANGES))
        return self

    def faults(self) -> dict[str, Any]:
        """The direction and every change given, as the link applies them."""
        given = {key: getattr(self, key) for key in self.CHANGES}
        return {"direction": self.direction} | {k: v for k, v in given.items() if v is not None}


class Cable(_Op):
    """Pull the lab's private network's cable out (false) or plug it back in (true)."""

    op: Literal["cable"]
    plugged: StrictBool


# -- one socket -------------------------------------------------------------------------------


class Bind(OnSocket):
    op: Literal["bind"]
    address: Address


class Connect(OnSocket):
    op: Literal["connect"]
    address: Address


class Listen(OnSocket):
    op: Literal["listen"]
    backlog: Annotated[int, Whole(0, cap="max_backlog")] | None = None
    """omitted: Python's default, min(SOMAXCONN, 128)"""


class Accept(OnSocket):
    op: Literal["accept"]
    name: SocketName | None = None
    """what to call the new socket (omitted: conn, conn2, ...)"""


class _Sends(OnSocket):
    """A call that sends bytes: exactly one of ``text``, ``hex`` or ``size``."""

    text: StrictStr | None = None
    """UTF-8 text"""
    hex: StrictStr | None = None
    """bytes in hexadecimal (spaces allowed)"""
    size: PayloadSize | None = None
    """that many bytes of a known pattern"""

    @field_validator("text", "hex")
    @classmethod
    def _fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        try:
            data = value.encode("utf-8") if info.field_name == "text" else bytes.fromhex(value)
        except ValueError:
            raise refuse("hex", f"not hexadecimal bytes: {value[:40]!r}") from None
        cap = policy_of(info).max_payload
        if len(data) > cap:
            raise refuse("too_large", f"{len(data)} bytes is over the limit of {cap}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> _Sends:
        if sum(value is not None for value in (self.text, self.hex, self.size)) != 1:
            raise choice("data", 'give exactly one of "text", "hex" or "size"')
        return self

    @cached_property
    def payload(self) -> Payload:
        if self.text is not None:
            data = self.text.encode("utf-8")
            return Payload(data, len(data), "text")
        if self.hex is not None:
            data = bytes.fromhex(self.hex)
            return Payload(data, len(data), "hex")
        assert self.size is not None  # the validator saw to it
        return Payload(None, self.size, "size")


class Send(_Sends):
    op: Literal["send"]


class SendAll(_Sends):
    op: Literal["sendall"]


class Write(_Sends):
    """Write to the socket's buffered file (``makefile('wb')``)."""

    op: Literal["write"]


class SendTo(_Sends):
    """``sendto(data, address)``: one datagram (UDP) to ``address``."""

    op: Literal["sendto"]
    address: Address


class Recv(OnSocket):
    op: Literal["recv"]
    bufsize: BufSize


class RecvFrom(OnSocket):
    """``recvfrom(bufsize)``: the data and the address it came from."""

    op: Literal["recvfrom"]
    bufsize: BufSize


class Dup(OnSocket):
    """``name = socket.dup()``: a second socket object, and descriptor, for the same socket."""

    op: Literal["dup"]
    name: SocketName | None = None
    """what to call the copy (omitted: the socket's name with _dup)"""


class Shutdown(OnSocket):
    op: Literal["shutdown"]
    how: Literal["SHUT_RD", "SHUT_WR", "SHUT_RDWR"]


class Close(OnSocket):
    op: Literal["close"]


class Abort(OnSocket):
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""

    op: Literal["abort"]


class SetBlocking(OnSocket):
    op: Literal["setblocking"]
    flag: StrictBool


class SetTimeout(OnSocket):
    op: Literal["settimeout"]
    timeout: Timeout = None


class SetSockOpt(OnSocket):
    op: Literal["setsockopt"]
    option: SettableOption
    value: Annotated[int, Whole(0, cap="max_buffer_option", size=True), BoolAsInt]
    """an integer (true and false are 1 and 0)"""


class GetSockOpt(OnSocket):
    op: Literal["getsockopt"]
    option: ReadableOption


class Auto(OnSocket):
    """Change what the lab's loop does by itself for this socket."""

    op: Literal["auto"]
    accept: StrictBool | None = None
    recv: AutoRecv | None = None
    bufsize: BufSize | None = None

    @model_validator(mode="after")
    def _something(self) -> Auto:
        if self.accept is None and self.recv is None and self.bufsize is None:
            raise choice("accept", 'auto: give "accept", "recv" and/or "bufsize"')
        return self


class MakeFile(OnSocket):
    """``socket.makefile('wb')``: a buffered file over the socket."""

    op: Literal["makefile"]


class Flush(OnSocket):
    op: Literal["flush"]


class Watch(OnSocket):
    """Keep the socket in select()'s readers or writers, whatever the program needs."""

    op: Literal["watch"]
    read: StrictBool | None = None
    write: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> Watch:
        if self.read is None and self.write is None:
            raise choice("read", 'watch: give "read" and/or "write" (true or false)')
        return self

    def lists(self) -> dict[str, bool]:
        """The lists given: ``{"read": ..., "write": ...}``."""
        given = {"read": self.read, "write": self.write}
        return {key: value for key, value in given.items() if value is not None}


SocketCommand = (
    Bind | Connect | Listen | Accept | Send | SendAll | SendTo | Write | Recv | RecvFrom
    | Shutdown | Close | Abort | SetBlocking | SetTimeout | SetSockOpt | GetSockOpt | Auto
    | MakeFile | Flush | Watch | Dup
)  # fmt: skip
LabCommand = NewSocket | Pause | Resume | Step | NewLink | Fault | Cable
Command = Annotated[LabCommand | SocketCommand, Field(discriminator="op")]
"""One command, told apart by its ``op``."""

COMMAND_TYPES: tuple[type[_Op], ...] = (
    NewSocket, Bind, Listen, Accept, Connect, Send, SendAll, Recv, Shutdown, Close, Abort,
    SetBlocking, SetTimeout, SetSockOpt, GetSockOpt, Auto, MakeFile, Write, Flush, Watch,
    SendTo, RecvFrom, Dup, Pause, Resume, Step, NewLink, Fault, Cable,
)  # fmt: skip
BY_OP: dict[str, type[_Op]] = {
    get_args(t.model_fields["op"].annotation)[0]: t for t in COMMAND_TYPES
}
OPS = tuple(BY_OP)
LOOP_OPS = ("pause", "resume", "step")
FIELDS_BY_OP = {op: frozenset(t.model_fields) - {"op"} for op, t in BY_OP.items()}

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def _known(path: str) -> str:
    if path == "options":
        return ", ".join(sorted(SocketOptions.model_fields))
    return ""


def parse_command(raw: Any, policy: LabPolicy) -> Command:
    """Check one command's JSON (``id``, a client's own tag, is set aside).

    Raises:
        InvalidCommand: unknown op, missing or ill-typed field (``field`` names it).
        TooLarge: a size over the lab's caps.
    """
    if not isinstance(raw, dict):
        raise InvalidCommand(None, f"a command is a JSON object, got {type(raw).__name__}")
    op = raw.get("op")
    if not isinstance(op, str) or op not in BY_OP:
        raise InvalidCommand("op", f"unknown op {quoted(op)}; expected one of: {', '.join(OPS)}")
    if "id" in raw:
        raw = {key: value for key, value in raw.items() if key != "id"}
    try:
        return COMMAND_ADAPTER.validate_python(raw, context={"policy": policy})
    except ValidationError as exc:
        raise command_error(exc, op, _known) from None


def command_schema() -> dict[str, Any]:
    """The JSON Schema of a command (every op its own schema under ``$defs``)."""
    return COMMAND_ADAPTER.json_schema(ref_template="#/$defs/{model}")
