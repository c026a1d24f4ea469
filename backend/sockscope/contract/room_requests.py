"""What a client sends the room's routes (``api/room.py``): pydantic models, read in
validation mode, their limits included (like :mod:`.requests`; the answers are in :mod:`.room`).
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticCustomError

from sockscope.engine.core.commands import Command, parse_command
from sockscope.engine.core.errors import CommandError
from sockscope.engine.core.validation import DEFAULT_POLICY

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
    """POST /api/room/run: commands (as POST /api/labs/{id}/commands takes them) for every lab.

    Checked against the caps the schema states (each lab checks again against its own)."""

    commands: list[Command] = Field(min_length=1, max_length=RUN_MAX)

    @field_validator("commands", mode="wrap")
    @classmethod
    def _as_a_lab_refuses(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """A bad command is refused in the words a lab uses ("send: give exactly one of ..."),
        not pydantic's, and says which of the list it is."""
        try:
            return handler(value)
        except ValidationError as exc:
            index = next((e["loc"][0] for e in exc.errors() if e["loc"]), None)
            if not isinstance(value, list) or not isinstance(index, int):
                raise
            try:
                parse_command(value[index], DEFAULT_POLICY)
            except CommandError as refused:
                said = refused.message
            else:  # the lab sets a client's "id" tag aside; the schema here has none
                said = 'a room-wide run takes no "id" (the answer lists the commands in order)'
                if not (isinstance(value[index], dict) and "id" in value[index]):
                    said = str(exc.errors()[0]["msg"])
            raise PydanticCustomError(
                "command", "{message}", {"message": f"command {index + 1}: {said}"}
            ) from None


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
