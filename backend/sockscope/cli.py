"""The ``sockscope`` command: settings in, uvicorn out."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sockscope import __version__, heap, logs
from sockscope.logs import FORMATS
from sockscope.portrange import ephemeral_range, lab_range_note, reserved_ports
from sockscope.room.addresses import shown_hosts
from sockscope.room.store import FILE_NAME
from sockscope.settings import Settings, default_data_dir, from_env, parse_port_range

if TYPE_CHECKING:
    from sockscope.room.room import Room


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sockscope", description="A visual playground for real TCP sockets."
    )
    parser.add_argument(
        "--host", help="address to serve on (default 127.0.0.1; 0.0.0.0 for a workshop LAN)"
    )
    parser.add_argument("--port", type=int, help="HTTP port (default 8000)")
    parser.add_argument(
        "--lab-ports",
        type=parse_port_range,
        metavar="FROM-TO",
        help="ports lab sockets may bind (default 20000-20999, below the kernel's ephemeral range)",
    )
    parser.add_argument(
        "--allow-connect",
        action="append",
        metavar="CIDR",
        help="let lab clients connect to this network too (repeatable)",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        metavar="ORIGIN",
        help="accept websockets from this Origin too (repeatable)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="answer to this host name too, besides IP addresses and localhost (repeatable)",
    )
    parser.add_argument("--max-labs", type=int, help="labs at most (default 120)")
    parser.add_argument("--max-sockets", type=int, help="sockets per lab at most (default 16)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="reap a lab idle this long with nobody watching (default 1800)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="keep the room (roster, answers) in DIR/room.sqlite3"
        " (default ~/.local/share/sockscope)",
    )
    parser.add_argument(
        "--instructor-token",
        metavar="TOKEN",
        help="the instructor's token (default: a new random one at each start)",
    )
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        help="text lines (default), or one JSON object a line with the lab id where there is one",
    )
    parser.add_argument(
        "--lab-hosts",
        type=int,
        metavar="N",
        help="run the labs in N lab-host processes, each with its own descriptors (default 0:"
        " in this process)",
    )
    parser.add_argument("--version", action="version", version=f"sockscope {__version__}")
    return parser


def settings_from(argv: list[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    values = from_env()
    flags = {
        "host": args.host,
        "port": args.port,
        "lab_ports": args.lab_ports,
        "allow_connect": tuple(args.allow_connect) if args.allow_connect else None,
        "allowed_origins": tuple(args.allowed_origin) if args.allowed_origin else None,
        "allowed_hosts": tuple(args.allowed_host) if args.allowed_host else None,
        "max_labs": args.max_labs,
        "max_sockets": args.max_sockets,
        "idle_timeout": args.idle_timeout,
        "data_dir": args.data_dir,
        "instructor_token": args.instructor_token,
        "log_format": args.log_format,
        "lab_hosts": args.lab_hosts,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    values.setdefault("data_dir", default_data_dir())
    settings = Settings(**values)  # type: ignore[arg-type]
    settings.check()
    return settings


def main(argv: list[str] | None = None) -> int:
    try:
        settings = settings_from(argv)
    except ValueError as exc:
        print(f"sockscope: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from sockscope.api.app import create_app
    from sockscope.api.wire import MAX_WS_MESSAGE

    logs.setup(settings.log_format)
    try:
        app = create_app(settings)
    except (OSError, sqlite3.Error) as exc:
        # A workshop must still start: say loudly that a restart will lose the room.
        print(
            f"sockscope: WARNING: cannot keep the room in {settings.data_dir} ({exc}); it is"
            " kept in memory only, so a restart loses the roster and the answers"
            " (give a writable --data-dir / SOCKSCOPE_DATA_DIR)",
            file=sys.stderr,
            flush=True,
        )
        settings = dataclasses.replace(settings, data_dir=None)
        app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_per_message_deflate=False,  # deflate costs CPU for little gain on a LAN
        ws_max_size=MAX_WS_MESSAGE,  # a bigger message closes the socket (1009) unread
        log_level="info",
        # JSON: uvicorn's loggers go through the root's formatter (logs.py), not its own.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )
    # The access log, and uvicorn's websocket lines ('"WebSocket /api/labs/...?observe=..."
    # [accepted]'), which go to uvicorn.error.
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(logs.RedactTokens())
    # The container's health check asks every second or two: one access line each would bury
    # the log an instructor reads.
    logging.getLogger("uvicorn.access").addFilter(_not_health_checks)
    try:
        sock = config.bind_socket()  # bound here, so the banner shows the real port (even for 0)
    except SystemExit:
        return 1  # uvicorn has logged why (address in use, ...)
    sock.listen(config.backlog)  # a browser opened from the banner waits instead of being refused
    _banner(settings, sock.getsockname()[1])
    _room_banner(settings, sock.getsockname()[1], app.state.room)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again for the
    # handler it found. A stop asked for is a clean exit (code 0, as `docker compose down`
    # expects), so the handler it finds is one that does nothing.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped)
    heap.settle()
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _stopped(signum: int, frame: object) -> None:
    """The server has already shut down when this runs (see main)."""


def _not_health_checks(record: logging.LogRecord) -> bool:
    args = record.args
    return not (isinstance(args, tuple) and len(args) > 2 and args[2] == "/healthz")


def _room_banner(settings: Settings, port: int, room: Room) -> None:
    """The instructor's URL (with its token) and where participants join, after the banner."""
    hosts = shown_hosts(settings.host, settings.in_container)
    for host in hosts:
        print(f"  instructor: http://{host}:{port}/instructor?token={room.instructor_token}",
              flush=True)  # fmt: skip
    for host in hosts:
        print(f"  join: http://{host}:{port}/join  code {room.code}", flush=True)
    kept = settings.data_dir / FILE_NAME if settings.data_dir else "memory only"
    print(f"  the room is kept in {kept}", flush=True)


def _banner(settings: Settings, port: int) -> None:
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    low, high = settings.lab_ports
    print(f"Sockscope {__version__}: open http://{shown}:{port}/ in a browser", flush=True)
    print(f"  API documentation: http://{shown}:{port}/docs", flush=True)
    print(f"  {lab_range_note((low, high), ephemeral_range(), reserved_ports())}", flush=True)
    if settings.host in ("0.0.0.0", ""):
        print(
            "  listening on every address: participants use this machine's LAN address", flush=True
        )
