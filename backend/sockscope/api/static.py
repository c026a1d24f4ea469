"""The built front end, served like a product: gzip, a cache policy and the page's routes.

Vite writes ``index.html`` (the shell) and content-hashed files under ``assets/``. A hashed
file never changes under its name, so browsers may keep it for a year without asking
again (``immutable``); the shell names the current hashes, so it is revalidated on every
load (``no-cache`` with an ETag: a 304 when nothing changed). Each file is read and
gzipped once, in a worker thread, and kept in memory until the file on disk changes (a
rebuild); browsers that do not accept gzip get it plain. Only these files are
compressed: the API's responses and the websockets are left as they are.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The routes App.svelte draws; /instructor is served by api/instructor.py (it swaps a token
# for a cookie first), with the shell mount_ui returns.
SHELL_ROUTES = ("/", "/labs/{lab_id}", "/lessons", "/projector", "/join", "/join/{code}")
MIN_GZIP_SIZE = 256  # smaller bodies gain nothing from gzip's 18-byte frame
GZIP_LEVEL = 9  # paid once per file per build
TEXT_TYPES = ("application/javascript", "application/json", "image/svg+xml")

NO_UI = """<!doctype html><meta charset="utf-8"><title>Sockscope</title>
<h1>Sockscope</h1><p>The API is running. The web interface has not been built:
run <code>make run</code> (it builds it), or see <a href="/docs">the API documentation</a>.</p>
"""


@dataclass(frozen=True, slots=True)
class BuiltFile:
    """One file of the build as it is on disk now, and its gzip (when that is smaller)."""

    stamp: tuple[int, int]  # (mtime_ns, size): a rebuild changes it
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str  # of the plain body, without quotes
    last_modified: str

    @classmethod
    def read(cls, path: Path) -> BuiltFile:
        stat = path.stat()
        body = path.read_bytes()
        media_type = media_type_of(path)
        gzipped = None
        if len(body) >= MIN_GZIP_SIZE and compressible(media_type):
            packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            gzipped = packed if len(packed) < len(body) else None
        return cls(
            stamp=(stat.st_mtime_ns, stat.st_size),
            body=body,
            gzipped=gzipped,
            media_type=media_type,
            etag=hashlib.blake2b(body, digest_size=12).hexdigest(),
            last_modified=formatdate(stat.st_mtime, usegmt=True),
        )


def media_type_of(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind == "text/javascript":
        kind = "application/javascript"
    return f"{kind}; charset=utf-8" if compressible(kind) else kind


def compressible(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.partition(";")[0] in TEXT_TYPES


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (``gzip;q=0`` refuses it, ``*`` allows)."""
    allowed: dict[str, bool] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[coding] = q > 0
    if "gzip" in allowed:
        return allowed["gzip"]
    if "x-gzip" in allowed:
        return allowed["x-gzip"]
    return allowed.get("*", False)


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match against our quoted ETag (weak comparison, as RFC 9110 asks for GET)."""
    if not header:
        return False
    for item in header.split(","):
        tag = item.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


class BuiltUI:
    """The build folder; files are read (and gzipped) once per change, in a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.assets = root / "assets"
        self._files: dict[Path, BuiltFile] = {}

    def asset_path(self, name: str) -> Path | None:
        """The file ``/assets/<name>`` names, if it is one inside assets/ (no ``..`` escapes)."""
        if not name or "\\" in name or "\x00" in name:
            return None
        path = self.assets / name
        try:
            if not path.resolve().is_relative_to(self.assets.resolve()):
                return None
        except (OSError, RuntimeError):
            return None
        return path if path.is_file() else None

    async def file(self, path: Path) -> BuiltFile | None:
        try:
            stat = path.stat()
        except OSError:  # gone with a rebuild: so is its copy in memory
            self._files.pop(path, None)
            return None
        cached = self._files.get(path)
        if cached is not None and cached.stamp == (stat.st_mtime_ns, stat.st_size):
            return cached
        try:
            built = await asyncio.to_thread(BuiltFile.read, path)
        except OSError:  # removed by a rebuild between stat() and read()
            return None
        self._files[path] = built
        return built


def respond(request: Request, built: BuiltFile, cache_control: str) -> Response:
    """``built`` as the request asks for it: gzip or plain, or 304 when the ETag matches."""
    use_gzip = built.gzipped is not None and accepts_gzip(
        request.headers.get("accept-encoding", "")
    )
    etag = f'"{built.etag}-gz"' if use_gzip else f'"{built.etag}"'
    headers = {"Cache-Control": cache_control, "ETag": etag, "Last-Modified": built.last_modified}
    if built.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if use_gzip:
        assert built.gzipped is not None
        headers["Content-Encoding"] = "gzip"
        return Response(built.gzipped, media_type=built.media_type, headers=headers)
    return Response(built.body, media_type=built.media_type, headers=headers)


Shell = Callable[[Request], Awaitable[Response]]


def mount_ui(app: FastAPI, root: Path) -> Shell:
    """Serve the build in ``root``: its hashed assets, and the shell on the page's routes;
    returns the shell's handler, for a page route that does something first.

    The folder is looked at per request, so a build made after the server started is served
    (and the "not built" page is shown until there is one).
    """
    ui = BuiltUI(root)

    async def asset(request: Request, name: str) -> Response:
        path = ui.asset_path(name)
        built = await ui.file(path) if path is not None else None
        if built is None:
            return Response(
                "no such file in this build\n",
                status_code=404,
                media_type="text/plain; charset=utf-8",
                headers={"Cache-Control": REVALIDATE},
            )
        return respond(request, built, IMMUTABLE)

    async def shell(request: Request) -> Response:
        built = await ui.file(root / "index.html")
        if built is None:
            return Response(NO_UI, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": REVALIDATE})  # fmt: skip
        return respond(request, built, REVALIDATE)

    methods = ["GET", "HEAD"]
    app.add_api_route("/assets/{name:path}", asset, methods=methods, include_in_schema=False)
    for route in SHELL_ROUTES:
        app.add_api_route(route, shell, methods=methods, include_in_schema=False)
    return shell
