"""REST routes: labs, commands, snapshots, the event log and its export."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from sockscope import __version__
from sockscope.api.access import authorize, client_of, room_errors, room_of
from sockscope.api.quotas import LabQuota
from sockscope.api.wire import answer_body, error_responses
from sockscope.contract.api import Preview, PreviewError
from sockscope.engine.core.commands import COMMAND_ADAPTER, Bind, Connect, parse_command
from sockscope.engine.core.errors import CommandError, Conflict
from sockscope.engine.core.pyline import preview
from sockscope.events import SCHEMA_VERSION
from sockscope.export.capture import capture_file
from sockscope.export.script import render_script
from sockscope.labs.bridge import LabBusy, run_command
from sockscope.labs.registry import Lab, LabRegistry
from sockscope.settings import Settings

router = APIRouter(prefix="/api")

SNAPSHOT_WAIT = 5.0

_EXAMPLES: dict[str, Any] = {
    "socket": {
        "value": {"op": "socket", "name": "srv", "options": {"rcvbuf": 4096, "blocking": False}}
    },
    "bind": {"value": {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]}},
    "listen": {"value": {"op": "listen", "socket": "srv", "backlog": 5}},
    "connect": {"value": {"op": "connect", "socket": "cli", "address": ["127.0.0.1", 20000]}},
    "accept": {"value": {"op": "accept", "socket": "srv"}},
    "send": {"value": {"op": "send", "socket": "cli", "size": 1048576}},
    "recv": {"value": {"op": "recv", "socket": "conn", "bufsize": 4096}},
    "shutdown": {"value": {"op": "shutdown", "socket": "cli", "how": "SHUT_WR"}},
}


# Every command, one schema per op (told apart by "op"), for /docs and fuzzers; the app's
# OpenAPI document files them under components/schemas (see app.py).
_COMMAND = COMMAND_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
COMMAND_COMPONENTS: dict[str, Any] = {**_COMMAND.pop("$defs"), "Command": _COMMAND}
_COMMAND_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}},
    }
}


class BadPreview(CommandError):
    """A preview request that is not a list of commands."""


class NotFound(CommandError):
    status = 404


class UnsupportedBody(CommandError):
    status = 415


def registry_of(request: Request) -> LabRegistry:
    registry: LabRegistry = request.app.state.registry
    return registry


def lab_or_404(request: Request, lab_id: str) -> Lab:
    """The lab, when the caller may reach it: a room lab needs its participant's token or the
    instructor's (an observer's for GET), see api/access.py; 401 or 403 otherwise."""
    lab = registry_of(request).get(lab_id)
    if lab is None or lab.engine.closed.is_set():
        raise NotFound("lab", f"no lab {lab_id!r}: it was closed, reaped, or never existed")
    authorize(request, lab, write=request.method not in ("GET", "HEAD"))
    lab.touch()  # someone is looking: not idle
    return lab


def drivable(request: Request, lab_id: str) -> Lab:
    """:func:`lab_or_404` for a command: a participant's is refused while the room is frozen
    (423); the instructor's passes."""
    lab = lab_or_404(request, lab_id)
    caller = authorize(request, lab, write=True)
    room_of(request).refuse_if_frozen(lab, caller.instructor)
    return lab


async def snapshot_of(lab: Lab) -> dict[str, Any]:
    future = asyncio.wrap_future(lab.engine.snapshot())
    try:
        return await asyncio.wait_for(future, SNAPSHOT_WAIT)
    except TimeoutError:
        raise LabBusy(
            None, f"the lab is busy: its thread has not made a snapshot in {SNAPSHOT_WAIT:g} s"
        ) from None


@router.get("/server", tags=["server"])
async def get_server(request: Request) -> dict[str, Any]:
    """Where this server runs: its version, the lab port range, the address it listens on,
    whether it runs in a container, and whether its lab ports are published.

    In a container, a lab server bound to 127.0.0.1 is out of reach of programs on the
    host; one bound to 0.0.0.0 is reached only when the lab ports are published
    (compose.lab-ports.yml, or host networking).
    """
    settings: Settings = request.app.state.settings
    low, high = settings.lab_ports
    return {
        "version": __version__,
        "lab_ports": [low, high],
        "in_container": settings.in_container,
        "lab_ports_published": settings.lab_ports_published,
        "host": settings.host,
    }


# A new lab's id feeds every lab route (OpenAPI links: what a stateful fuzzer follows).
_LAB_LINKS = {
    name: {"operationId": operation, "parameters": {"lab_id": "$response.body#/id"}}
    for name, operation in {
        "GetLab": "get_lab_api_labs__lab_id__get",
        "RunCommand": "post_command_api_labs__lab_id__commands_post",
        "GetEvents": "get_events_api_labs__lab_id__events_get",
        "GetScript": "get_script_api_labs__lab_id__script_get",
        "GetTrace": "get_trace_api_labs__lab_id__trace_get",
        "DeleteLab": "delete_lab_api_labs__lab_id__delete",
    }.items()
}


@router.post(
    "/labs",
    status_code=201,
    tags=["labs"],
    responses={
        201: {"description": "The new lab", "links": _LAB_LINKS},
        **error_responses(429, 503),
    },
)
async def create_lab(request: Request) -> dict[str, Any]:
    """Create a lab; its `id` is the key to everything else (keep it private). One client
    address holds at most 20 such labs and makes at most 30 a minute (429 says which)."""
    client = client_of(request)
    registry = registry_of(request)
    quota: LabQuota = request.app.state.lab_quota
    quota.admit(registry, client)
    lab = await asyncio.to_thread(registry.create)
    quota.mark(lab, client)
    return {"id": lab.id, "url": f"/labs/{lab.id}", "snapshot": await snapshot_of(lab)}


@router.get("/labs/{lab_id}", tags=["labs"], responses=room_errors(401, 403, 404, 503))
async def get_lab(request: Request, lab_id: str) -> dict[str, Any]:
    """The lab as it stands: every socket with its kernel figures, and the last `seq`."""
    return await snapshot_of(lab_or_404(request, lab_id))


@router.delete("/labs/{lab_id}", status_code=204, tags=["labs"], responses=error_responses(404))
async def delete_lab(request: Request, lab_id: str) -> Response:
    """Close the lab and every socket in it."""
    lab_or_404(request, lab_id)
    await asyncio.to_thread(registry_of(request).delete, lab_id)
    return Response(status_code=204)


@router.post(
    "/labs/{lab_id}/commands",
    tags=["commands"],
    responses=room_errors(401, 404, 409, 410, 415, 423, 429, 503),
    openapi_extra=_COMMAND_BODY,
)
async def post_command(
    request: Request,
    lab_id: str,
    command: Annotated[Any, Body(openapi_examples=_EXAMPLES)],
) -> JSONResponse:
    """Run one command (a socket method) and answer with what the kernel returned.

    The answer is `{"ok", "result", "error", "events"}`; `error` is null or
    `{"errno": "EAGAIN", "message": ...}` for a failed call, or `{"errno": null,
    "field": ..., "message": ...}` (with a 4xx status) for a refused command. A call
    on a blocking socket that has not returned within about a second answers
    `"blocked": true`; its completion arrives later as a `call` event. A lab too busy
    to get to the command at all (about 30 s) answers 503.
    """
    lab = drivable(request, lab_id)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        # A form or text/plain body is what another web site can make a browser send
        # without asking (no CORS preflight): commands must say they are JSON.
        raise UnsupportedBody(
            None,
            "send the command as JSON, with the header Content-Type: application/json"
            " (curl: -H 'content-type: application/json')",
        )
    answer = await run_command(lab, command, request.app.state.settings.command_wait)
    return JSONResponse(answer_body(answer), status_code=answer.status)


PREVIEW_MAX = 16  # commands in one preview: a form makes two or three


_PREVIEW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "commands": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Command"},
                            "maxItems": PREVIEW_MAX,
                        }
                    },
                    "required": ["commands"],
                    "additionalProperties": False,
                }
            }
        },
    }
}


@router.post(
    "/labs/{lab_id}/preview",
    tags=["commands"],
    responses=error_responses(404),
    openapi_extra=_PREVIEW_BODY,
)
async def post_preview(request: Request, lab_id: str, body: Annotated[Any, Body()]) -> Preview:
    """The Python lines a list of commands would run, checked as the lab checks them, and
    nothing run: what a form shows before its button is pressed. A refused command ends the
    list with its error (the answer is still 200: a preview is not a failed request)."""
    lab = lab_or_404(request, lab_id)
    commands = body.get("commands") if isinstance(body, dict) else None
    if not isinstance(commands, list) or set(body) != {"commands"}:
        raise BadPreview("commands", 'commands: send {"commands": [command, ...]}')
    if len(commands) > PREVIEW_MAX:
        raise BadPreview("commands", f"commands: at most {PREVIEW_MAX} in one preview")
    lines: list[str] = []
    policy = lab.engine.policy
    for index, raw in enumerate(commands):
        try:
            command = parse_command(raw, policy)
            if isinstance(command, Bind):
                policy.check_bind(*command.address)
            elif isinstance(command, Connect):
                policy.check_connect(*command.address)
            lines += preview(command, policy)
        except CommandError as exc:
            error = PreviewError(index=index, field=exc.field, message=exc.message)
            return Preview(lines=lines, error=error)
    return Preview(lines=lines, error=None)


@router.get(
    "/labs/{lab_id}/events",
    tags=["events"],
    responses=error_responses(404),
    response_model=dict[str, Any],
)
async def get_events(
    request: Request,
    lab_id: str,
    after: Annotated[int, Query(ge=0, description="the last seq you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Response:
    """A page of the event log: events with `seq > after`, oldest first.

    `gap` is set when the log no longer holds events you asked for (it keeps the
    newest ones); `next_after` is the cursor for the next page.
    """
    # Made of each event's JSON text (a lab host's, as it sent it), not parsed again.
    page = lab_or_404(request, lab_id).engine.log.wire_after(after, limit)
    gap = "null" if page.gap is None else f'{{"from":{page.gap[0]},"to":{page.gap[1]}}}'
    body = (
        f'{{"schema_version":{SCHEMA_VERSION},"events":[{",".join(page.texts)}],"gap":{gap},'
        f'"last_seq":{page.last_seq},"next_after":{page.last}}}'
    )
    return Response(body, media_type="application/json")


@router.get(
    "/labs/{lab_id}/script",
    tags=["events"],
    response_class=Response,
    responses={
        200: {
            "description": "A Python script",
            "content": {"text/x-python": {"schema": {"type": "string"}}},
        },
        **error_responses(404),
    },
)
async def get_script(request: Request, lab_id: str) -> Response:
    """The lab's commands as a standalone Python script (socket and select only) to run at home.

    It replays every command in order and prints what each call returned, as the lab did.
    """
    engine = lab_or_404(request, lab_id).engine
    text = render_script(list(engine.history), lab_id=lab_id, truncated=engine.history_truncated)
    headers = {"Content-Disposition": f'attachment; filename="sockscope-{lab_id[:8]}.py"'}
    return Response(text, media_type="text/x-python; charset=utf-8", headers=headers)


@router.get(
    "/labs/{lab_id}/trace",
    tags=["events"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One JSON event per line",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        **error_responses(404),
    },
)
async def get_trace(request: Request, lab_id: str) -> StreamingResponse:
    """The whole event log as JSON Lines (one event per line), to download."""
    log = lab_or_404(request, lab_id).engine.log
    end = log.last_seq

    def lines() -> Iterator[bytes]:
        cursor = 0
        while cursor < end:
            page = log.wire_after(cursor, 2000)
            # None past end (the log may have dropped up to past it while this was read).
            texts = page.texts[: max(0, len(page.texts) - max(0, page.last - end))]
            if not texts:
                return
            yield "".join(text + "\n" for text in texts).encode()
            cursor = page.last

    headers = {"Content-Disposition": f'attachment; filename="sockscope-{lab_id[:8]}.jsonl"'}
    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)


@router.get(
    "/labs/{lab_id}/capture.pcapng",
    tags=["events"],
    response_class=Response,
    responses={
        200: {
            "description": "The lab's captured segments, a pcapng file (Wireshark, tshark)",
            "content": {"application/x-pcapng": {"schema": {"type": "string"}}},
        },
        **error_responses(404, 409, 503),
    },
)
async def get_capture(request: Request, lab_id: str) -> Response:
    """The wire lane as a pcapng file: every segment the lab still holds, each commented
    with the call that caused it where the lab knows (409 when this server may not
    capture: the answer says why)."""
    lab = lab_or_404(request, lab_id)
    future = asyncio.wrap_future(lab.engine.capture_frames())
    try:
        copy = await asyncio.wait_for(future, SNAPSHOT_WAIT)
    except TimeoutError:
        raise LabBusy(None, f"the lab is busy: no capture in {SNAPSHOT_WAIT:g} s") from None
    if copy.status["state"] == "unavailable":
        raise Conflict(None, f"this lab captures nothing: {copy.status['reason']}")
    log = lab.engine.log

    def build() -> bytes:
        return capture_file(copy.frames, log.after(0, log.capacity * 2).events, lab.id)

    body = await asyncio.to_thread(build)
    headers = {"Content-Disposition": f'attachment; filename="sockscope-{lab_id[:8]}.pcapng"'}
    return Response(body, media_type="application/x-pcapng", headers=headers)
