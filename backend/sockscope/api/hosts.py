"""The Host header check: the server answers only to the names it is reached by.

On a workshop LAN participants reach the laptop by its IP address; on the laptop itself
it is 127.0.0.1 or localhost. A page on another site can point its own name at this
machine (DNS rebinding) and then send requests whose Host and Origin both say that name,
so the same-origin check alone lets them through. Answering only to IP literals,
localhost and the names given with ``--allowed-host`` closes that door. Every request and
websocket is checked, before anything else runs; a refusal says why and how to allow a name.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from sockscope.api.wire import error_body, origin_allowed

Scope = dict[str, Any]


def host_name(host: str) -> str:
    """``host`` without its port, lower-cased; an IPv6 literal without its brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def host_refusal(host: str | None, allowed: tuple[str, ...]) -> str | None:
    """Why a request with this Host header is refused; None when it passes.

    No Host at all passes: browsers always send one (HTTP/1.0 health checks do not).
    """
    if host is None:
        return None
    name = host_name(host)
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    if name == "localhost" or name.endswith(".localhost"):
        return None
    if name in {a.strip().lower() for a in allowed}:
        return None
    shown = name[:60]
    return (
        f"this server does not answer to the name {shown!r}: reach it by its IP address or"
        f" localhost, or start it with --allowed-host {shown} (SOCKSCOPE_ALLOWED_HOSTS)"
    )


class HostCheck:
    """ASGI middleware: a request or websocket whose Host is refused gets a 403 (a websocket:
    closed with 1008) with the reason, and never reaches the app."""

    def __init__(self, app: Any, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next(
                (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None
            )
            why = host_refusal(host, self.allowed)
            if why is not None:
                await refuse(scope, send, why)
                return
        await self.app(scope, receive, send)


class SameOriginWrites:
    """ASGI middleware: a page from another site must not create, drive or delete labs.
    Browsers send Origin with a cross-site POST; curl and scripts send none. A plain ASGI
    class, not Starlette's BaseHTTPMiddleware (``@app.middleware``): that one wrapped every
    request in a task and a stream, and a py-spy profile of the room of 300 had it under
    61% of the web process's busy samples."""

    def __init__(self, app: Any, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "DELETE"):
            headers = dict(scope.get("headers", []))
            origin, host = headers.get(b"origin"), headers.get(b"host")
            if not origin_allowed(
                None if origin is None else origin.decode("latin-1"),
                None if host is None else host.decode("latin-1"),
                self.allowed,
            ):
                await refuse(scope, send, "requests from another site's page are refused", None)
                return
        await self.app(scope, receive, send)


async def refuse(scope: Scope, send: Any, why: str, field: str | None = "host") -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
        return
    body = json.dumps(error_body(field, why)).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
