"""How each command of the lab becomes lines of the exported script (pure).

A renderer gets the command and its recorded calls (:class:`Ctx`) and adds lines to a
:class:`Block`: the call the script makes, under the line the lab printed and a comment
with what the lab got.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sockscope.engine.core import pyline
from sockscope.engine.core.calltext import address_text
from sockscope.engine.core.commands import (
    READ_ONLY_SOCKOPTS,
    SOCKOPTS,
    Accept,
    Auto,
    Bind,
    Cable,
    Command,
    Connect,
    Dup,
    GetSockOpt,
    Listen,
    NewSocket,
    OnSocket,
    Payload,
    Recv,
    RecvFrom,
    Send,
    SendAll,
    SendTo,
    SetBlocking,
    SetSockOpt,
    SetTimeout,
    Shutdown,
    Watch,
    Write,
)
from sockscope.engine.core.payload import literal
from sockscope.engine.core.policy import LabPolicy
from sockscope.events import Event
from sockscope.export.record import (
    Calls,
    Recorded,
    accepted_name,
    bound_port,
    lab_said,
    recorded,
)

T = TypeVar("T")

INLINE_BYTES = 64  # longer literal payloads get their own variable, wrapped over lines

# Names a call's lambda body may use besides its socket: a socket named like one of
# them gets another parameter name.
_BODY_NAMES = frozenset({"pattern", "sent", "socket", "struct", "bytes", "payload"})


def comment(text: str) -> str:
    """Text for a one-line comment (a line break in it would end the comment)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _q(text: str) -> str:
    """A double-quoted Python string literal (JSON's escapes are Python's too)."""
    return json.dumps(text, ensure_ascii=True)


def _param(name: str) -> str:
    """The lambda parameter that stands for socket ``name`` (its own name, if free)."""
    if name in _BODY_NAMES or keyword.iskeyword(name) or not name.isidentifier():
        return f"{name}_" if f"{name}_".isidentifier() else "sock"
    return name


def _bytes_literal(data: bytes) -> list[str]:
    """A bytes literal, cut into lines of about 64 bytes when long."""
    if len(data) <= INLINE_BYTES:
        return [repr(data)]
    return [repr(data[i : i + INLINE_BYTES]) for i in range(0, len(data), INLINE_BYTES)]


class Block:
    """The statements of one command, indented for main()."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines += [f"    {line}" if line else "" for line in lines]

    def note(self, text: str) -> None:
        self.add(f"# {comment(text)}")

    def show(
        self,
        op: str,
        name: str,
        line: str,
        body: str,
        rec: Recorded | None,
        *,
        param: str | None = None,
        extra: str = "",
    ) -> None:
        """``show(op, name, line, lambda <socket>: <body>)`` with what the lab got above it."""
        self.note(f"lab: -> {lab_said(rec)}")
        self.add(
            f"show({_q(op)}, {_q(name)}, {_q(line)},",
            f"     lambda {param or _param(name)}: {body}{extra})",
        )


def _payload(block: Block, name: str, payload: Payload) -> tuple[str, str]:
    """The payload as a Python expression (a variable for long ones), and its lab text."""
    if payload.literal is None:
        return f"pattern(sent({_q(name)}), {payload.size})", f"pattern({payload.size})"
    data = payload.literal
    if payload.source == "hex":
        expr = f"bytes.fromhex({_q(data.hex(' ', -4))})"
        if len(data) > INLINE_BYTES:
            block.add("payload = bytes.fromhex(")
            block.add(
                *(f"    {_q(data[i : i + 32].hex(' ', -4) + ' ')}" for i in range(0, len(data), 32))
            )
            block.add(")")
            expr = "payload"
    else:
        parts = _bytes_literal(data)
        expr = parts[0]
        if len(parts) > 1:
            block.add("payload = (", *(f"    {part}" for part in parts), ")")
            expr = "payload"
    return expr, literal(data)


def _socket(block: Block, cmd: NewSocket, calls: Calls) -> None:
    name, opts = cmd.name, cmd.options
    create = f"socket.socket(socket.{opts.family}, socket.{opts.type})"
    rec = calls.take("socket")
    if opts.network == "private":
        block.note(
            "in the lab this socket lived in its private network (a namespace of its own);"
            " here it uses this machine's loopback"
        )
    line = rec.line if rec else pyline.new_socket(name, opts.network, opts.family, opts.type)
    block.show("socket", name, line, create, rec, param="_")
    p = _param(name)
    for option, value in opts.sockopts():
        _setsockopt_call(block, name, option, str(value), calls)
    if not opts.blocking:
        rec = calls.take("setblocking")
        line = rec.line if rec else pyline.setblocking(name, False)
        block.show("setblocking", name, line, f"{p}.setblocking(False)", rec)
    flags = []
    if opts.auto_accept:
        flags.append("accept=True")
    if opts.auto_recv != "off":
        flags.append(f"recv={_q(opts.auto_recv)}")
    if opts.bufsize != 65536:
        flags.append(f"bufsize={opts.bufsize}")
    if flags:
        block.add(f"auto({_q(name)}, {', '.join(flags)})")


@dataclass(slots=True)
class Places:
    """Private-network sockets, replayed on this machine's loopback, and the ports that move.

    The lab's private network has ports of its own: a private server may hold the
    port a host server of the same lab holds at the same time. Replayed side by side
    they would clash, so such a private server binds any free port instead (port 0),
    and the private clients of that port follow it (``MOVED`` in the runtime).
    """

    private: set[str]
    moved: set[int]  # lab ports a private socket holds while a host socket holds them too

    @classmethod
    def plan(cls, entries: list[tuple[Command, list[Event]]]) -> Places:
        private: set[str] = set()
        holding: dict[str, tuple[bool, int]] = {}  # socket name -> (private?, port), while open
        moved: set[int] = set()
        for cmd, events in entries:
            if isinstance(cmd, NewSocket) and cmd.options.network == "private":
                private.add(cmd.name)
            elif isinstance(cmd, Bind):
                rec = Calls(recorded(events)[0]).take("bind")
                port = bound_port(rec) or cmd.address[1]
                mine = cmd.socket in private
                if (not mine, port) in holding.values():
                    moved.add(port)
                holding[cmd.socket] = (mine, port)
            elif cmd.op in ("close", "abort") and isinstance(cmd, OnSocket):
                holding.pop(cmd.socket, None)
        return cls(private, moved)

    def moves(self, name: str, port: int) -> bool:
        return name in self.private and port in self.moved


class Ctx:
    """What a renderer needs: the command, its recorded calls, the ports bound so far."""

    def __init__(self, cmd: Command, calls: Calls, ports: list[str], places: Places) -> None:
        self.cmd, self.calls, self.ports, self.places = cmd, calls, ports, places
        self.name = cmd.socket if isinstance(cmd, OnSocket) else ""
        self.p = _param(self.name)

    def as_(self, kind: type[T]) -> T:
        """The command as the type its op makes it (the renderer table is keyed by op)."""
        assert isinstance(self.cmd, kind)
        return self.cmd

    def simple(self, block: Block, op: str, args: str) -> None:
        """A call recorded as ``name.op(args)``, replayed as the same call."""
        rec = self.calls.take(op)
        line = rec.line if rec else pyline.preview(self.cmd, LabPolicy())[0]
        block.show(op, self.name, line, f"{self.p}.{op}({args})", rec)


def _bind(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, Bind)
    rec = c.calls.take("bind")
    host, port = c.cmd.address
    real = bound_port(rec)
    if real is None:
        real = port
        if port == 0:
            block.note("the lab's port is unknown: port 0 lets the kernel choose")
    elif port == 0:
        block.note(f"the lab was asked for port 0 and got {real}: bind that port again")
    line = rec.line if rec else pyline.bind(c.name, (host, real))
    if c.places.moves(c.name, real):
        block.note(
            f"in the lab's private network {c.name} had port {real} to itself; here a host"
            f" socket of the lab holds it, so {c.name} takes any free port (its private"
            " clients follow)"
        )
        c.ports.append(f"{host or '0.0.0.0'}:any free port, for {real} ({c.name})")
        body = f"bind_elsewhere({c.p}, {address_text((host, real))})"
        block.show("bind", c.name, line, body, rec)
        return
    c.ports.append(f"{host or '0.0.0.0'}:{real} ({c.name})")
    block.show("bind", c.name, line, f"{c.p}.bind({address_text((host, real))})", rec)


def _connect(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, Connect)
    host, port = c.cmd.address
    if c.places.moves(c.name, port):
        block.note(f"{c.name} follows the private server of port {port} to its port here")
        rec = c.calls.take("connect")
        line = rec.line if rec else pyline.connect(c.name, (host, port))
        body = f"{c.p}.connect(({_q(host)}, MOVED.get({port}, {port})))"
        block.show("connect", c.name, line, body, rec)
        return
    c.simple(block, "connect", address_text((host, port)))


def _accept(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, Accept)
    rec = c.calls.take("accept")
    new = accepted_name(rec, c.cmd.name)
    line = rec.line if rec else pyline.accept(c.name, new)
    block.show("accept", c.name, line, f"{c.p}.accept()", rec, extra=f", new={_q(new)}")


def _send(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, Send)
    rec = c.calls.take("send")
    expr, text = _payload(block, c.name, c.cmd.payload)
    line = rec.line if rec else pyline.send(c.name, text)
    block.show("send", c.name, line, f"{c.p}.send({expr})", rec)


def _sendall(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, SendAll)
    rec = c.calls.take("sendall", "send")  # non-blocking: the lab's first send(view[0:])
    expr, text = _payload(block, c.name, c.cmd.payload)
    if rec is not None and rec.op == "send":
        block.note(f"lab: {rec.line}  ->  {lab_said(rec)}  (its loop sends the rest)")
    else:
        block.note(f"lab: -> {lab_said(rec)}")
    block.add(f"sendall({_q(c.name)}, {_q(pyline.sendall(c.name, text))}, lambda: {expr})")


def _sendto(block: Block, c: Ctx) -> None:
    cmd = c.as_(SendTo)
    rec = c.calls.take("sendto")
    expr, text = _payload(block, c.name, cmd.payload)
    line = rec.line if rec else pyline.sendto(c.name, text, cmd.address)
    block.show("sendto", c.name, line, f"{c.p}.sendto({expr}, {address_text(cmd.address)})", rec)


def _dup(block: Block, c: Ctx) -> None:
    cmd = c.as_(Dup)
    rec = c.calls.take("dup")
    made = rec.final.result if rec and rec.final else None
    new = str(made["socket"]) if isinstance(made, dict) else cmd.name or f"{c.name}_dup"
    line = rec.line if rec else pyline.dup(c.name, new)
    block.show("dup", c.name, line, f"{c.p}.dup()", rec, extra=f", new={_q(new)}")


def _makefile(block: Block, c: Ctx) -> None:
    rec = c.calls.take("makefile")
    line = rec.line if rec else pyline.makefile(c.name)
    block.show("makefile", c.name, line, f"{c.p}.makefile('wb')", rec)


def _write(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, Write)
    rec = c.calls.take("write")
    expr, text = _payload(block, c.name, c.cmd.payload)
    line = rec.line if rec else pyline.write(c.name, text)
    body = f"f_{c.name}.write({expr})"
    block.show("write", c.name, line, body, rec, param=f"f_{c.name}")


def _flush(block: Block, c: Ctx) -> None:
    rec = c.calls.take("flush")
    line = rec.line if rec else pyline.flush(c.name)
    block.show("flush", c.name, line, f"f_{c.name}.flush()", rec, param=f"f_{c.name}")


def _abort(block: Block, c: Ctx) -> None:
    block.note("abort: SO_LINGER on, 0 seconds, then close(): the peer gets a RST")
    _setsockopt_call(block, c.name, "SO_LINGER", "struct.pack('ii', 1, 0)", c.calls)
    _close(block, c)


def _close(block: Block, c: Ctx) -> None:
    wake = c.calls.take("shutdown", prefix=pyline.shutdown(c.name, "SHUT_RDWR"))
    if wake is not None:
        block.note(
            f"the lab: a thread was blocked in a call on {c.name}, and close() alone would"
            " not wake it: shutdown(SHUT_RDWR) first"
        )
        block.show("shutdown", c.name, wake.line, f"{c.p}.shutdown(socket.SHUT_RDWR)", wake)
    file = c.calls.take("close", prefix=f"{pyline.file_of(c.name)}.close()")
    if file is not None:
        body = f"f_{c.name}.close()"
        block.show("close_file", c.name, file.line, body, file, param=f"f_{c.name}")
    rec = c.calls.take("close", prefix=pyline.close(c.name))
    line = rec.line if rec else pyline.close(c.name)
    block.show("close", c.name, line, f"{c.p}.close()", rec)


def _setsockopt_call(block: Block, name: str, option: str, value: str, calls: Calls) -> None:
    level = "SOL_SOCKET" if option == "SO_LINGER" else SOCKOPTS[option][0]
    args = f"socket.{level}, socket.{option}, {value}"
    rec = calls.take("setsockopt")
    line = rec.line if rec else pyline.setsockopt(name, option, value)
    block.show("setsockopt", name, line, f"{_param(name)}.setsockopt({args})", rec)


def _getsockopt(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, GetSockOpt)
    level = (SOCKOPTS | READ_ONLY_SOCKOPTS)[c.cmd.option][0]
    c.simple(block, "getsockopt", f"socket.{level}, socket.{c.cmd.option}")


def _auto(block: Block, c: Ctx) -> None:
    assert isinstance(c.cmd, Auto)
    flags = []
    if c.cmd.accept is not None:
        flags.append(f"accept={c.cmd.accept}")
    if c.cmd.recv is not None:
        flags.append(f"recv={_q(c.cmd.recv)}")
    if c.cmd.bufsize is not None:
        flags.append(f"bufsize={c.cmd.bufsize}")
    block.add(f"auto({_q(c.name)}, {', '.join(flags)})")


RENDERERS: dict[str, Callable[[Block, Ctx], None]] = {
    "socket": lambda block, c: _socket(block, c.as_(NewSocket), c.calls),
    "bind": _bind,
    "listen": lambda block, c: c.simple(
        block, "listen", "" if c.as_(Listen).backlog is None else str(c.as_(Listen).backlog)
    ),
    "accept": _accept,
    "connect": _connect,
    "send": _send,
    "sendall": _sendall,
    "recv": lambda block, c: c.simple(block, "recv", str(c.as_(Recv).bufsize)),
    "recvfrom": lambda block, c: c.simple(block, "recvfrom", str(c.as_(RecvFrom).bufsize)),
    "sendto": _sendto,
    "dup": _dup,
    "shutdown": lambda block, c: c.simple(block, "shutdown", f"socket.{c.as_(Shutdown).how}"),
    "close": _close,
    "abort": _abort,
    "setblocking": lambda block, c: c.simple(block, "setblocking", str(c.as_(SetBlocking).flag)),
    "settimeout": lambda block, c: c.simple(block, "settimeout", str(c.as_(SetTimeout).timeout)),
    "setsockopt": lambda block, c: _setsockopt_call(
        block, c.name, c.as_(SetSockOpt).option, str(c.as_(SetSockOpt).value), c.calls
    ),
    "getsockopt": _getsockopt,
    "auto": _auto,
    "watch": lambda block, c: block.add(
        f"watch({_q(c.name)}, "
        + ", ".join(f"{k}={v}" for k, v in c.as_(Watch).lists().items())
        + ")"
    ),
    "makefile": _makefile,
    "write": _write,
    "flush": _flush,
    "pause": lambda block, c: block.add("pause()"),
    "resume": lambda block, c: block.add("resume()"),
    "step": lambda block, c: block.add("step()"),
    "cable": lambda block, c: block.note(
        "not replayed: the lab "
        + (
            "plugged its private network's cable back in"
            if c.as_(Cable).plugged
            else "pulled out its private network's cable (every segment dropped on arrival)"
        )
        + "; pulling a cable needs root and a network namespace"
    ),
}
