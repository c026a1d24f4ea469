"""One experiment in every lab at once, and its outcomes grouped: the room's real kernels
differ ("send() returned 6144 in 41 labs, 4096 in 3, EAGAIN in 2"), and that is the lesson.

Each lab runs the list in order (a later command may use a socket an earlier one made); the
labs run concurrently, each bounded by RUN_DEADLINE, so one stuck lab delays nobody's answer
by more than that.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from sockscope.contract.room import CommandOutcomes, OutcomeGroup
from sockscope.engine.core.commands import Command
from sockscope.engine.core.errors import CommandError
from sockscope.events import CallEvent, JSONValue
from sockscope.labs.bridge import Answer, run_command
from sockscope.labs.registry import Lab
from sockscope.room.store import Participant

RUN_DEADLINE = 10.0  # seconds for one lab to run the whole list
COMMAND_WAIT = 1.0  # a blocking call is reported "blocked" after this


def outcome_of(answer: Answer, op: object = None) -> str:
    """What a command came to, in the words the grid shows: "returned 6144", "EAGAIN", ...

    The call the command is named after counts (a socket() with options also makes
    setsockopt() calls), else its last call.
    """
    if answer.blocked:
        return "blocked"
    if answer.error is not None:
        errno = answer.error.get("errno")
        return str(errno) if errno else f"refused: {answer.error.get('message', '')}"
    calls = [e for e in answer.events if isinstance(e, CallEvent)]
    named = [e for e in calls if e.op == op] or calls
    if named:
        call = named[0] if named is not calls else named[-1]
        if call.errno:
            return call.errno
        shown = call.done if call.done is not None else same_everywhere(call.result_text)
        return f"returned {shown}"
    return "ok" if answer.result is None else f"returned {same_everywhere(repr(answer.result))}"


_FD = re.compile(r"fd=\d+")
_PORT = re.compile(r"(\('[0-9a-fA-F.:]+', )\d+\)")


def same_everywhere(text: str) -> str:
    """``text`` without what differs between labs by chance (file descriptors, ephemeral
    ports), so that the same outcome groups together."""
    return _PORT.sub(r"\1PORT)", _FD.sub("fd=N", text))


async def run_list(lab: Lab, commands: Sequence[Any]) -> list[str]:
    """Each command's outcome in one lab; those not reached say why."""
    outcomes: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_DEADLINE
    for raw in commands:
        left = deadline - loop.time()
        if left <= 0:
            outcomes.append(f"not run: the lab took over {RUN_DEADLINE:g} s")
            continue
        try:
            answer = await asyncio.wait_for(
                run_command(lab, dict(raw), COMMAND_WAIT, limited=False, busy_wait=left), left
            )
            outcomes.append(outcome_of(answer, raw.get("op")))
        except CommandError as exc:
            outcomes.append(f"refused: {exc.message}")
        except TimeoutError:
            outcomes.append(f"no answer in {RUN_DEADLINE:g} s")
    return outcomes


def grouped(names: Sequence[str], outcomes: Sequence[str]) -> list[OutcomeGroup]:
    """Labs with the same outcome together, the largest group first."""
    groups: dict[str, list[str]] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        groups.setdefault(outcome, []).append(name)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [{"outcome": o, "labs": len(who), "participants": who} for o, who in ordered]


def as_sent(command: BaseModel) -> dict[str, JSONValue]:
    """A checked command as JSON again, with only the fields its sender gave: each lab checks
    it once more, against its own caps."""
    sent: dict[str, JSONValue] = command.model_dump(mode="json", exclude_unset=True)
    return sent


async def run_everywhere(
    pairs: Sequence[tuple[Participant, Lab]], commands: Sequence[Command]
) -> list[CommandOutcomes]:
    raw = [as_sent(command) for command in commands]
    per_lab = await asyncio.gather(*(run_list(lab, raw) for _, lab in pairs))
    names = [participant.name for participant, _ in pairs]
    return [
        {"command": command, "groups": grouped(names, [outs[i] for outs in per_lab])}
        for i, command in enumerate(raw)
    ]
