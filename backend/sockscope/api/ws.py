"""The websocket of a viewer: a snapshot, then event batches; commands in.

Protocol (JSON text messages):
- server -> client ``lab/snapshot``: ``{"snapshot", "gap"}``. Sent first, unless
  the client connected with ``?after=SEQ`` and the log still holds everything
  after SEQ; sent again (with ``gap``) if the viewer fell so far behind that
  the log dropped events it had not seen.
- server -> client ``events/batch``: ``{"events": [...]}``, in seq order, no holes.
- or, for a viewer that connected with ``?rows=1`` (the lab page), ``events/rows``:
  ``{"first", "strings": {"from", "values"}, "events": [...]}``, the same events in the
  compact form of docs/api.md (a flood's calls and turns as arrays of numbers).
- client -> server: a command (the same JSON as REST), optionally with ``"id"``;
  answered by ``command/result`` ``{"id", "ok", "result", "error", "status", "seqs",
  "blocked"}`` (``status`` is the HTTP status REST would have answered).
- server -> client ``error``: ``{"message"}`` for a message that is not JSON (or binary).
  JSON that no command can be (a string that is not valid Unicode, NaN, nesting too deep)
  is answered as a refused command (status 400), before it reaches the lab. A message
  over MAX_WS_MESSAGE bytes closes the socket (1009, the server's ``ws_max_size``).

Every command gets exactly one ``command/result``, even when the server fails on it
(status 500). A ``gap`` ``{"from", "to"}`` in a snapshot names exactly the events the
viewer was not sent: everything after its cursor up to the snapshot's ``seq``.

A handshake from a foreign Origin is refused with HTTP 403; an unknown lab is
accepted then closed with code 4404, a lab that closes ends the stream with 4410.
A room lab (api/access.py) is closed with 4401 for a viewer with no credentials and 4403
for one with others'; an observer watches everything and each of its commands is answered
with status 403; while the room is frozen a participant's commands are answered with 423.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from sockscope.api.access import OBSERVER_CANNOT, Caller, authorize, room_of
from sockscope.api.routes import snapshot_of
from sockscope.api.wire import (
    BadInput,
    bounded_error,
    check_json,
    error_detail,
    events_message_text,
    lenient_loads,
    loads,
    origin_allowed,
    quote,
    rows_message_text,
    snapshot_message,
)
from sockscope.engine.core.errors import CommandError, ForbiddenError
from sockscope.labs.bridge import Subscription, run_command
from sockscope.labs.registry import Lab
from sockscope.room.room import OWNER

log = logging.getLogger(__name__)

router = APIRouter()

FLUSH_EVERY = 0.05  # seconds: batch events for 50 ms rather than one message each
BATCH_MAX = 2000
IDLE_CHECK = 5.0


@router.websocket("/api/labs/{lab_id}/ws")
async def lab_socket(
    websocket: WebSocket, lab_id: str, after: int | None = None, rows: bool = False
) -> None:
    settings = websocket.app.state.settings
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), settings.allowed_origins
    ):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    lab: Lab | None = websocket.app.state.registry.get(lab_id)
    if lab is None or lab.engine.closed.is_set():
        await websocket.accept()
        await websocket.close(code=4404, reason="no such lab")
        return
    try:
        caller = authorize(websocket, lab, write=False)
    except CommandError as exc:
        await websocket.accept()
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    await websocket.accept()
    lab.viewers += 1
    commands = asyncio.create_task(_receive_commands(websocket, lab, settings.command_wait, caller))
    try:
        await _stream(websocket, lab, after, commands, rows)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        lab.viewers -= 1
        lab.touch()
        commands.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await commands


async def _stream(
    websocket: WebSocket, lab: Lab, after: int | None, reader: asyncio.Task[None], rows: bool
) -> None:
    log = lab.engine.log
    known = 0  # the interned strings this viewer was sent (rows)
    subscription = Subscription(log)
    # A viewer that leaves ends the wait at once, not IDLE_CHECK later: its lab stops
    # counting it as a viewer (the reaper looks), and a server stopping waits for no one.
    reader.add_done_callback(lambda _: subscription.wake())
    try:
        cursor = await _resume_or_snapshot(websocket, lab, after)
        while not reader.done():
            page = log.rows_after(cursor, BATCH_MAX) if rows else log.wire_after(cursor, BATCH_MAX)
            if page.gap is not None:
                # Fell behind the log: a snapshot instead of the events up to its seq, and a
                # gap naming all of them (the log still holds those after page.gap, but they
                # are not sent either: the snapshot comes after them).
                snapshot = await snapshot_of(lab)
                cursor = await _send_snapshot(websocket, snapshot, cursor)
                continue
            if page.texts and rows:
                fresh = log.strings_from(known)  # after the rows: all they name, and more
                first = page.last - len(page.texts) + 1
                await websocket.send_text(rows_message_text(first, known, fresh, page.texts))
                known += len(fresh)
            elif page.texts:
                await websocket.send_text(events_message_text(page.texts))
            if page.texts:
                cursor = page.last
                if len(page.texts) == BATCH_MAX:
                    await asyncio.sleep(0)  # let other viewers and commands run
                    continue
            if lab.engine.closed.is_set():
                await websocket.close(code=4410, reason="lab closed")
                return
            if await subscription.wait(IDLE_CHECK):
                await asyncio.sleep(FLUSH_EVERY)
    finally:
        subscription.close()


async def _resume_or_snapshot(websocket: WebSocket, lab: Lab, after: int | None) -> int:
    log = lab.engine.log
    if after is not None and log.first_seq - 1 <= after <= log.last_seq:  # no gap after it
        return after
    snapshot = await snapshot_of(lab)
    return await _send_snapshot(websocket, snapshot, after)


async def _send_snapshot(websocket: WebSocket, snapshot: dict[str, Any], cursor: int | None) -> int:
    """Send ``snapshot`` to a viewer whose last event is ``cursor`` (None: a new viewer).

    Its gap is every event after the cursor up to the snapshot's seq: the viewer gets none
    of them as events, whether the log dropped them or not.
    """
    seq: int = snapshot["seq"]
    gap = None if cursor is None or cursor >= seq else (cursor + 1, seq)
    await websocket.send_json(snapshot_message(snapshot, gap))
    return seq


async def _receive_commands(websocket: WebSocket, lab: Lab, wait: float, caller: Caller) -> None:
    pending: set[asyncio.Task[None]] = set()
    try:
        while True:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(received.get("code", 1000))
            text = received.get("text")
            if text is None:
                await websocket.send_json(
                    {"type": "error", "message": "a command is a JSON text message, not binary"}
                )
                continue
            try:
                message = loads(text)
            except BadInput as exc:
                await _send_refusal(websocket, text, exc)
                continue
            except ValueError:
                await websocket.send_json({"type": "error", "message": "not JSON: " + quote(text)})
                continue
            task = asyncio.create_task(_answer(websocket, lab, message, wait, caller))
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        for task in pending:
            task.cancel()


async def _answer(
    websocket: WebSocket, lab: Lab, message: Any, wait: float, caller: Caller
) -> None:
    request_id = message.pop("id", None) if isinstance(message, dict) else None
    try:
        _may_drive(websocket, lab, caller)
        answer = await run_command(lab, message, wait)
        reply: dict[str, Any] = {
            "type": "command/result",
            "id": request_id,
            "ok": answer.ok,
            "result": answer.result,
            "error": bounded_error(answer.error),
            "status": answer.status,
            "seqs": [e.seq for e in answer.events],
            "blocked": answer.blocked,
        }
    except CommandError as exc:
        reply = _refusal(request_id, exc.status, exc.field, exc.message)
    except Exception:
        # A bug on the lab's side: logged, and still answered, so a client waiting for this
        # id is not left waiting (nor is the error lost in "Task exception was never retrieved").
        log.exception("command %s failed in the server", quote(message))
        reply = _refusal(
            request_id, 500, None, "the server failed on this command (a bug: it is in its log)"
        )
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.send_json(reply)


def _may_drive(websocket: WebSocket, lab: Lab, caller: Caller) -> None:
    """Raises for an observer's command, or a participant's while the room is frozen."""
    owner = lab.extras.get(OWNER)
    mine = caller.participant is not None and caller.participant.id == owner
    if owner is not None and not caller.instructor and not mine:  # let in as an observer
        raise ForbiddenError(None, OBSERVER_CANNOT)
    room_of(websocket).refuse_if_frozen(lab, caller.instructor)


def _refusal(request_id: Any, status: int, field: str | None, message: str) -> dict[str, Any]:
    return {
        "type": "command/result",
        "id": request_id,
        "ok": False,
        "result": None,
        "error": error_detail(field, message),
        "status": status,
        "seqs": [],
        "blocked": False,
    }


async def _send_refusal(websocket: WebSocket, text: str, exc: BadInput) -> None:
    """Answer JSON no command can be, with its id when the id itself is sound."""
    await websocket.send_json(_refusal(_id_of(text), exc.status, exc.field, exc.message))


_ID = re.compile(r'"id"\s*:\s*(-?\d{1,20}(?![\d.eE])|"(?:[^"\\]|\\.){0,200}")')


def _id_of(text: str) -> int | str | None:
    """The id of a message :func:`loads` refused: from the parsed object, or, when it is
    nested too deep to parse at all, the first ``"id": <integer or string>`` in its text."""
    candidate: Any = None
    try:
        raw = lenient_loads(text)
        candidate = raw.get("id") if isinstance(raw, dict) else None
    except RecursionError:
        found = _ID.search(text)
        with contextlib.suppress(ValueError, RecursionError):
            candidate = lenient_loads(found.group(1)) if found else None
    except ValueError:
        return None
    if not isinstance(candidate, (int, str)):  # not a float: it may be NaN
        return None
    try:
        check_json(candidate)
    except BadInput:
        return None
    return candidate
