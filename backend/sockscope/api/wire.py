"""What goes on the wire: JSON shapes of answers and stream messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sockscope.engine.core.errors import CommandError
from sockscope.events import SCHEMA_VERSION, Event, to_wire
from sockscope.labs.bridge import Answer


def answer_body(answer: Answer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": answer.ok,
        "result": answer.result,
        "error": answer.error,
        "events": [to_wire(e) for e in answer.events],
    }
    if answer.blocked:
        body["blocked"] = True
    return body


def error_body(exc: CommandError) -> dict[str, Any]:
    return {
        "ok": False,
        "result": None,
        "error": {"errno": None, "field": exc.field, "message": exc.message},
        "events": [],
    }


def events_message(events: list[Event]) -> dict[str, Any]:
    return {"type": "events/batch", "events": [to_wire(e) for e in events]}


def snapshot_message(snapshot: dict[str, Any], gap: tuple[int, int] | None) -> dict[str, Any]:
    return {
        "type": "lab/snapshot",
        "schema_version": SCHEMA_VERSION,
        "snapshot": snapshot,
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
