"""The steps of a lesson that are not a single command: waits, measurements, workbenches.

Everything here that touches a socket does it through lab commands (so every view
shows it); what is pure (framing, byte order) comes from the workbench.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Literal, Protocol

from sockscope.contract.lessons import (
    EndingRow,
    KernelSetting,
    LessonFraming,
    LessonStepData,
    NagleRow,
)
from sockscope.contract.workbench import ByteOrderReading, IpcReport
from sockscope.events import CallEvent
from sockscope.labs.bridge import Answer
from sockscope.workbench import byteorder, fdlimit, framing, ipc, nagle, shapes

Result = tuple[bool, str, LessonStepData]  # ok, what happened, what it measured
RECV_CHUNK = 256  # framing reads stay small: each recv() is recorded whole

STRATEGIES: dict[str, framing.Strategy] = {
    "delimited": framing.Delimited(b"\n"),
    "text_prefix": framing.LengthPrefixText(5),
    "binary_prefix": framing.LengthPrefixBinary("!I"),
    "shutdown": framing.ShutdownTerminated(),
}


class LessonContext(Protocol):
    """What an action needs of the lesson that runs it (lessons.runner.LessonRun is one)."""

    async def command(self, raw: dict[str, Any], wait: float = ...) -> Answer: ...

    async def together(self, raws: list[dict[str, Any]], wait: float = ...) -> list[Answer]: ...

    async def figure(self, socket: str, figure: str) -> Any: ...

    async def wait_for(self, socket: str, test: Any, timeout: float, what: str) -> None: ...

    def port_of(self, name: str) -> int: ...


async def run(lesson: LessonContext, action: dict[str, Any]) -> Result:
    kind = action["do"]
    if kind == "wait":
        return await wait(lesson, action)
    if kind == "pause":
        seconds = float(action.get("seconds", 1.0))
        await asyncio.sleep(min(seconds, 10.0))
        return True, f"waited {seconds:g} s", None
    if kind == "ipc":
        return await measure_ipc(action)
    if kind == "framing":
        return await framing_bench(lesson, action)
    if kind == "byteorder":
        return await byteorder_bench(lesson, action)
    if kind == "shapes":
        return await server_shapes(action)
    if kind == "endings":
        return await endings_side_by_side(lesson, action)
    if kind == "together":
        return await together(lesson, action)
    if kind == "sysctl":
        return await kernel_settings(action)
    if kind == "nagle":
        return await nagle_rounds(action)
    if kind == "fdlimit":
        return await descriptor_limit(action)
    raise ValueError(f"unknown action {kind!r}")


async def wait(lesson: LessonContext, action: dict[str, Any]) -> Result:
    """Wait until a socket has a role, a TCP state, or a figure at least some value."""
    socket = action["socket"]
    timeout = float(action.get("timeout", 5.0))
    if "role" in action:
        role = action["role"]
        what = f"{socket} to be {role}"
        await lesson.wait_for(socket, lambda s: s["role"] == role, timeout, what)
    elif "state" in action:
        state = action["state"]
        what = f"{socket} to reach {state}"
        await lesson.wait_for(
            socket, lambda s: (s["figures"] or {}).get("state") == state, timeout, what
        )
    else:
        figure = action["figure"]

        def value(s: dict[str, Any]) -> int:
            found = (s["figures"] or {}).get(figure, s.get(figure))
            return int(found or 0)

        if "at_most" in action:
            most = int(action["at_most"])
            what = f"{socket}'s {figure} to fall to {most}"
            await lesson.wait_for(socket, lambda s: value(s) <= most, timeout, what)
        else:
            least = int(action["at_least"])
            what = f"{socket}'s {figure} to reach {least}"
            await lesson.wait_for(socket, lambda s: value(s) >= least, timeout, what)
    return True, f"done waiting for {what}", None


async def together(lesson: LessonContext, action: dict[str, Any]) -> Result:
    """Several commands run back to back in one turn of the lab, microseconds apart (two
    connects whose SYNs must leave, and be retried, at the same moment). Submitted one by
    one, they could be a GIL switch apart: enough for the first handshake to finish first."""
    answers = await lesson.together(list(action["commands"]))
    said = []
    for answer in answers:
        calls = [e for e in answer.events if isinstance(e, CallEvent)]
        said.append(f"{calls[-1].line} -> {calls[-1].result_text}" if calls else "?")
    return True, "; ".join(said), None


SYSCTL_ROOT = "/proc/sys"


async def kernel_settings(action: dict[str, Any]) -> Result:
    """Read kernel settings (sysctl names, e.g. net.core.somaxconn) as this kernel has them."""
    settings: list[KernelSetting] = []
    for name in action["names"]:
        path = f"{SYSCTL_ROOT}/{name.replace('.', '/')}"
        try:
            with open(path, encoding="ascii") as file:
                value = " ".join(file.read().split())
        except OSError as exc:
            value = f"unreadable here ({exc.strerror})"
        settings.append({"name": name, "value": value})
    message = "; ".join(f"{s['name']} = {s['value']}" for s in settings)
    return True, message, {"settings": settings}


async def nagle_rounds(action: dict[str, Any]) -> Result:
    """Two small writes then a read, timed: Nagle on, TCP_NODELAY, and one write."""
    config = nagle.NagleConfig(
        rounds=int(action.get("rounds", 15)), warmup=int(action.get("warmup", 3))
    )
    results = await asyncio.to_thread(nagle.compare, config)
    rows: list[NagleRow] = [
        {"way": r.way, "label": nagle.LABELS[r.way], "median_ms": round(r.median_ms, 3),
         "rounds_ms": [round(t, 3) for t in r.rounds_ms]}
        for r in results
    ]  # fmt: skip
    message = "; ".join(f"{r['label']}: {r['median_ms']:.2f} ms a round (median)" for r in rows)
    return True, message, rows


async def descriptor_limit(action: dict[str, Any]) -> Result:
    """select(), poll() and epoll on a low descriptor and one numbered at least 1024."""
    report = await asyncio.to_thread(fdlimit.probe, int(action.get("at_least", 1024)))
    message = fdlimit.describe(report)
    return True, message, report


async def measure_ipc(action: dict[str, Any]) -> Result:
    config = ipc.IpcConfig(
        total=int(action.get("total", 16 * 1024 * 1024)),
        chunk=int(action.get("chunk", 64 * 1024)),
        repeats=int(action.get("repeats", 3)),
        sndbuf=action.get("sndbuf"),
        rcvbuf=action.get("rcvbuf"),
    )
    results = await asyncio.to_thread(ipc.compare, config)
    data: list[IpcReport] = [
        {"channel": r.channel, "median_mb_s": r.median_mb_s, "runs_s": list(r.runs_s),
         "bytes": r.bytes, "syscalls": r.syscalls}
        for r in results
    ]  # fmt: skip
    return True, ipc.verdict(results), data


async def queued(lesson: LessonContext, receiver: str, count: int) -> None:
    """Wait until ``count`` bytes sit in ``receiver``'s receive queue."""

    def arrived(entry: dict[str, Any]) -> bool:
        return int((entry["figures"] or {}).get("recv_queue") or 0) >= count

    await lesson.wait_for(receiver, arrived, 5.0, f"{count} bytes to reach {receiver}")


async def _received(
    lesson: LessonContext, receiver: str, until_eof: bool, total: int
) -> list[bytes]:
    """recv() on ``receiver`` until ``total`` bytes (or b'') came; the chunks as recorded."""
    chunks: list[bytes] = []
    got = 0
    for _ in range(200):
        if not until_eof and got >= total:
            break
        answer = await lesson.command({"op": "recv", "socket": receiver, "bufsize": RECV_CHUNK})
        calls = [e for e in answer.events if isinstance(e, CallEvent) and e.op == "recv"]
        if not calls or calls[-1].data is None or calls[-1].data.hex is None:
            raise TimeoutError(f"{receiver}.recv() did not return data: {answer.error}")
        data = bytes.fromhex(calls[-1].data.hex)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return chunks


async def framing_bench(lesson: LessonContext, action: dict[str, Any]) -> Result:
    """Send messages framed one way, read them as recv() cuts them, decode both ways."""
    sender, receiver = action["sender"], action["receiver"]
    name = action["strategy"]
    messages = [m.encode() for m in action["messages"]]
    if name == "fixed":
        size = int(action.get("size", max(len(m) for m in messages)))
        messages = [m.ljust(size) for m in messages]
        strategy: framing.Strategy = framing.FixedLength(size)
    else:
        strategy = STRATEGIES[name]
    sliced = action.get("mode", "back_to_back") == "sliced"
    if sliced:
        stream = framing.encode(strategy, messages)
        step = int(action.get("slice", 3))
        pieces = framing.slice_stream(stream, list(range(step, len(stream), step)))
    else:
        pieces = framing.frames(strategy, messages)
    chunks: list[bytes] = []
    for piece in pieces:
        await lesson.command({"op": "send", "socket": sender, "hex": piece.hex()})
        if sliced:  # read each piece as it lands: recv() returns what has arrived
            await queued(lesson, receiver, len(piece))
            chunks += await _received(lesson, receiver, False, len(piece))
    total = sum(len(p) for p in pieces)
    if name == "shutdown":
        await lesson.command({"op": "shutdown", "socket": sender, "how": "SHUT_WR"})
    if not sliced or name == "shutdown":
        if not sliced:
            await queued(lesson, receiver, total)
        chunks += await _received(lesson, receiver, name == "shutdown", total)
    decoder = framing.decoder_for(strategy)
    framed: list[bytes] = []
    for chunk in chunks:
        framed += decoder.feed(chunk)
    if name == "shutdown":
        framed += decoder.eof()
    naive = framing.naive_receive(chunks)
    # A naive receiver "works" only if each recv() returned exactly one framed message.
    wire = framing.frames(strategy, messages)
    data: LessonFraming = {
        "strategy": name,
        "mode": "sliced" if sliced else "back_to_back",
        "messages": [m.decode(errors="replace") for m in messages],
        "sent": [p.decode(errors="replace") for p in pieces],
        "chunks": [c.decode(errors="replace") for c in chunks],
        "framed": [m.decode(errors="replace") for m in framed],
        "naive": [m.decode(errors="replace") for m in naive],
        "framed_ok": framed == messages,
        "naive_ok": naive == wire,
        "verdict": "framed: "
        + framing.compare(messages, framed)
        + "; naive: "
        + framing.compare(wire, naive),
    }
    message = f"{len(pieces)} send() calls, {len(chunks)} recv() calls: {data['verdict']}"
    return data["framed_ok"], message, data


async def byteorder_bench(lesson: LessonContext, action: dict[str, Any]) -> Result:
    """Send an int packed with ``fmt`` over the connection; read it back both ways."""
    value, fmt = int(action["value"]), str(action.get("fmt", "!I"))
    sender, receiver = action["sender"], action["receiver"]
    wire = byteorder.encode_value(value, fmt)
    await lesson.command({"op": "send", "socket": sender, "hex": wire.hex()})
    await queued(lesson, receiver, len(wire))
    got = b"".join(await _received(lesson, receiver, False, len(wire)))
    both = byteorder.decode_both(got, fmt)
    text = byteorder.text_vs_binary(value, fmt)
    data: ByteOrderReading = {
        "value": value,
        "fmt": fmt,
        "wire": byteorder.hexdump(got),
        "right": both["value"],
        "wrong": both["opposite_value"],
        "opposite_fmt": both["opposite_fmt"],
        "host_order": both["host_order"],
        "network": byteorder.network_equivalents(value) if value < 2**32 else None,
        "text_vs_binary": text,
    }
    message = (
        f"{value} as {fmt!r} crossed the wire as {data['wire']}; read as {fmt!r}: {both['value']},"
        f" read as {both['opposite_fmt']!r}: {both['opposite_value']}"
    )
    return True, message, data


async def server_shapes(action: dict[str, Any]) -> Result:
    """The same slow clients served by three server shapes, one after the other."""
    config = shapes.ShapesConfig(
        clients=int(action.get("clients", 8)),
        think_ms=int(action.get("think_ms", 300)),
        select_reads_unready=bool(action.get("select_reads_unready", False)),
    )
    results = await asyncio.to_thread(shapes.compare, config)
    data = [shapes.report(r) for r in results]
    message = "; ".join(
        f"{d['label']}: {d['served']}/{d['clients']} served in {d['seconds']:.2f} s,"
        f" {d['peak_workers']} worker(s), {d['peak_blocked']} blocked at most"
        for d in data
    )
    return all(d["served"] == d["clients"] for d in data), message, data


Ending = Literal["close", "shutdown", "abort", "exit", "stall"]  # EndingRow["ending"]
ENDINGS: tuple[Ending, ...] = ("close", "shutdown", "abort", "exit", "stall")
_EXIT_SCRIPT = (
    "import socket, sys\n"
    "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
    "s.sendall(b'bye')\n"
    "sys.exit(0)  # no close(): the kernel closes what a dying process held\n"
)


async def endings_side_by_side(lesson: LessonContext, action: dict[str, Any]) -> Result:
    """One connection per way of ending it; what the peer's recv() sees after each."""
    server = action["server"]
    port = lesson.port_of(server)
    rows: list[EndingRow] = []
    for kind in ENDINGS:
        client, peer = f"end_{kind}", f"peer_{kind}"
        if kind == "exit":
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _EXIT_SCRIPT, str(port)
            )
        else:
            target = port
            if kind == "stall":
                answer = await lesson.command({"op": "link", "name": "dead_link",
                                               "target": ["127.0.0.1", port]})  # fmt: skip
                target = answer.result["address"][1]
            await lesson.command({"op": "socket", "name": client})
            await lesson.command(
                {"op": "connect", "socket": client, "address": ["127.0.0.1", target]}
            )
        await lesson.command({"op": "accept", "socket": server, "name": peer})
        if kind == "exit":
            await asyncio.wait_for(child.wait(), 10)
        elif kind == "close":
            await lesson.command({"op": "close", "socket": client})
        elif kind == "shutdown":
            await lesson.command({"op": "shutdown", "socket": client, "how": "SHUT_WR"})
        elif kind == "abort":
            await lesson.command({"op": "abort", "socket": client})
        else:
            await lesson.command({"op": "fault", "link": "dead_link", "stall": True})
            await lesson.command({"op": "close", "socket": client})
        await lesson.command({"op": "settimeout", "socket": peer, "timeout": 1.0})
        said = ""
        for _ in range(3):  # the exiting client's b'bye' comes first
            answer = await lesson.command({"op": "recv", "socket": peer, "bufsize": 1024})
            calls = [e for e in answer.events if isinstance(e, CallEvent) and e.op == "recv"]
            said = calls[-1].result_text if calls else "?"
            if not (calls and (calls[-1].done or 0) > 0):
                break
        rows.append({"ending": kind, "peer_saw": said,
                     "state": await lesson.figure(peer, "state")})  # fmt: skip
    message = "; ".join(f"{r['ending']}: the peer saw {r['peer_saw']} ({r['state']})" for r in rows)
    return True, message, rows
