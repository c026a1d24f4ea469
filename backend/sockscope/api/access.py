"""Who is asking: the instructor, a participant, an observer, or someone with no room role.

Credentials come as ``Authorization: Bearer TOKEN`` (scripts), as HttpOnly cookies
(browsers: ``sockscope_instructor``, ``sockscope_participant``), or, for an observer's
read-only link, as ``?observe=TOKEN``. A lab made through the room is owned by its
participant (``Lab.extras["owner"]``): only its participant and the instructor drive it,
an observer of it may read it; a lab made with ``POST /api/labs`` stays open to whoever
holds its id, as it always was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from sockscope.api.wire import ErrorBody, error_responses
from sockscope.engine.core.errors import ForbiddenError
from sockscope.labs.registry import Lab
from sockscope.room.room import OWNER, Room, Unauthorized
from sockscope.room.store import Participant

PARTICIPANT_COOKIE = "sockscope_participant"
INSTRUCTOR_COOKIE = "sockscope_instructor"
OBSERVE_PARAM = "observe"

NEEDS_INSTRUCTOR = (
    "instructor only: open the instructor URL the server printed at start-up"
    " (`docker compose logs sockscope | grep instructor`), or send Authorization: Bearer TOKEN"
)
OBSERVER_CANNOT = "an observer cannot drive this lab"


@dataclass(frozen=True, slots=True)
class Caller:
    instructor: bool
    participant: Participant | None
    observes: str | None  # the participant id whose lab an observer token watches

    @property
    def anyone(self) -> bool:
        return self.instructor or self.participant is not None or self.observes is not None


def client_of(connection: HTTPConnection) -> str:
    """The client's address: what the per-client limits count."""
    return connection.client.host if connection.client else "unknown"


def room_of(connection: HTTPConnection) -> Room:
    room: Room = connection.app.state.room
    return room


def bearer(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def caller_of(connection: HTTPConnection) -> Caller:
    cached: Caller | None = getattr(connection.state, "caller", None)
    if cached is not None:
        return cached
    room = room_of(connection)
    token = bearer(connection)
    cookies = connection.cookies
    instructor = room.is_instructor(token) or room.is_instructor(cookies.get(INSTRUCTOR_COOKIE))
    participant = room.participant(token) or room.participant(cookies.get(PARTICIPANT_COOKIE))
    observes = room.observed(token) or room.observed(connection.query_params.get(OBSERVE_PARAM))
    caller = Caller(instructor, participant, observes)
    connection.state.caller = caller
    return caller


def require_instructor(connection: HTTPConnection) -> Caller:
    caller = caller_of(connection)
    if not caller.instructor:
        raise Unauthorized(None, NEEDS_INSTRUCTOR)
    return caller


def require_participant(connection: HTTPConnection) -> Participant:
    participant = caller_of(connection).participant
    if participant is None:
        raise Unauthorized(
            None,
            "join the room first (POST /api/room/join), then send the participant's cookie"
            " or Authorization: Bearer TOKEN",
        )
    return participant


def authorize(connection: HTTPConnection, lab: Lab, *, write: bool) -> Caller:
    """Raises Unauthorized or ForbiddenError when the caller may not read (or drive) ``lab``."""
    owner = lab.extras.get(OWNER)
    if owner is None:
        return Caller(False, None, None)  # not a room lab: open to whoever holds its id
    caller = caller_of(connection)
    if caller.instructor or (caller.participant is not None and caller.participant.id == owner):
        return caller
    if caller.observes == owner:
        if write:
            raise ForbiddenError(None, OBSERVER_CANNOT)
        return caller
    if not caller.anyone:
        raise Unauthorized(
            None,
            "this lab belongs to a room participant: send its token (the browser's cookie,"
            " Authorization: Bearer TOKEN, or an observer link's ?observe=TOKEN)",
        )
    raise ForbiddenError(None, "this lab belongs to another participant")


_WHY = {
    401: "No instructor (or participant) credentials: the token, its cookie, or Bearer",
    403: "A wrong join code, another participant's lab, or an observer trying to drive",
    409: "Answers are locked (revealed), or the room is not frozen for a step",
    423: "The instructor froze the room: participants' commands wait for the resume",
    429: "Too many joins from one address, or too many participants from it",
}


def room_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    known: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": _WHY[s]} for s in statuses if s in _WHY
    }
    return {**error_responses(*(s for s in statuses if s not in _WHY)), **known}
