"""What goes on the wire: JSON shapes of answers and stream messages, and what input may be."""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from typing import Any, cast, get_type_hints
from urllib.parse import urlsplit

import msgspec
from pydantic import BaseModel, create_model

from sockscope.contract import api
from sockscope.contract.api import CommandAnswer, EventsMessage, SnapshotMessage
from sockscope.contract.lab import ErrorDetail, LabSnapshot
from sockscope.engine.core.errors import CommandError
from sockscope.events import SCHEMA_VERSION, Event, to_wire
from sockscope.labs.bridge import Answer

# The largest body (or websocket message) the server reads. A command is a few hundred bytes;
# its biggest legitimate part is a typed `text`/`hex` payload. Volume is what `size` (patterned
# bytes, up to the lab's 16 MiB payload cap) is for, so 64 KiB of text is far more than anyone
# types or pastes, and a 100 MB body costs the server 64 KiB before it is refused.
MAX_BODY = 64 * 1024
MAX_WS_MESSAGE = MAX_BODY
MAX_DEPTH = 32  # a command nests 3 levels (options, address); JSON deeper than this is refused
QUOTE_CHARS = 60  # an error quotes at most this much of what it refuses
MESSAGE_CHARS = 400  # and is at most this long in all
FIELD_CHARS = 80


class BadInput(CommandError):
    """JSON no command can be: not valid Unicode, NaN or Infinity, nested too deep."""


def _model_of(shape: Any) -> type[BaseModel]:
    """A pydantic model with the fields of a contract TypedDict, for ``responses=`` (and for a
    client that checks an answer with ``.model_validate``); the shape stays defined once."""
    fields: dict[str, Any] = {name: (hint, ...) for name, hint in get_type_hints(shape).items()}
    return create_model(shape.__name__, __doc__=shape.__doc__, **fields)


ErrorBody = _model_of(api.ErrorBody)


_quoter = reprlib.Repr()
_quoter.maxstring = QUOTE_CHARS
_quoter.maxother = QUOTE_CHARS
_quoter.maxlevel = 3
_quoter.maxlist = _quoter.maxtuple = _quoter.maxdict = 6


def quote(value: Any) -> str:
    """A short Python repr of ``value``: the prefix an error message may show of an input."""
    if isinstance(value, str) and len(value) > QUOTE_CHARS:
        return f"{value[:QUOTE_CHARS]!r}... ({len(value)} characters)"
    return _quoter.repr(value)


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (cut: {len(text)} characters)"


def error_detail(field: str | None, message: str, errno: str | None = None) -> ErrorDetail:
    """The ``error`` of a refusal, its message and field bounded whatever they quote."""
    return {
        "errno": errno,
        "field": None if field is None else clip(str(field), FIELD_CHARS),
        "message": clip(str(message)),
    }


def error_body(field: str | None, message: str, errno: str | None = None) -> api.ErrorBody:
    """The one error body of the API: ``{"ok": false, "result": null, "error", "events"}``."""
    return {
        "ok": False,
        "result": None,
        "error": error_detail(field, message, errno),
        "events": [],
    }


def command_error_body(exc: CommandError) -> api.ErrorBody:
    return error_body(exc.field, exc.message)


def bounded_error(error: Mapping[str, Any] | None) -> ErrorDetail | None:
    """An engine's ``error`` with its message and field bounded (a failed call's errno kept)."""
    if error is None:
        return None
    message = clip(str(error.get("message", "")))
    bounded: ErrorDetail = {"errno": error.get("errno"), "message": message}
    if "field" in error:
        field = error["field"]
        bounded["field"] = None if field is None else clip(str(field), FIELD_CHARS)
    return bounded


def answer_body(answer: Answer) -> CommandAnswer:
    body: CommandAnswer = {
        "ok": answer.ok,
        "result": answer.result,
        "error": bounded_error(answer.error),
        "events": [to_wire(e) for e in answer.events],
    }
    if answer.blocked:
        body["blocked"] = True
    return body


def _no_constant(name: str) -> Any:
    raise BadInput(None, f"{name} is not JSON (JSON numbers are finite)")


INT_DIGITS = 1000  # far past any field's limit, well under Python's int-from-text limit


def _int(text: str) -> int:
    if len(text) > INT_DIGITS:
        raise BadInput(None, f"an integer of {len(text)} digits: no field takes one that large")
    return int(text)


def lenient_loads(text: str | bytes) -> Any:
    """Parse JSON that :func:`loads` refused, to find what can still be answered (its id)."""
    return json.loads(
        text, parse_int=lambda s: int(s) if len(s) <= INT_DIGITS else 0, parse_constant=str
    )


def loads(text: str | bytes) -> Any:
    """Parse a command's JSON and check it (:func:`check_json`).

    Raises:
        ValueError: not JSON at all (or a number too long to convert).
        BadInput: JSON that no command can be.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_int=_int)
    except RecursionError:
        raise BadInput(None, f"nested deeper than {MAX_DEPTH} levels") from None
    check_json(value)
    return value


def check_json(value: Any) -> None:
    """Refuse what would break the lab, its log or its viewers further on.

    Raises:
        BadInput: a string (or key) that is not valid Unicode (a lone surrogate such as
            ``"\\ud800"``, which JSON can spell but UTF-8 cannot encode), or nesting deeper
            than MAX_DEPTH.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadInput(path or None, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, path or None, what="a key")
                stack.append((inner, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{n}]", depth + 1) for n, inner in enumerate(item))


def _check_text(text: str, path: str | None, what: str = "text") -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        where = f"{path}: " if path else ""
        raise BadInput(
            path or None,
            f"{where}{what} that is not valid Unicode: a lone surrogate"
            f" {text[exc.start]!r} at character {exc.start} of {quote(text)}",
        ) from None


def events_message(events: list[Event]) -> EventsMessage:
    return {"type": "events/batch", "events": [to_wire(e) for e in events]}


def events_message_text(texts: list[str]) -> str:
    """:func:`events_message` as the text a viewer is sent, made of each event's JSON text
    (engine.log.encode) without parsing it: the same text send_json makes of the message."""
    return '{"type":"events/batch","events":[' + ",".join(texts) + "]}"


def rows_message_text(first: int, known: int, fresh: list[Any], rows: list[str]) -> str:
    """An ``events/rows`` message: ``rows`` (engine.log.rows_after's texts, the first
    numbered ``first``) and the interned values numbered ``known`` and up, which the viewer
    had not been sent."""
    values = msgspec.json.encode(fresh).decode()
    return (
        f'{{"type":"events/rows","first":{first},"strings":{{"from":{known},'
        f'"values":{values}}},"events":[{",".join(rows)}]}}'
    )


def snapshot_message(snapshot: dict[str, Any], gap: tuple[int, int] | None) -> SnapshotMessage:
    return {
        "type": "lab/snapshot",
        "schema_version": SCHEMA_VERSION,
        # A cast until LabEngine._snapshot is annotated (it needs LabSocket.wire and
        # Link.public annotated first); tests/contract checks real snapshots against the shape.
        "snapshot": cast(LabSnapshot, snapshot),
        "gap": None if gap is None else {"from": gap[0], "to": gap[1]},
    }


def origin_allowed(origin: str | None, host: str | None, extra: tuple[str, ...]) -> bool:
    """A browser's websocket must come from a page this server served (or an allowed Origin).

    Clients that send no Origin (curl, scripts) are not browsers and pass.
    """
    if origin is None:
        return True
    if origin in extra:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.netloc.lower() == (host or "").lower()


_WHY = {
    400: "Refused: a malformed request, or a command that is not valid",
    403: "Refused: a request from another site's page, or an address the lab does not allow",
    404: "No such lab (closed, reaped or never created), lesson or socket",
    409: "Valid, but impossible now (a call already blocked on that socket, a name taken)",
    410: "The lab closed while the command waited",
    413: "The body is over the limit, or a size is over the lab's limit",
    415: "The command was not sent as JSON (Content-Type: application/json)",
    429: "Too many commands: the lab's rate limit",
    500: "The server failed on this request (a bug: it is in the server's log)",
    503: "The lab is busy: its thread has not got to the request in time",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for these statuses, each answered with :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": _WHY[status]} for status in statuses}


COMMON_ERRORS = (400, 413, 500)  # every operation (the body limit and the JSON check are global)
WRITE_ERRORS = (403,)  # every POST, PUT and DELETE (the same-origin check)
