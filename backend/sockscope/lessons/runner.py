"""Run a lesson in a lab, one step at a time, and check its claims as it goes.

The runner lives in the web process (asyncio): every command goes to the lab's
engine like a participant's, so every view shows it. After each step it reads
what the lab recorded since the lesson started, evaluates the lesson's checks on
it, and records a ``lesson`` event so every viewer (the projector too) follows.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from sockscope.contract.lessons import LessonState
from sockscope.engine import machine, privnet
from sockscope.engine.core.errors import CommandError
from sockscope.events import (
    CallEvent,
    CheckOutcome,
    LessonEvent,
    SegmentEvent,
    SocketEvent,
    to_wire,
)
from sockscope.labs.bridge import Answer, run_command, run_together
from sockscope.labs.registry import Lab
from sockscope.lessons import actions, checks
from sockscope.lessons.model import Lesson, Step

STEP_WAIT = 3.0  # how long a step's command waits for a blocking call before going on
RECORD_MAX = 50_000
NOT_YET = "not yet observed"
WIRE_SETTLE = 0.05  # five of a packet ring's RETIRE_MS: its last frames are in the log
LISTED = ("framing", "byteorder")  # actions whose every run the record keeps, in order
_PORT_REF = re.compile(r"^\{port:([A-Za-z_][A-Za-z0-9_]*)\}$")


class LessonStepError(CommandError):
    """The kernel did something the lesson did not expect; the lesson stops there."""

    status = 409


@dataclass(slots=True)
class StepReport:
    index: int
    ok: bool
    message: str
    events: list[Any] = field(default_factory=list)
    data: Any = None


class LessonRun:
    def __init__(self, lab: Lab, lesson: Lesson) -> None:
        self.lab = lab
        self.lesson = lesson
        self.position = 0
        self.failed: str | None = None
        self.record = checks.RunRecord()
        self._cursor = 0
        self.missing: dict[str, str] = {}  # what this machine lacks (a need) -> why
        self.said: dict[int, str] = {}  # step index -> what the kernel said when it ran here

    @property
    def finished(self) -> bool:
        return self.position >= len(self.lesson.steps) or self.failed is not None

    async def start(self) -> None:
        engine = self.lab.engine
        cleared = engine.reset(f"Lesson '{self.lesson.title}': the lab was cleared")
        await asyncio.wait_for(asyncio.wrap_future(cleared), 10)
        self._cursor = engine.log.last_seq
        self.position, self.failed = 0, None
        self.said = {}
        self.record = checks.RunRecord()
        self.missing = await missing_needs(self.lesson)
        await self._announce("started", -1, True, self.lesson.title, None)

    async def next(self) -> StepReport:
        """Run the current step. Raises LessonStepError when the kernel surprised the lesson."""
        if self.finished:
            raise LessonStepError(None, "the lesson is over: restart it to run it again")
        index = self.position
        step = self.lesson.steps[index]
        try:
            report = await self._run(index, step)
        except (CommandError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, CommandError) else str(exc)
            self.failed = f"step {index + 1}: {message}"
            self.said[index] = message
            await self._announce("failed", index, False, self.failed, None)
            raise LessonStepError(None, self.failed) from exc
        self.said[index] = report.message
        self.position += 1
        state = "finished" if self.finished else "step"
        await self._announce(state, index, report.ok, report.message, report.data)
        return report

    async def run_to_end(self) -> list[CheckOutcome]:
        while not self.finished:
            await self.next()
        return self.checks()

    def checks(self) -> list[CheckOutcome]:
        self._collect()
        self.record.now_ns = self.lab.engine.now_ns()
        outcomes = []
        for spec in self.lesson.checks:
            if spec.needs in self.missing:
                why = f"not possible on this machine: {self.missing[spec.needs]}"
                outcomes.append(CheckOutcome(claim=spec.claim, passed=None, observed=why))
                continue
            passed, observed = getattr(checks, spec.check)(self.record, **spec.params)
            if passed is not True and not self.finished:
                # The evidence may still be on its way (the 2 s wait has not run yet): a
                # claim is judged false only once the lesson is over, never before. And
                # until it is judged, the line says nothing of what it is waiting for:
                # that would answer the lesson's questions before they are asked.
                passed, observed = None, NOT_YET
            outcomes.append(CheckOutcome(claim=spec.claim, passed=passed, observed=observed))
        return outcomes

    def state(self) -> LessonState:
        return {
            "lesson": self.lesson.id,
            "position": self.position,
            "finished": self.finished,
            "failed": self.failed,
            "checks": [to_wire(c) for c in self.checks()],
        }

    # -- steps -------------------------------------------------------------------------------

    async def _run(self, index: int, step: Step) -> StepReport:
        if step.needs in self.missing:
            why = self.missing[step.needs]
            return StepReport(index, True, f"Skipped: {why}", data={"skipped": why})
        if step.command is not None:
            report = await self._command(index, step)
        else:
            assert step.action is not None
            ok, message, data = await actions.run(self, self._fill(step.action))
            report = StepReport(index, ok, message, data=data)
            if data is not None:
                kind = step.action["do"]
                if kind in LISTED:  # each run kept: a check compares them
                    self.record.data.setdefault(kind, []).append(data)
                else:
                    self.record.data[kind] = data
        if step.observe:
            self.record.observations[step.observe["name"]] = await self.figure(
                step.observe["socket"], step.observe["figure"]
            )
        return report

    async def _command(self, index: int, step: Step) -> StepReport:
        assert step.command is not None
        raw = self._fill(step.command)
        tries = step.repeat_max if step.repeat_until else 1
        answer: Answer | None = None
        outcome = "ok"
        for _ in range(tries):
            answer = await self.command(raw, step.wait or STEP_WAIT)
            outcome = outcome_of(answer)
            if step.repeat_until is None or outcome == step.repeat_until:
                break
            if outcome != "ok":
                break
        assert answer is not None
        wanted = (step.repeat_until,) if step.repeat_until else step.expect
        calls = [e for e in answer.events if isinstance(e, CallEvent)]
        said = f"{calls[-1].line}  ->  {calls[-1].result_text}" if calls else outcome
        if outcome not in wanted:
            raise LessonStepError(
                None,
                f"{said}: the lesson expected {' or '.join(wanted)}, the kernel said {outcome}",
            )
        return StepReport(index, True, said, events=[to_wire(e) for e in answer.events])

    async def command(self, raw: dict[str, Any], wait: float = STEP_WAIT) -> Answer:
        return refused_or(await run_command(self.lab, raw, wait, limited=False))

    async def together(self, raws: list[dict[str, Any]], wait: float = STEP_WAIT) -> list[Answer]:
        """Commands run back to back in one turn of the lab (see bridge.run_together)."""
        try:
            answers = await run_together(self.lab, raws, wait)
        except CommandError as exc:
            raise LessonStepError(exc.field, exc.message) from None
        return [refused_or(answer) for answer in answers]

    async def snapshot(self) -> dict[str, Any]:
        future = asyncio.wrap_future(self.lab.engine.snapshot())
        return await asyncio.wait_for(future, 5.0)

    async def figure(self, socket: str, figure: str) -> Any:
        for entry in (await self.snapshot())["sockets"]:
            if entry["name"] == socket:
                return (
                    entry["figures"].get(figure)
                    if figure in entry["figures"]
                    else entry.get(figure)
                )
        return None

    async def wait_for(self, socket: str, test: Any, timeout: float, what: str) -> None:
        """Poll the lab until ``test(socket entry)`` holds; TimeoutError says ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            entry = next(
                (s for s in (await self.snapshot())["sockets"] if s["name"] == socket), None
            )
            if entry is not None and test(entry):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g} s for {what}, in vain")
            await asyncio.sleep(0.02)

    def _fill(self, value: Any) -> Any:
        """Replace "{port:NAME}" with the port socket NAME of this lab is bound to."""
        if isinstance(value, dict):
            return {k: self._fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill(v) for v in value]
        if isinstance(value, str):
            match = _PORT_REF.match(value)
            if match:
                return self._ports.get(match.group(1), 0)
        return value

    def port_of(self, name: str) -> int:
        port = self._ports.get(name)
        if port is None:
            raise LessonStepError(None, f"no socket {name!r} with a port in this lab")
        return port

    @property
    def _ports(self) -> dict[str, int]:
        self._collect()
        ports: dict[str, int] = {}
        for e in self.record.events:
            if isinstance(e, SocketEvent) and e.info.local:
                ports[e.info.name] = e.info.local[1]
        return ports

    async def _settle_wire(self) -> None:
        """Let the wire lane catch up before the checks read it: a packet ring hands its
        frames over at most RETIRE_MS (10 ms) after they crossed, and the lab reads them at
        once. Only where this run captured anything."""
        self._collect()
        if any(isinstance(e, SegmentEvent) for e in self.record.events):
            await asyncio.sleep(WIRE_SETTLE)

    def _collect(self) -> None:
        page = self.lab.engine.log.after(self._cursor, RECORD_MAX)
        while page.events:
            self.record.events.extend(page.events)
            self._cursor = page.events[-1].seq
            page = self.lab.engine.log.after(self._cursor, RECORD_MAX)
        if len(self.record.events) > RECORD_MAX:
            del self.record.events[: len(self.record.events) - RECORD_MAX]

    async def _announce(self, state: str, step: int, ok: bool, message: str, data: Any) -> None:
        if state != "started":
            await self._settle_wire()
        outcomes = (
            self.checks()
            if state != "started"
            else [
                CheckOutcome(claim=c.claim, passed=None, observed=NOT_YET)
                for c in self.lesson.checks
            ]
        )
        future = self.lab.engine.record(
            LessonEvent, lesson=self.lesson.id, state=state, step=step, ok=ok, message=message,
            data=data, checks=outcomes,
        )  # fmt: skip
        await asyncio.wait_for(asyncio.wrap_future(future), 10)


async def missing_needs(lesson: Lesson) -> dict[str, str]:
    """What the lesson's steps and checks need that this machine lacks, and why."""
    needs = {s.needs for s in lesson.steps} | {c.needs for c in lesson.checks}
    missing: dict[str, str] = {}
    if "private_network" in needs:
        possible, why = await asyncio.to_thread(privnet.availability)
        if not possible:
            missing["private_network"] = f"this machine gives no private network ({why})"
    if "ipv6" in needs:
        lacking = machine.ipv6_missing()
        if lacking:
            missing["ipv6"] = f"this machine has no IPv6 loopback ({lacking})"
    return missing


def refused_or(answer: Answer) -> Answer:
    """``answer``, unless the lab refused the command: then the step fails, saying why."""
    if answer.status >= 400:
        assert answer.error is not None
        raise LessonStepError(answer.error.get("field"), answer.error["message"])
    return answer


def outcome_of(answer: Answer) -> str:
    if answer.blocked:
        return "blocked"
    if answer.ok:
        return "ok"
    return str((answer.error or {}).get("errno") or "refused")
