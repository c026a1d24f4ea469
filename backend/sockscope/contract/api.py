"""What the API sends around a lab's events and snapshot: answers, errors, stream messages.

REST answers and the websocket's messages (``api/ws.py`` describes the protocol). Standard
library and typing_extensions only, like :mod:`.lab`.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypeAlias

from typing_extensions import TypedDict

from sockscope.contract.lab import ErrorDetail, LabSnapshot
from sockscope.events import Event, JSONValue


class CommandAnswer(TypedDict):
    """The answer to a command (POST /api/labs/{id}/commands): what the kernel returned.

    ``error`` is null, or says why the call failed (with its errno) or why the command was
    refused (with its field, and a 4xx status). ``blocked`` is there, true, when the call
    is still blocked in a worker thread; its end arrives as a ``call`` event.
    """

    ok: bool
    result: JSONValue
    error: ErrorDetail | None
    events: list[Event]
    blocked: NotRequired[Literal[True]]


class ErrorBody(TypedDict):
    """The answer to every refused request (any 4xx or 5xx the API builds)."""

    ok: Literal[False]
    result: None
    error: ErrorDetail
    events: list[Event]  # always empty: nothing ran


# The functional form: ``from`` is a keyword in Python.
Gap = TypedDict("Gap", {"from": int, "to": int})
Gap.__doc__ = "Events a viewer was not sent (from..to, inclusive): a snapshot covers them."


class SnapshotMessage(TypedDict):
    """The lab as it stands; first on a websocket, and again after a gap."""

    type: Literal["lab/snapshot"]
    schema_version: int
    snapshot: LabSnapshot
    gap: Gap | None


class EventsMessage(TypedDict):
    """Events in seq order, with no holes, following the last snapshot or batch."""

    type: Literal["events/batch"]
    events: list[Event]


StringsFrom = TypedDict("StringsFrom", {"from": int, "values": list[JSONValue]})
StringsFrom.__doc__ = (
    "Interned values a viewer of rows had not been sent: ``values[i]`` is number ``from + i``"
    " (0 is none). A call row's site is [socket, op, line head, line tail], its error"
    " [errno name, message]; a select row's lists are [readers, writers]."
)


class EventsRowsMessage(TypedDict):
    """The events of an ``events/batch``, for a viewer that connected with ``?rows=1``
    (the lab page): event ``first + i`` is ``events[i]``, in seq order, with no holes. A
    flood's loop calls and select() turns are arrays of numbers (docs/api.md, "Rows");
    every other event is its object, as in ``events/batch``."""

    type: Literal["events/rows"]
    first: int
    strings: StringsFrom
    events: list[list[JSONValue] | Event]


class CommandResultMessage(TypedDict):
    """The answer to a command sent on the websocket, with the ``id`` it came with."""

    type: Literal["command/result"]
    id: JSONValue  # as the client sent it (null when it sent none)
    ok: bool
    result: JSONValue
    error: ErrorDetail | None
    status: int  # the HTTP status REST would have answered
    seqs: list[int]  # the seqs of the events the command produced
    blocked: bool


class ErrorMessage(TypedDict):
    """A websocket message the server could not read as a command (not JSON, or binary)."""

    type: Literal["error"]
    message: str


ServerMessage: TypeAlias = (
    SnapshotMessage | EventsMessage | EventsRowsMessage | CommandResultMessage | ErrorMessage
)


class EventsPage(TypedDict):
    """A page of a lab's event log (GET /api/labs/{id}/events): events after a cursor."""

    schema_version: int
    events: list[Event]
    gap: Gap | None  # events asked for that the log no longer holds
    last_seq: int
    next_after: int  # the cursor for the next page


class PreviewError(TypedDict):
    """Why a previewed command would be refused."""

    index: int
    """which command of the list"""
    field: str | None
    message: str


class Preview(TypedDict):
    """POST /api/labs/{id}/preview: the Python the commands will run, nothing run."""

    lines: list[str]
    """as the lab will log them, up to a refused command"""
    error: PreviewError | None


class LabCreated(TypedDict):
    """A new lab (POST /api/labs): its id is the key to everything else."""

    id: str
    url: str
    snapshot: LabSnapshot


class ServerInfo(TypedDict):
    """Where the server runs (GET /api/server)."""

    version: str
    lab_ports: tuple[int, int]
    in_container: bool
    lab_ports_published: bool  # published by the container (compose.lab-ports.yml)
    host: str  # the address the server listens on


class Health(TypedDict):
    """GET /healthz."""

    ok: Literal[True]
    labs: int
    version: str
