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

from sockscope import __version__
from sockscope.api import lessons, routes, workbench, ws
from sockscope.api.static import mount_ui
from sockscope.api.wire import origin_allowed
from sockscope.engine.core.errors import CommandError
from sockscope.labs.registry import LabRegistry
from sockscope.settings import Settings

log = logging.getLogger(__name__)

REAP_EVERY = 30.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check()
    registry = LabRegistry(
        settings.lab_policy(), max_labs=settings.max_labs, idle_timeout=settings.idle_timeout
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = asyncio.create_task(_reap_forever(registry))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await asyncio.to_thread(registry.close_all)

    app = FastAPI(
        title="Sockscope",
        version=__version__,
        summary="A playground for real TCP sockets: every call recorded, every buffer visible.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry

    @app.middleware("http")
    async def same_origin_writes(request: Request, call_next: Any) -> Response:
        """A page from another site must not create, drive or delete labs.

        Browsers send Origin with a cross-site POST; curl and scripts send none.
        """
        if request.method in ("POST", "PUT", "DELETE") and not origin_allowed(
            request.headers.get("origin"), request.headers.get("host"), settings.allowed_origins
        ):
            return JSONResponse(
                {"ok": False, "result": None, "events": [], "error": {"errno": None,
                 "field": None, "message": "requests from another site's page are refused"}},
                status_code=403,
            )  # fmt: skip
        response: Response = await call_next(request)
        return response

    @app.exception_handler(CommandError)
    async def command_error(request: Request, exc: CommandError) -> Response:
        return JSONResponse(
            {
                "ok": False,
                "result": None,
                "error": {"errno": None, "field": exc.field, "message": exc.message},
                "events": [],
            },
            status_code=exc.status,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = str(first.get("msg", "invalid request"))
        if first.get("type") == "json_invalid":
            where, message = None, "the request body is not valid JSON"
        return JSONResponse(
            {
                "ok": False,
                "result": None,
                "error": {"errno": None, "field": where, "message": message},
                "events": [],
            },
            status_code=400,
        )

    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, object]:
        return {"ok": True, "labs": len(registry), "version": __version__}

    app.include_router(routes.router)
    app.include_router(lessons.router)
    app.include_router(workbench.router)
    app.include_router(ws.router)
    _mount_ui(app, settings)
    return app


def _mount_ui(app: FastAPI, settings: Settings) -> None:
    """The built front end (gzip, cache policy, the page's routes): see api/static.py."""
    mount_ui(app, settings.static_dir)


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
