"""The FastAPI application: labs over REST and websockets, and the built front end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from sockscope import __version__
from sockscope.api import instructor, lessons, metrics, room, routes, workbench, ws
from sockscope.api.hosts import HostCheck, SameOriginWrites
from sockscope.api.limits import BodyLimit, ServerErrors
from sockscope.api.quotas import LabQuota, ShapesGate
from sockscope.api.static import mount_ui
from sockscope.api.wire import (
    COMMON_ERRORS,
    WRITE_ERRORS,
    command_error_body,
    error_body,
    error_responses,
)
from sockscope.engine.core.errors import CommandError
from sockscope.labs.registry import LabRegistry
from sockscope.room.room import Room
from sockscope.room.store import FILE_NAME, RoomStore
from sockscope.settings import Settings

log = logging.getLogger(__name__)

REAP_EVERY = 30.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check()
    registry = LabRegistry(
        settings.lab_policy(),
        max_labs=settings.max_labs,
        idle_timeout=settings.idle_timeout,
        lab_hosts=settings.lab_hosts,
    )
    store = open_store(settings)
    the_room = Room(
        store,
        registry,
        instructor_token=settings.instructor_token,
        per_client=settings.participants_per_client,
        joins_per_minute=settings.joins_per_minute,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(registry.start)  # the lab hosts, with --lab-hosts
        reaper = asyncio.create_task(_reap_forever(registry))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await asyncio.to_thread(registry.close_all)
            store.close()

    app = FastAPI(
        title="Sockscope",
        version=__version__,
        summary="A playground for real TCP sockets: every call recorded, every buffer visible.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.room = the_room
    app.state.metrics = metrics.registry_for(registry, the_room)
    app.state.lab_quota = LabQuota(settings.labs_per_client, settings.labs_per_minute)
    app.state.shapes_gate = ShapesGate(settings.shapes_at_once)

    app.add_middleware(SameOriginWrites, allowed=settings.allowed_origins)
    # Outermost: a body over the limit is refused before any of it is parsed. Innermost (so
    # it sees a route's exception first): a bug is answered with the error body.
    app.add_middleware(ServerErrors)
    app.add_middleware(BodyLimit)
    # Outermost of all: a request to a name this server does not answer to (DNS rebinding)
    # is refused before anything reads it.
    app.add_middleware(HostCheck, allowed=settings.allowed_hosts)

    @app.exception_handler(CommandError)
    async def command_error(request: Request, exc: CommandError) -> Response:
        return JSONResponse(command_error_body(exc), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = str(first.get("msg", "invalid request"))
        if first.get("type") == "json_invalid":
            where, message = None, "the request body is not valid JSON"
        return JSONResponse(error_body(where, message), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        """Starlette's own refusals (no such route, method not allowed, a body it cannot
        parse) answer with the same error body as every other."""
        return JSONResponse(
            error_body(None, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, object]:
        return {"ok": True, "labs": len(registry), "version": __version__}

    app.include_router(routes.router)
    app.include_router(lessons.router)
    app.include_router(workbench.router)
    app.include_router(ws.router)
    app.include_router(room.router)
    app.include_router(instructor.router)
    app.include_router(metrics.router)
    _mount_ui(app, settings)
    _document_errors(app)
    return app


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document says what the app answers: the error body for 400 (never FastAPI's
    422), 413 and 500 on every operation, 403 on every write; each route adds its own (404,
    503, ...) with ``responses=``."""
    base = app.openapi
    common = error_responses(*COMMON_ERRORS, *WRITE_ERRORS)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = base()
        ref = {"$ref": "#/components/schemas/ErrorBody"}
        for path in document.get("paths", {}).values():
            for method, operation in path.items():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                writes = method in ("post", "put", "delete")
                statuses = COMMON_ERRORS + (WRITE_ERRORS if writes else ())
                for status in statuses:
                    responses.setdefault(
                        str(status),
                        {
                            "description": common[status]["description"],
                            "content": {"application/json": {"schema": ref}},
                        },
                    )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        clash = set(schemas) & set(routes.COMMAND_COMPONENTS)
        assert not clash, f"schema names used twice: {sorted(clash)}"
        schemas.update(routes.COMMAND_COMPONENTS)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_ui(app: FastAPI, settings: Settings) -> None:
    """The built front end (gzip, cache policy, the page's routes): see api/static.py."""
    app.state.shell = mount_ui(app, settings.static_dir)


def open_store(settings: Settings) -> RoomStore:
    """The room's database in the data folder (made if missing); in memory without one.

    Raises OSError or sqlite3.Error when the folder cannot hold it (the command says so).
    """
    if settings.data_dir is None:
        return RoomStore(None)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return RoomStore(settings.data_dir / FILE_NAME)


async def _reap_forever(registry: LabRegistry) -> None:
    while True:
        await asyncio.sleep(REAP_EVERY)
        try:
            reaped = await asyncio.to_thread(registry.reap)
        except Exception:
            log.exception("reaping labs failed")
            continue
        if reaped:
            log.info("reaped %d idle labs", len(reaped))
