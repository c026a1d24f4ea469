"""Lessons as the lesson routes send them (``api/lessons.py``; built in ``lessons/``).

Standard library and typing_extensions only, like :mod:`.lab`.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from typing_extensions import TypedDict

from sockscope.contract.workbench import (
    ByteOrderReading,
    FdLimitReport,
    FramingReading,
    IpcReport,
    ShapeReport,
    StrategyName,
)
from sockscope.events import CheckOutcome, Event, JSONValue


class LessonOutline(TypedDict):
    """A lesson in the list (GET /api/lessons): what it is, the HOWTO sections, its claims."""

    id: str
    title: str
    howto_sections: list[str]  # the HOWTO's sections it follows; empty: beyond the HOWTO
    sources: list[str]  # what it cites beyond the HOWTO (man pages, RFCs)
    claims: list[int]  # the claims it proves (DESIGN.md numbering)
    teaser: str  # what it explores, safe to show before it runs
    summary: str  # what it shows: it answers its questions, so it is for after the run


class Prediction(TypedDict):
    """A question a step asks before it runs; the answer and why are shown after."""

    question: str
    choices: list[str]
    answer: int  # index into choices
    why: str


class LessonStep(TypedDict):
    """One step: a command (JSON as the API takes it) or an action of the lesson's own."""

    text: str
    kind: str  # "command", or the action: wait, pause, ipc, framing, byteorder, shapes, endings
    command: dict[str, JSONValue] | None  # "{port:NAME}" stands for the port NAME is bound to
    action: dict[str, JSONValue] | None
    needs: str | None  # what it needs of the machine ("private_network"); skipped without it
    predict: Prediction | None


class LessonCheck(TypedDict):
    """A check the lesson runs: the claim it proves, by which check function."""

    claim: int
    check: str
    label: str  # the claim in words: shown once the check has its evidence
    asks: str  # a neutral question shown until then (the label would answer it)
    needs: str | None


class LessonDefinition(LessonOutline):
    """One lesson with its steps and checks (GET /api/lessons/{id})."""

    steps: list[LessonStep]
    checks: list[LessonCheck]


class LessonState(TypedDict):
    """Where a lesson under way in a lab stands, and its checks so far."""

    lesson: str
    position: int  # the index of the next step to run
    finished: bool
    failed: str | None  # why it stopped, when a step surprised it
    checks: list[CheckOutcome]


class LessonFraming(FramingReading):
    """A framing step: messages sent through a real connection, read back as recv() cut them."""

    strategy: StrategyName
    mode: Literal["back_to_back", "sliced"]  # one send() per message, or the stream sliced
    sent: list[str]  # what each send() carried
    verdict: str  # on the framed receiver, then the naive one


class EndingRow(TypedDict):
    """One way an endings step closed a client, and what the server's recv() saw after it."""

    ending: Literal["close", "shutdown", "abort", "exit", "stall"]
    peer_saw: str  # the recv()'s result text: "b'' (peer closed)", "ECONNRESET", ...
    state: str | None  # the server socket's TCP state then


class KernelSetting(TypedDict):
    """One kernel setting as a sysctl step read it (/proc/sys)."""

    name: str  # the sysctl name: net.core.somaxconn
    value: str  # as the kernel has it, or why it could not be read


class KernelSettings(TypedDict):
    """A sysctl step: the settings that decide what the lesson shows, on this kernel."""

    settings: list[KernelSetting]


class NagleRow(TypedDict):
    """One way of sending a two-part request, timed over real round trips (a nagle step)."""

    way: Literal["nagle", "nodelay", "one_write"]
    label: str
    median_ms: float
    rounds_ms: list[float]


class StepSkipped(TypedDict):
    """A step the machine cannot run (it lacks what the step needs), and why."""

    skipped: str


# What an action step measured (an event's or answer's ``data``), by the step's kind: framing,
# byteorder, ipc, shapes, endings, sysctl, nagle, fdlimit; a skipped step says why; the
# others measure nothing (null).
LessonStepData: TypeAlias = (
    LessonFraming
    | ByteOrderReading
    | list[IpcReport]
    | list[ShapeReport]
    | list[EndingRow]
    | KernelSettings
    | list[NagleRow]
    | FdLimitReport
    | StepSkipped
    | None
)


class LessonStepAnswer(LessonState):
    """The answer to running a lesson's next step: what the step did, then the state."""

    step: int
    ok: bool
    message: str
    events: list[Event]  # the events the step's command produced
    data: LessonStepData  # what an action measured
