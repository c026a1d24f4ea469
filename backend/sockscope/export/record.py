"""What an exported script reads from the lab's record: each command's calls, its JSON (pure)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sockscope.engine.core.commands import Command
from sockscope.events import CallEvent, CallStartedEvent, Event


@dataclass(slots=True)
class Recorded:
    """One call a command made in the lab: its start (a blocking call) and its end."""

    op: str
    line: str
    final: CallEvent | None


def recorded(events: list[Event]) -> tuple[list[Recorded], list[CallEvent]]:
    """The command's own calls in order (a worker call by its start), and the loop's."""
    calls: list[Recorded] = []
    started: dict[int, Recorded] = {}
    loop: list[CallEvent] = []
    for event in events:
        if isinstance(event, CallStartedEvent):
            started[event.call_id] = rec = Recorded(event.op, event.line, None)
            calls.append(rec)
        elif isinstance(event, CallEvent):
            if event.via == "loop":
                loop.append(event)
                continue
            found = started.get(event.call_id)
            if found is None:
                calls.append(Recorded(event.op, event.line, event))
            else:
                found.final, found.line = event, event.line
    return calls, loop


class Calls:
    """The recorded calls of one command, taken in order by the statements rendered."""

    def __init__(self, calls: list[Recorded]) -> None:
        self._calls = calls
        self._next = 0
        self.skipped: list[Recorded] = []

    def take(self, *ops: str, prefix: str | None = None) -> Recorded | None:
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

    def rest(self) -> list[Recorded]:
        rest = self.skipped + self._calls[self._next :]
        self.skipped, self._next = [], len(self._calls)
        return rest


def lab_said(rec: Recorded | None) -> str:
    if rec is None:
        return "(the lab recorded no call here)"
    if rec.final is None:
        return "... blocked (it had not returned when this script was made)"
    text = rec.final.result_text
    seconds = rec.final.duration_ns / 1e9
    if rec.final.via == "worker" and seconds >= 0.5:
        text += f"  (it blocked; returned after {seconds:.1f} s)"
    return text


def bound_port(rec: Recorded | None) -> int | None:
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


def accepted_name(rec: Recorded | None, asked: str | None) -> str:
    """The name the lab gave the socket an accept() created."""
    result = rec.final.result if rec is not None and rec.final is not None else None
    if isinstance(result, dict) and isinstance(result.get("socket"), str):
        return str(result["socket"])
    match = re.match(r"(\w+), addr = ", rec.line) if rec is not None else None
    return match.group(1) if match else asked or "conn"


# -- rendering --------------------------------------------------------------------------------


def describe(cmd: Command) -> str:
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
