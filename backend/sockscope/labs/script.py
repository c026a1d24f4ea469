"""Export a lab as a standalone Python script that replays its commands (pure).

Theory of operation. The engine keeps every command it ran, in order, as a
:class:`~sockscope.engine.tickets.Ticket`: the parsed :class:`Command` and the
events it produced, its :class:`CallEvent` s among them. :func:`render_script`
turns that history into a program that needs nothing but the standard library
(``socket``, ``select``, ``struct``, ``threading``, ``time``, ``errno``): a small
runtime (:data:`RUNTIME`) that makes each call and prints ``line  ->  result``
the way the lab's call log does, then one block per command.

What the script is made of:

- The *command* gives what to do (which socket, which payload, which option).
- The command's *recorded calls* give the rest: the line the lab printed (so the
  two logs can be compared line by line), what the kernel answered (written as a
  ``# lab: -> ...`` comment above the call), the port a ``bind`` to port 0 really
  got, the name an ``accept`` gave its new socket, and calls the lab added on its
  own (the ``shutdown(SHUT_RDWR)`` that wakes a blocked thread before ``close``).
- What the lab's ``select()`` loop did on its own is not replayed from the record:
  the script runs the same loop (auto-accept, auto-recv, loop-driven ``sendall``,
  non-blocking ``connect`` completion), so it reacts to its own kernel's timing.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sockscope.engine.calls import address_text
from sockscope.engine.commands import READ_ONLY_SOCKOPTS, SOCKOPTS, Command, Payload
from sockscope.engine.payload import literal
from sockscope.engine.tickets import Ticket
from sockscope.events import CallEvent, CallStartedEvent, Event

GAP = 0.1  # seconds the script's loop runs between two commands (the kernel settles too)
GAP_BUDGET = 20.0  # a long history gets shorter gaps, so the whole replay stays short
MIN_GAP = 0.01
LOOP_CALLS_SHOWN = 6  # loop calls of the lab listed under a command (a step's, mostly)
INLINE_BYTES = 64  # longer literal payloads get their own variable, wrapped over lines

# Names a call's lambda body may use besides its socket: a socket named like one of
# them gets another parameter name.
_BODY_NAMES = frozenset({"pattern", "sent", "socket", "struct", "bytes", "payload"})

RUNTIME = '''\
import errno
import select
import socket
import struct
import threading
import time

WAIT = 1.0  # a call that blocks is waited for this long, then the program goes on (as the lab)
LOOP_TIMEOUT = 0.25  # the lab's select() timeout: the longest a step() waits
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)  # the loop's own calls must never block
SOCKS = {}  # name -> Sock: the program's sockets, under the lab's names
BLOCKED = []  # calls blocked in a thread: (Sock, side, op, line, box, started, new, size)
PAUSED = False  # pause(): the select() loop does nothing until resume()


class Sock:
    """A socket, and what the program's select() loop knows about it."""

    def __init__(self, name, sock, role="new", auto_recv="off", bufsize=65536):
        self.name, self.sock = name, sock
        self.role = role  # new, bound, listening, connecting, connected or failed
        self.auto_accept = False  # the loop accept()s when this listening socket is readable
        self.auto_recv, self.bufsize = auto_recv, bufsize  # the loop recv()s: discard or echo
        self.eof = self.shut_rd = False  # recv() gave b''; this side shut down its reading
        self.sent = 0  # bytes sent so far: the next pattern payload goes on from there
        self.outbox = []  # [data, bytes sent, sendall line or None for an echo]: the loop sends
        self.busy = set()  # "in" / "out": a thread is blocked in a call on that side
        self.file = None  # makefile('wb'): a buffer in Python, in front of the kernel's
        self.watch_read = self.watch_write = False  # kept in select()'s lists regardless
        self.spins = 0  # turns where select() reported it ready and the program did nothing


def pattern(offset, size):
    """size bytes of the lab's pattern from stream offset: b"0000000|0000001|..." (hex)."""
    first, skip = divmod(offset, 8)
    count = (skip + size + 7) // 8
    return b"".join(b"%07x|" % ((first + i) % 0x10000000) for i in range(count))[skip:][:size]


def sent(name):
    return SOCKS[name].sent if name in SOCKS else 0


def perform(call, sock):
    """One call. An OSError is an answer too: the kernel said no, and why."""
    try:
        return call(sock), None
    except (OSError, ValueError, OverflowError, AttributeError) as exc:
        return None, exc  # AttributeError: an option this system does not have


def errname(exc):
    """EAGAIN, ECONNREFUSED, ...: the errno's name; "timeout" when settimeout() ran out."""
    if isinstance(getattr(exc, "errno", None), int):
        return errno.errorcode.get(exc.errno, "E%d" % exc.errno)
    return "timeout" if isinstance(exc, socket.timeout) else type(exc).__name__


def say(tag, line, result):
    print("%s%s  ->  %s" % (tag, line, result), flush=True)


def show(op, name, line, call, new=None, size=0):
    """Make one call on socket `name`; print `line  ->  result` as the lab's log does.

    On a blocking socket a call that may block runs in a thread, as in the lab. Still
    blocked after WAIT seconds, the program goes on; its result is printed when it comes.
    """
    reap()
    s = None if op == "socket" else find(name)
    if op != "socket" and s is None:
        return say("", line, "(not run: this program has no socket %r)" % name)
    if op in ("send", "sendall"):
        drain(s)
    target = s and (s.file if op in ("write", "flush", "close_file") else s.sock)
    may_block = op in ("accept", "connect", "send", "sendall", "recv", "write", "flush")
    if s is None or not may_block or s.sock.gettimeout() == 0.0:
        value, exc = perform(call, target)
        return say("", line, after(op, name, s, line, value, exc, new, size))
    side, box, started = "in" if op in ("accept", "recv") else "out", [], time.monotonic()

    def work():
        box.append(perform(call, target) + (time.monotonic(),))

    threading.Thread(target=work, daemon=True).start()
    s.busy.add(side)
    while not box and time.monotonic() < started + WAIT:
        reap()  # meanwhile the loop runs, and other calls return, as in the lab
        if PAUSED:
            time.sleep(0.005)
        else:
            select_once(0.01)
    if not box:
        BLOCKED.append((s, side, op, line, box, started, new, size))
        return say("", line, "... blocked")
    s.busy.discard(side)
    say("", line, after(op, name, s, line, box[0][0], box[0][1], new, size))


def reap(tag=""):
    """Print the blocked calls that have returned since (the lab's "via worker" calls)."""
    for entry in sorted((e for e in BLOCKED if e[4]), key=lambda e: e[4][0][2]):
        BLOCKED.remove(entry)
        s, side, op, line, box, started, new, size = entry
        s.busy.discard(side)
        value, exc, ended = box[0]
        result = after(op, s.name, s, line, value, exc, new, size)
        say("%s[returned after %.2f s] " % (tag, ended - started), line, result)


def after(op, name, s, line, value, exc, new=None, size=0):
    """Note what a call changed (the loop needs it); return its result as the lab prints it."""
    if op == "close" and SOCKS.get(name) is s:
        del SOCKS[name]  # gone, whatever close() said
    if exc is not None:
        if op == "connect":
            in_progress = getattr(exc, "errno", None) == errno.EINPROGRESS
            s.role = "connecting" if in_progress else "failed"
        return errname(exc)
    if op == "socket":
        SOCKS[name] = Sock(name, value)
        return "<socket fd=%d>" % value.fileno()
    if op == "accept":
        return accepted(s, value, new)
    if op in ("makefile", "close_file"):
        s.file = value if op == "makefile" else None
        if op == "makefile":  # io.DEFAULT_BUFFER_SIZE: what write() keeps before sending
            return "<BufferedWriter: 8192 bytes of buffer in Python>"
    if op == "recv":
        return received(s, value)
    if op in ("bind", "listen", "connect"):
        s.role = {"bind": "bound", "listen": "listening", "connect": "connected"}[op]
    elif op in ("send", "sendall", "write"):
        s.sent += value if op in ("send", "write") else size
    elif op == "shutdown":
        s.shut_rd = s.shut_rd or "SHUT_RD" in line  # SHUT_RD or SHUT_RDWR
    elif op == "getsockopt" and "SO_ERROR" in line and value:
        return "%d (%s)" % (value, errno.errorcode.get(value, "?"))
    return repr(value)


def received(s, data):
    """What recv() returned, as the lab prints it. b'' means the stream has ended."""
    if data:
        return "%r%s (%d bytes)" % (data[:48], "..." if len(data) > 48 else "", len(data))
    s.eof = True
    return "b'' (this side was shut down)" if s.shut_rd else "b'' (peer closed)"


def accepted(listener, value, name=None):
    """Keep the socket accept() returned; the loop reads it the way it reads its listener."""
    conn, addr = value
    if name is None or name in SOCKS:
        name = free_name()
    SOCKS[name] = Sock(name, conn, "connected", listener.auto_recv, listener.bufsize)
    return "(%s, %r)" % (name, addr)


def free_name(base="conn"):
    """The lab's names for accepted sockets: conn, conn2, conn3, ..."""
    name, n = base, 2
    while name in SOCKS:
        name, n = base + str(n), n + 1
    return name


def find(name):
    """The socket called name (one that the loop accepts may take a moment to appear)."""
    deadline = time.monotonic() + WAIT
    while name not in SOCKS and not PAUSED and time.monotonic() < deadline:
        accepting = any(s.auto_accept for s in SOCKS.values())
        if not accepting and not any(entry[2] == "accept" for entry in BLOCKED):
            break  # no accept() can make it: it will not appear
        select_once(0.01)
        reap()
    return SOCKS.get(name)


def drain(s):
    """Before a send: let the loop finish a sendall still going (the lab allows one writer)."""
    deadline = time.monotonic() + 5
    while any(box[2] for box in s.outbox) and not PAUSED and time.monotonic() < deadline:
        select_once(0.01)


def sendall(name, line, make):
    """sendall(make()). Blocking socket: the real sendall(). Non-blocking: the lab's way,
    one send() now, then one per writable turn of the loop, a [loop] line once all is sent."""
    s = find(name)
    if s is None or s.sock.gettimeout() != 0.0:
        data = make()
        return show("sendall", name, line, lambda sock: sock.sendall(data), size=len(data))
    reap()
    drain(s)
    s.outbox.append([make(), 0, line])  # made now: a pattern goes on from the bytes sent so far
    send_some(s, "")


def auto(name, **what):
    """What the loop does with a socket: accept=True; recv="discard", "echo" or "off"; bufsize."""
    print("# auto: %s %s" % (name, ", ".join("%s=%r" % item for item in what.items())))
    s = find(name)
    if s is not None:
        s.auto_accept = what.get("accept", s.auto_accept)
        s.auto_recv = what.get("recv", s.auto_recv)
        s.bufsize = what.get("bufsize", s.bufsize)


def watch(name, **lists):
    """Keep a socket in select()'s readers (read=True) or writers (write=True), whatever
    the program has to do with it: select() then returns at once, turn after turn."""
    print("# watch: %s %s" % (name, ", ".join("%s=%r" % item for item in lists.items())))
    s = find(name)
    if s is not None:
        s.watch_read = lists.get("read", s.watch_read)
        s.watch_write = lists.get("write", s.watch_write)


def spun():
    """Say how often select() found a watched socket ready with nothing for the program to do."""
    for s in SOCKS.values():
        if s.spins:
            print("[loop] select() returned at once %d times with %s ready, and the program had"
                  " nothing to do with it" % (s.spins, s.name))
            s.spins = 0


def pause(paused=True):
    global PAUSED
    PAUSED = paused
    print("# the select() loop is " + ("paused" if paused else "running"))


def resume():
    pause(False)


def step():
    print("# step: one turn of the select() loop")
    reap()
    select_once(LOOP_TIMEOUT)


def pump(seconds):
    """The program between two commands: its select() loop runs (unless paused)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reap()
        left = max(0.0, deadline - time.monotonic())
        if PAUSED:
            time.sleep(min(left, 0.01))
        else:
            select_once(min(left, 0.05))
    reap()
    spun()


def wants_read(s):
    if "in" in s.busy:
        return False  # a thread is in recv() or accept(): the loop leaves it alone
    if s.watch_read and s.role in ("listening", "connected"):
        return True
    if s.role == "listening":
        return s.auto_accept
    return s.role == "connected" and s.auto_recv != "off" and not s.eof


def wants_write(s):
    if "out" in s.busy:
        return False
    if s.watch_write and s.role == "connected":
        return True
    return s.role == "connecting" or (s.role == "connected" and bool(s.outbox))


def select_once(timeout):
    """One turn of the loop: select(), then the calls that will not block now."""
    readers = [s for s in SOCKS.values() if wants_read(s)]
    writers = [s for s in SOCKS.values() if wants_write(s)]
    if not readers and not writers:
        return time.sleep(timeout)
    try:
        r, w, _ = select.select([s.sock for s in readers], [s.sock for s in writers], [], timeout)
    except (OSError, ValueError):
        return
    for s in [s for s in writers if s.sock in w and SOCKS.get(s.name) is s]:
        if s.role == "connecting":
            finish_connect(s)
        elif s.outbox:
            send_some(s, "[loop] ")
        else:
            s.spins += 1  # only watched: writable, and nothing to send
    for s in [s for s in readers if s.sock in r]:
        if SOCKS.get(s.name) is not s:
            continue  # closed meanwhile
        if s.role == "listening" and s.auto_accept:
            loop_accept(s)
        elif s.role == "connected" and s.auto_recv != "off" and not s.eof:
            loop_recv(s)
        else:
            s.spins += 1  # only watched: readable, and the program does not read


def finish_connect(s):
    """A non-blocking connect() is over: SO_ERROR says how."""
    code, exc = perform(lambda sock: sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), s.sock)
    code = -1 if exc else code
    s.role = "connected" if code == 0 else "failed"
    text = "0 (connected)" if code == 0 else "%d (%s)" % (code, errno.errorcode.get(code, "?"))
    say("[loop] ", "%s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)" % s.name, text)


def send_some(s, tag):
    """One send() of what the first outbox entry still holds (a sendall, or an echo)."""
    box = s.outbox[0]
    data, start, sendall_line = box
    line = "%s.send(%s[%d:])" % (s.name, "view" if sendall_line else "echo", start)
    n, exc = perform(lambda sock: sock.send(memoryview(data)[start:], DONTWAIT), s.sock)
    say(tag, line, errname(exc) if exc else n)
    if exc is None:
        box[1] += n
        s.sent += n
        if box[1] == len(data):
            s.outbox.pop(0)
            if sendall_line:
                say("[loop] ", sendall_line, "None")
    elif not isinstance(exc, BlockingIOError):
        s.outbox.clear()  # EPIPE, ECONNRESET: nothing more will go through
        if sendall_line:
            say("[loop] ", sendall_line, errname(exc))


def loop_recv(s):
    data, exc = perform(lambda sock: sock.recv(s.bufsize, DONTWAIT), s.sock)
    result = errname(exc) if exc else received(s, data)
    say("[loop] ", "data = %s.recv(%d)" % (s.name, s.bufsize), result)
    if exc is not None and not isinstance(exc, BlockingIOError):
        s.eof = True  # a dead connection: stop reading it
    elif data and s.auto_recv == "echo":
        s.outbox.append([data, 0, None])


def loop_accept(s):
    value, exc = perform(lambda sock: sock.accept(), s.sock)
    name = free_name()
    result = errname(exc) if exc else accepted(s, value, name)
    say("[loop] ", "%s, addr = %s.accept()" % (name, s.name), result)


def finish():
    """The end: the loop runs a little longer, then every socket is closed."""
    pump(0.3)
    print("# the end: close every socket (a thread still blocked is woken by shutdown())")
    for s in list(SOCKS.values()):
        if s.busy:
            perform(lambda sock: sock.shutdown(socket.SHUT_RDWR), s.sock)
        if s.file is not None:
            perform(lambda file: file.close(), s.file)  # else close() leaves the fd open
        value, exc = perform(lambda sock: sock.close(), s.sock)
        say("[end] ", "%s.close()" % s.name, errname(exc) if exc else value)
    SOCKS.clear()
    deadline = time.monotonic() + 1
    while BLOCKED and time.monotonic() < deadline:
        reap("[end] ")
        time.sleep(0.01)
    for entry in BLOCKED:
        say("[end] ", entry[3], "... still blocked (its thread ends with the program)")
'''


# -- what the lab recorded ------------------------------------------------------------------


@dataclass(slots=True)
class _Recorded:
    """One call a command made in the lab: its start (a blocking call) and its end."""

    op: str
    line: str
    final: CallEvent | None


def _recorded(events: list[Event]) -> tuple[list[_Recorded], list[CallEvent]]:
    """The command's own calls in order (a worker call by its start), and the loop's."""
    calls: list[_Recorded] = []
    started: dict[int, _Recorded] = {}
    loop: list[CallEvent] = []
    for event in events:
        if isinstance(event, CallStartedEvent):
            started[event.call_id] = rec = _Recorded(event.op, event.line, None)
            calls.append(rec)
        elif isinstance(event, CallEvent):
            if event.via == "loop":
                loop.append(event)
                continue
            found = started.get(event.call_id)
            if found is None:
                calls.append(_Recorded(event.op, event.line, event))
            else:
                found.final, found.line = event, event.line
    return calls, loop


class _Calls:
    """The recorded calls of one command, taken in order by the statements rendered."""

    def __init__(self, calls: list[_Recorded]) -> None:
        self._calls = calls
        self._next = 0
        self.skipped: list[_Recorded] = []

    def take(self, *ops: str, prefix: str | None = None) -> _Recorded | None:
        """The next recorded call of one of ``ops`` (and whose line starts with ``prefix``).

        Calls passed over on the way are kept in ``skipped`` (shown as comments).
        """
        for i in range(self._next, len(self._calls)):
            rec = self._calls[i]
            if rec.op in ops and (prefix is None or rec.line.startswith(prefix)):
                self.skipped += self._calls[self._next : i]
                self._next = i + 1
                return rec
        return None

    def rest(self) -> list[_Recorded]:
        rest = self.skipped + self._calls[self._next :]
        self.skipped, self._next = [], len(self._calls)
        return rest


def _lab_said(rec: _Recorded | None) -> str:
    if rec is None:
        return "(the lab recorded no call here)"
    if rec.final is None:
        return "... blocked (it had not returned when this script was made)"
    text = rec.final.result_text
    seconds = rec.final.duration_ns / 1e9
    if rec.final.via == "worker" and seconds >= 0.5:
        text += f"  (it blocked; returned after {seconds:.1f} s)"
    return text


def _bound_port(rec: _Recorded | None) -> int | None:
    """The port a bind() really used: from its result, else from its line."""
    if rec is None:
        return None
    result = rec.final.result if rec.final is not None else None
    if isinstance(result, dict) and isinstance(result.get("address"), list):
        port = result["address"][1]
        if isinstance(port, int):
            return port
    match = re.search(r"\.bind\(\((?:'[^']*'|\"[^\"]*\"), (\d+)\)\)", rec.line)
    return int(match.group(1)) if match else None


def _accepted_name(rec: _Recorded | None, asked: str | None) -> str:
    """The name the lab gave the socket an accept() created."""
    result = rec.final.result if rec is not None and rec.final is not None else None
    if isinstance(result, dict) and isinstance(result.get("socket"), str):
        return str(result["socket"])
    match = re.match(r"(\w+), addr = ", rec.line) if rec is not None else None
    return match.group(1) if match else asked or "conn"


# -- rendering --------------------------------------------------------------------------------


def _comment(text: str) -> str:
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


class _Block:
    """The statements of one command, indented for main()."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines += [f"    {line}" if line else "" for line in lines]

    def note(self, text: str) -> None:
        self.add(f"# {_comment(text)}")

    def show(
        self,
        op: str,
        name: str,
        line: str,
        body: str,
        rec: _Recorded | None,
        *,
        param: str | None = None,
        extra: str = "",
    ) -> None:
        """``show(op, name, line, lambda <socket>: <body>)`` with what the lab got above it."""
        self.note(f"lab: -> {_lab_said(rec)}")
        self.add(
            f"show({_q(op)}, {_q(name)}, {_q(line)},",
            f"     lambda {param or _param(name)}: {body}{extra})",
        )


def _payload(block: _Block, name: str, payload: Payload) -> tuple[str, str]:
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


def _describe(cmd: Command) -> str:
    """The command as the JSON a participant would send (long texts shortened)."""
    out: dict[str, Any] = {"op": cmd.op}
    if cmd.socket is not None:
        out["socket"] = cmd.socket
    if cmd.name is not None:
        out["name"] = cmd.name
    if cmd.options is not None:
        defaults = {
            "blocking": True,
            "auto_accept": False,
            "auto_recv": "off",
            "bufsize": 65536,
            "network": "host",
        }
        options = {
            key: getattr(cmd.options, key)
            for key in ("sndbuf", "rcvbuf", "nodelay", "reuseaddr", *defaults)
            if getattr(cmd.options, key) is not None
            and getattr(cmd.options, key) != defaults.get(key)
        }
        if options:
            out["options"] = options
    if cmd.address is not None:
        out["address"] = list(cmd.address)
    if cmd.payload is not None:
        payload = cmd.payload
        if payload.literal is None:
            out["size"] = payload.size
        elif payload.source == "hex":
            text = payload.literal.hex(" ", -4)
            out["hex"] = text if len(text) <= 80 else f"{text[:80]}... ({payload.size} bytes)"
        else:
            text = payload.literal.decode("utf-8", errors="replace")
            out["text"] = text if len(text) <= 60 else f"{text[:60]}... ({payload.size} bytes)"
    for field, key in (
        ("backlog", "backlog"),
        ("bufsize", "bufsize"),
        ("how", "how"),
        ("flag", "flag"),
        ("option", "option"),
        ("value", "value"),
        ("auto_accept", "accept"),
        ("auto_recv", "recv"),
    ):
        if getattr(cmd, field) is not None:
            out[key] = getattr(cmd, field)
    if cmd.op == "settimeout":
        out["timeout"] = cmd.timeout
    if cmd.op == "watch":
        out.update(cmd.faults or {})
    if cmd.op == "cable":
        out = {"op": "cable", "plugged": bool(cmd.flag)}
    return json.dumps(out, ensure_ascii=True)


def _socket(block: _Block, cmd: Command, calls: _Calls) -> None:
    assert cmd.name is not None and cmd.options is not None
    name, opts = cmd.name, cmd.options
    create = "socket.socket(socket.AF_INET, socket.SOCK_STREAM)"
    rec = calls.take("socket")
    if opts.network == "private":
        block.note(
            "in the lab this socket lived in its private network (a namespace of its own);"
            " here it uses this machine's loopback"
        )
    block.show("socket", name, rec.line if rec else f"{name} = {create}", create, rec, param="_")
    p = _param(name)
    for option, value in opts.sockopts():
        _setsockopt_call(block, name, option, str(value), calls)
    if not opts.blocking:
        rec = calls.take("setblocking")
        line = rec.line if rec else f"{name}.setblocking(False)"
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
class _Places:
    """Private-network sockets, replayed on this machine's loopback, and the ports they move to.

    The lab's private network has ports of its own: a private server may have the
    port a host server of the same lab had. Replayed side by side they would clash,
    so such a private port moves to one no bind of the lab used.
    """

    private: set[str]
    moved: dict[int, int]

    @classmethod
    def plan(cls, entries: list[tuple[Command, list[Event]]]) -> _Places:
        private: set[str] = set()
        bound: dict[str, set[int]] = {"host": set(), "private": set()}
        for cmd, events in entries:
            if cmd.op == "socket" and cmd.options is not None and cmd.options.network == "private":
                private.add(cmd.name or "")
            elif cmd.op == "bind" and cmd.address is not None:
                rec = _Calls(_recorded(events)[0]).take("bind")
                port = _bound_port(rec) or cmd.address[1]
                bound["private" if cmd.socket in private else "host"].add(port)
        used = bound["host"] | bound["private"]
        moved: dict[int, int] = {}
        spare = max(used, default=0) + 1
        for port in sorted(bound["private"] & bound["host"]):
            while spare in used:
                spare += 1
            moved[port] = spare
            used.add(spare)
        return cls(private, moved)

    def port(self, name: str, port: int) -> int:
        """The port ``name`` uses in the script for the lab's ``port``."""
        return self.moved.get(port, port) if name in self.private else port


class _Ctx:
    """What a renderer needs: the command, its recorded calls, the ports bound so far."""

    def __init__(self, cmd: Command, calls: _Calls, ports: list[str], places: _Places) -> None:
        self.cmd, self.calls, self.ports, self.places = cmd, calls, ports, places
        self.name = cmd.socket or ""
        self.p = _param(self.name)

    def moved_port(self, block: _Block, port: int) -> int:
        """The script's port for the lab's ``port`` (with a note when it differs)."""
        mine = self.places.port(self.name, port)
        if mine != port:
            block.note(
                f"the lab's private network had its own port {port}; here a host socket of"
                f" the lab uses it, so {self.name} uses {mine}"
            )
        return mine

    def simple(self, block: _Block, op: str, args: str) -> None:
        """A call recorded as ``name.op(args)``."""
        rec = self.calls.take(op)
        line = rec.line if rec else f"{self.name}.{op}({args})"
        block.show(op, self.name, line, f"{self.p}.{op}({args})", rec)


def _bind(block: _Block, c: _Ctx) -> None:
    assert c.cmd.address is not None
    rec = c.calls.take("bind")
    host, port = c.cmd.address
    real = _bound_port(rec)
    if real is None:
        real = port
        if port == 0:
            block.note("the lab's port is unknown: port 0 lets the kernel choose")
    elif port == 0:
        block.note(f"the lab was asked for port 0 and got {real}: bind that port again")
    real = c.moved_port(block, real)
    c.ports.append(f"{host or '0.0.0.0'}:{real} ({c.name})")
    address = address_text((host, real))
    line = rec.line if rec else f"{c.name}.bind({address})"
    block.show("bind", c.name, line, f"{c.p}.bind({address})", rec)


def _connect(block: _Block, c: _Ctx) -> None:
    assert c.cmd.address is not None
    host, port = c.cmd.address
    c.simple(block, "connect", address_text((host, c.moved_port(block, port))))


def _accept(block: _Block, c: _Ctx) -> None:
    rec = c.calls.take("accept")
    new = _accepted_name(rec, c.cmd.name)
    line = rec.line if rec else f"{new}, addr = {c.name}.accept()"
    block.show("accept", c.name, line, f"{c.p}.accept()", rec, extra=f", new={_q(new)}")


def _send(block: _Block, c: _Ctx) -> None:
    assert c.cmd.payload is not None
    rec = c.calls.take("send")
    expr, text = _payload(block, c.name, c.cmd.payload)
    line = rec.line if rec else f"{c.name}.send({text})"
    block.show("send", c.name, line, f"{c.p}.send({expr})", rec)


def _sendall(block: _Block, c: _Ctx) -> None:
    assert c.cmd.payload is not None
    rec = c.calls.take("sendall", "send")  # non-blocking: the lab's first send(view[0:])
    expr, text = _payload(block, c.name, c.cmd.payload)
    if rec is not None and rec.op == "send":
        block.note(f"lab: {rec.line}  ->  {_lab_said(rec)}  (its loop sends the rest)")
    else:
        block.note(f"lab: -> {_lab_said(rec)}")
    block.add(f"sendall({_q(c.name)}, {_q(f'{c.name}.sendall({text})')}, lambda: {expr})")


def _makefile(block: _Block, c: _Ctx) -> None:
    rec = c.calls.take("makefile")
    line = rec.line if rec else f"f_{c.name} = {c.name}.makefile('wb')"
    block.show("makefile", c.name, line, f"{c.p}.makefile('wb')", rec)


def _write(block: _Block, c: _Ctx) -> None:
    assert c.cmd.payload is not None
    rec = c.calls.take("write")
    expr, text = _payload(block, c.name, c.cmd.payload)
    line = rec.line if rec else f"f_{c.name}.write({text})"
    body = f"f_{c.name}.write({expr})"
    block.show("write", c.name, line, body, rec, param=f"f_{c.name}")


def _flush(block: _Block, c: _Ctx) -> None:
    rec = c.calls.take("flush")
    line = rec.line if rec else f"f_{c.name}.flush()"
    block.show("flush", c.name, line, f"f_{c.name}.flush()", rec, param=f"f_{c.name}")


def _abort(block: _Block, c: _Ctx) -> None:
    block.note("abort: SO_LINGER on, 0 seconds, then close(): the peer gets a RST")
    _setsockopt_call(block, c.name, "SO_LINGER", "struct.pack('ii', 1, 0)", c.calls)
    _close(block, c)


def _close(block: _Block, c: _Ctx) -> None:
    wake = c.calls.take("shutdown", prefix=f"{c.name}.shutdown(socket.SHUT_RDWR)")
    if wake is not None:
        block.note(
            f"the lab: a thread was blocked in a call on {c.name}, and close() alone would"
            " not wake it: shutdown(SHUT_RDWR) first"
        )
        block.show("shutdown", c.name, wake.line, f"{c.p}.shutdown(socket.SHUT_RDWR)", wake)
    file = c.calls.take("close", prefix=f"f_{c.name}.close()")
    if file is not None:
        body = f"f_{c.name}.close()"
        block.show("close_file", c.name, file.line, body, file, param=f"f_{c.name}")
    rec = c.calls.take("close", prefix=f"{c.name}.close()")
    line = rec.line if rec else f"{c.name}.close()"
    block.show("close", c.name, line, f"{c.p}.close()", rec)


def _setsockopt_call(block: _Block, name: str, option: str, value: str, calls: _Calls) -> None:
    level = "SOL_SOCKET" if option == "SO_LINGER" else SOCKOPTS[option][0]
    args = f"socket.{level}, socket.{option}, {value}"
    rec = calls.take("setsockopt")
    line = rec.line if rec else f"{name}.setsockopt({args})"
    block.show("setsockopt", name, line, f"{_param(name)}.setsockopt({args})", rec)


def _getsockopt(block: _Block, c: _Ctx) -> None:
    assert c.cmd.option is not None
    level = (SOCKOPTS | READ_ONLY_SOCKOPTS)[c.cmd.option][0]
    c.simple(block, "getsockopt", f"socket.{level}, socket.{c.cmd.option}")


def _auto(block: _Block, c: _Ctx) -> None:
    flags = []
    if c.cmd.auto_accept is not None:
        flags.append(f"accept={c.cmd.auto_accept}")
    if c.cmd.auto_recv is not None:
        flags.append(f"recv={_q(c.cmd.auto_recv)}")
    if c.cmd.bufsize is not None:
        flags.append(f"bufsize={c.cmd.bufsize}")
    block.add(f"auto({_q(c.name)}, {', '.join(flags)})")


_RENDERERS: dict[str, Callable[[_Block, _Ctx], None]] = {
    "socket": lambda block, c: _socket(block, c.cmd, c.calls),
    "bind": _bind,
    "listen": lambda block, c: c.simple(
        block, "listen", "" if c.cmd.backlog is None else str(c.cmd.backlog)
    ),
    "accept": _accept,
    "connect": _connect,
    "send": _send,
    "sendall": _sendall,
    "recv": lambda block, c: c.simple(block, "recv", str(c.cmd.bufsize)),
    "shutdown": lambda block, c: c.simple(block, "shutdown", f"socket.{c.cmd.how}"),
    "close": _close,
    "abort": _abort,
    "setblocking": lambda block, c: c.simple(block, "setblocking", str(bool(c.cmd.flag))),
    "settimeout": lambda block, c: c.simple(block, "settimeout", str(c.cmd.timeout)),
    "setsockopt": lambda block, c: _setsockopt_call(
        block, c.name, str(c.cmd.option), str(c.cmd.value), c.calls
    ),
    "getsockopt": _getsockopt,
    "auto": _auto,
    "watch": lambda block, c: block.add(
        f"watch({_q(c.name)}, "
        + ", ".join(f"{k}={v}" for k, v in (c.cmd.faults or {}).items())
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
            if c.cmd.flag
            else "pulled out its private network's cable (ip link set lo down in a namespace)"
        )
        + "; pulling a cable needs root and a network namespace"
    ),
}


def _gap(entries: int) -> float:
    return max(MIN_GAP, min(GAP, GAP_BUDGET / max(entries, 1)))


def render_script(history: list[Ticket], *, lab_id: str, truncated: bool = False) -> str:
    """A standalone Python program that replays ``history`` and prints what each call returned.

    ``history`` is :attr:`LabEngine.history` (copy it on the lab thread, or after the
    lab closed); ``truncated`` says the lab dropped its oldest commands.
    """
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "?", lab_id)
    entries = [(t.command, list(t.events)) for t in list(history) if t.command is not None]
    gap = _gap(len(entries))
    places = _Places.plan(entries)
    ports: list[str] = []
    body: list[str] = []
    for number, (cmd, events) in enumerate(entries, 1):
        calls, loop = _recorded(events)
        taken = _Calls(calls)
        block = _Block()
        block.note(f"{number}. {_describe(cmd)}")
        render = _RENDERERS.get(cmd.op)
        if render is None:
            block.note(f"not replayed: this script does not know the op {cmd.op!r}")
        else:
            render(block, _Ctx(cmd, taken, ports, places))
        for rec in taken.rest():
            block.note(f"lab also ran (not replayed): {rec.line}  ->  {_lab_said(rec)}")
        if loop:
            block.note("the lab's select() loop, during this command:")
            for event in loop[:LOOP_CALLS_SHOWN]:
                block.note(f"  {event.line}  ->  {event.result_text}")
            if len(loop) > LOOP_CALLS_SHOWN:
                block.note(f"  ... and {len(loop) - LOOP_CALLS_SHOWN} more loop calls")
        block.add("pump(GAP)", "")
        body += block.lines
    return "".join(
        [
            _header(safe_id, len(entries), ports, truncated),
            "\n",
            RUNTIME,
            "\n\n",
            "# -- the lab's commands, in order ",
            "-" * 60,
            "\n\n",
            f"GAP = {gap:g}  # seconds the loop runs between two commands (the kernel settles)\n",
            "\n\n",
            "def main():\n",
            *(f"{line}\n" for line in body),
            "    finish()\n",
            "\n\n",
            'if __name__ == "__main__":\n',
            "    main()\n",
        ]
    )


def _header(lab_id: str, count: int, ports: list[str], truncated: bool) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    port_text = ", ".join(ports) if ports else "none (this lab bound no socket)"
    lines = [
        "#!/usr/bin/env python3",
        '"""A Sockscope experiment, replayed by a standalone Python program.',
        "",
        f"Generated from lab {lab_id} on {now}: its {count} command"
        f"{'' if count == 1 else 's'}, in order.",
        "Run with:  python3 this_file.py   (Python 3.8 or newer; standard library only)",
        "",
        "Each socket call prints `line  ->  result`, as the lab's call log does, and",
        "a comment above each call says what the lab got (`# lab: -> 6144`). The kernel",
        "here decides for itself: a partial send() may take another count, and a call",
        "that blocked in the lab may not block here (or the other way round).",
        "",
        "  [loop] ...            a call of the program's own select() loop (auto-accept,",
        "                        auto-recv, a non-blocking sendall, a connect finishing)",
        "  ... blocked           the call waits in a thread; the program goes on",
        "  [returned after ...]  a blocked call returned",
        "",
        f"Ports: the same ones the lab used, {port_text}, so that its clients",
        "connect where they did in the lab. If bind() says EADDRINUSE, something",
        "else holds that port (or a connection of a previous run is in TIME_WAIT):",
        "wait a minute, or change the port here and in the matching connect().",
        '"""',
    ]
    if truncated:
        lines += [
            "",
            "# NOTE: the lab kept only its most recent commands; the oldest were dropped,",
            "# so this replay starts in the middle of the experiment (sockets made by the",
            "# dropped commands do not exist here, and calls on them say so).",
        ]
    return "\n".join(lines) + "\n"
