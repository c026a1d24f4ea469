"""The websocket of a viewer: a snapshot, then event batches; commands in.

Protocol (JSON text messages):
- server -> client ``lab/snapshot``: ``{"snapshot", "gap"}``. Sent first, unless
  the client connected with ``?after=SEQ`` and the log still holds everything
  after SEQ; sent again (with ``gap``) if the viewer fell so far behind that
  the log dropped events it had not seen.
- server -> client ``events/batch``: ``{"events": [...]}``, in seq order, no holes.
- client -> server: a command (the same JSON as REST), optionally with ``"id"``;
  answered by ``command/result`` ``{"id", "ok", "result", "error", "status", "seqs",
  "blocked"}`` (``status`` is the HTTP status REST would have answered).
- server -> client ``error``: ``{"message"}`` for a message that is not JSON.

A handshake from a foreign Origin is refused with HTTP 403; an unknown lab is
accepted then closed with code 4404, a lab that closes ends the stream with 4410.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from sockscope.api.routes import snapshot_of
from sockscope.api.wire import events_message, origin_allowed, snapshot_message
from sockscope.engine.core.errors import CommandError
from sockscope.labs.bridge import Subscription, run_command
from sockscope.labs.registry import Lab

router = APIRouter()

FLUSH_EVERY = 0.05  # seconds: batch events for 50 ms rather than one message each
BATCH_MAX = 2000
IDLE_CHECK = 5.0


@router.websocket("/api/labs/{lab_id}/ws")
async def lab_socket(websocket: WebSocket, lab_id: str, after: int | None = None) -> None:
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
    await websocket.accept()
    lab.viewers += 1
    commands = asyncio.create_task(_receive_commands(websocket, lab, settings.command_wait))
    try:
        await _stream(websocket, lab, after, commands)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        lab.viewers -= 1
        lab.touch()
        commands.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await commands


async def _stream(
    websocket: WebSocket, lab: Lab, after: int | None, reader: asyncio.Task[None]
) -> None:
    log = lab.engine.log
    subscription = Subscription(log)
    try:
        cursor = await _resume_or_snapshot(websocket, lab, after)
        while not reader.done():
            page = log.after(cursor, BATCH_MAX)
            if page.gap is not None:
                snapshot = await snapshot_of(lab)
                await websocket.send_json(snapshot_message(snapshot, page.gap))
                cursor = snapshot["seq"]
                continue
            if page.events:
                await websocket.send_json(events_message(page.events))
                cursor = page.events[-1].seq
                if len(page.events) == BATCH_MAX:
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
    if after is not None and after <= log.last_seq and log.after(after, 1).gap is None:
        return after
    snapshot = await snapshot_of(lab)
    gap = None
    if after is not None and after < snapshot["seq"]:
        gap = (after + 1, max(after + 1, log.first_seq - 1))
    await websocket.send_json(snapshot_message(snapshot, gap))
    seq: int = snapshot["seq"]
    return seq


async def _receive_commands(websocket: WebSocket, lab: Lab, wait: float) -> None:
    pending: set[asyncio.Task[None]] = set()
    try:
        while True:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
            except ValueError:
                await websocket.send_json({"type": "error", "message": "not JSON: " + text[:80]})
                continue
            task = asyncio.create_task(_answer(websocket, lab, message, wait))
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        for task in pending:
            task.cancel()


async def _answer(websocket: WebSocket, lab: Lab, message: Any, wait: float) -> None:
    request_id = message.pop("id", None) if isinstance(message, dict) else None
    try:
        answer = await run_command(lab, message, wait)
        reply: dict[str, Any] = {
            "type": "command/result",
            "id": request_id,
            "ok": answer.ok,
            "result": answer.result,
            "error": answer.error,
            "status": answer.status,
            "seqs": [e.seq for e in answer.events],
            "blocked": answer.blocked,
        }
    except CommandError as exc:
        reply = {
            "type": "command/result",
            "id": request_id,
            "ok": False,
            "result": None,
            "error": {"errno": None, "field": exc.field, "message": exc.message},
            "status": exc.status,
            "seqs": [],
            "blocked": False,
        }
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.send_json(reply)
