"""The request body's edge: a size limit counted as the bytes arrive, and JSON checked once.

Pure ASGI, so it sees the body before anything parses it: a body over MAX_BODY is refused
with 413 after at most MAX_BODY bytes were read (at once when Content-Length says so, else as
the chunks arrive), and a JSON body that no command can be (a lone surrogate, NaN, nesting
too deep: see wire.check_json) is refused with 400 before it reaches a route, so a lab
never sees (or logs) it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sockscope.api.wire import MAX_BODY, BadInput, error_body, loads

log = logging.getLogger(__name__)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, None, "Content-Length is not a number of bytes")
                return
            if int(declared) > self.max_body:
                await _refuse(send, 413, None, self._too_large(), close=True)
                return
        chunks: list[bytes] = []
        size = 0
        disconnect: Message | None = None
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _refuse(send, 413, None, self._too_large(), close=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and (media == "application/json" or media.endswith("+json")):
            try:
                loads(body)
            except BadInput as exc:
                await _refuse(send, exc.status, exc.field, exc.message)
                return
            except ValueError:
                pass  # not JSON at all: the route says so, as it always has
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if disconnect is not None:
                    return disconnect
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return (
            f"the request body is over {self.max_body} bytes, the most this server reads;"
            ' to send many bytes, give "size" (that many patterned bytes) instead of text or hex'
        )


class ServerErrors:
    """A bug in a route is logged with its traceback and answered with the error body (500).

    Not left to the server: it would log it too, but then close the connection under the
    client's feet (a reset instead of an answer).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only closing the connection can say so
            await _refuse(
                send, 500, None, "the server failed on this request (a bug: see the server's log)"
            )


async def _refuse(
    send: Send, status: int, field: str | None, message: str, *, close: bool = False
) -> None:
    """Answer with the error body; ``close`` when the rest of the body was left unread."""
    payload: Any = error_body(field, message)
    data = json.dumps(payload, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
