"""What an exported script reads from the lab's record: each command's calls, its JSON (pure)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sockscope.engine.core.commands import Command, Send, SendAll, SetTimeout, Write
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
    """The command as the JSON a participant would send (defaults left out, long texts cut)."""
    out = cmd.model_dump(exclude_defaults=True)
    out["op"] = cmd.op
    if isinstance(cmd, SetTimeout):
        out["timeout"] = cmd.timeout  # null means something: no limit
    if isinstance(cmd, Send | SendAll | Write) and cmd.text is not None and len(cmd.text) > 60:
        out["text"] = f"{cmd.text[:60]}... ({cmd.payload.size} bytes)"
    if isinstance(cmd, Send | SendAll | Write) and cmd.hex is not None:
        text = bytes.fromhex(cmd.hex).hex(" ", -4)
        out["hex"] = text if len(text) <= 80 else f"{text[:80]}... ({cmd.payload.size} bytes)"
    ordered = {"op": cmd.op} | {key: value for key, value in out.items() if key != "op"}
    if "address" in ordered:
        ordered["address"] = list(ordered["address"])
    return json.dumps(ordered, ensure_ascii=True)
