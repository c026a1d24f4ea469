"""The instructor's way in: the token URL printed at start-up, and what the projector shows.

``GET /instructor?token=...`` swaps the token for an HttpOnly, SameSite=Strict cookie and
redirects to ``/instructor`` without it, so the token leaves the address bar (and the
history, and a screen shared on the projector); scripts send ``Authorization: Bearer``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sockscope.api.access import INSTRUCTOR_COOKIE, require_instructor, room_errors, room_of
from sockscope.api.static import Shell
from sockscope.contract.room import JoinInfo
from sockscope.room.addresses import shown_hosts

router = APIRouter()

WRONG_TOKEN = """<!doctype html><meta charset="utf-8"><title>Sockscope: wrong token</title>
<h1>Not the instructor's token</h1><p>This link's token is not the one this server printed at
start-up (a restart makes a new one unless <code>--instructor-token</code> fixes it). Copy the
<code>instructor:</code> line from the server's output
(<code>docker compose logs sockscope | grep instructor</code>).</p>
"""


@router.get("/instructor", include_in_schema=False)
async def instructor_page(request: Request, token: str | None = None) -> Response:
    if token is not None:
        if not room_of(request).is_instructor(token):
            return HTMLResponse(WRONG_TOKEN, status_code=401)
        response = RedirectResponse("/instructor", status_code=303)
        response.set_cookie(INSTRUCTOR_COOKIE, token, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    shell: Shell = request.app.state.shell
    return await shell(request)


@router.get("/api/room/join-info", tags=["room"], responses=room_errors(401))
async def join_info(request: Request) -> JoinInfo:
    """The join code and URL as the projector shows them (instructor: the projector page is
    opened by the instructor). ``url`` is this server as the request reached it."""
    require_instructor(request)
    room = room_of(request)
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    port = request.url.port or 80
    settings = request.app.state.settings
    urls = [f"http://{h}:{port}/join" for h in shown_hosts(settings.host, settings.in_container)]
    return {"code": room.code, "url": f"{request.url.scheme}://{host}/join", "urls": urls}
