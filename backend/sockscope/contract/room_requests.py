"""What a client sends the room's routes (``api/room.py``): pydantic models, read in
validation mode, their limits included (like :mod:`.requests`; the answers are in :mod:`.room`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sockscope.events import JSONValue

RUN_MAX = 16  # commands in one room-wide run


class Strict(BaseModel):
    """Unknown fields are refused (400), so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class JoinRequest(Strict):
    """POST /api/room/join: the code on the projector, and a display name (or none)."""

    code: str = Field(max_length=32)
    name: str = Field(default="", max_length=200)


class PushRequest(Strict):
    """POST /api/room/lesson: the lesson to start in every lab; follow: the room moves with
    POST /api/room/next only."""

    lesson: str = Field(max_length=100)
    follow: bool = False


class FreezeRequest(Strict):
    """POST /api/room/freeze."""

    frozen: bool


class RunRequest(Strict):
    """POST /api/room/run: commands (as POST /api/labs/{id}/commands takes them) for every lab."""

    commands: list[dict[str, JSONValue]] = Field(min_length=1, max_length=RUN_MAX)


class QuestionRequest(Strict):
    """POST /api/room/reveal and /api/room/revote: a question is a lesson step with a prediction."""

    lesson: str = Field(max_length=100)
    step: int = Field(ge=0, le=1000)


class MirrorRequest(Strict):
    """POST /api/room/mirror: the room lab to put on the projector (null: the join code),
    whether names show, and the question whose counts it shows (null: the newest revealed)."""

    lab: str | None = Field(max_length=100)
    hide_names: bool = False
    question: QuestionRequest | None = None


class AnswerRequest(QuestionRequest):
    """POST /api/labs/{lab}/answers: indexes into GET /api/lessons/{lesson}'s steps and choices."""

    choice: int = Field(ge=0, le=100)


class ObserverRequest(Strict):
    """POST /api/room/observers: the room lab to watch."""

    lab: str = Field(max_length=100)


class HelpRequest(Strict):
    """POST /api/room/help: the participant's hand up (true) or down."""

    on: bool


class LimitsRequest(Strict):
    """POST /api/room/limits: participants per client address, join attempts a minute."""

    per_client: int = Field(ge=1, le=1000)
    joins_per_minute: int = Field(ge=1, le=10_000)
