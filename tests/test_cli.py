"""The sockscope command: flags, environment, and clear errors for bad settings."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import IO

import pytest
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

from sockscope.cli import main, settings_from
from sockscope.settings import Settings, from_env


def test_defaults_are_local_and_narrow() -> None:
    settings = settings_from([])
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.lab_ports == (20000, 20999)
    assert settings.allow_connect == ()


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKSCOPE_PORT", "9000")
    monkeypatch.setenv("SOCKSCOPE_LAB_PORTS", "41000-41010")
    monkeypatch.setenv("SOCKSCOPE_ALLOW_CONNECT", "10.0.0.0/24, 192.168.1.0/24")
    settings = settings_from(["--port", "9100", "--host", "0.0.0.0"])
    assert (settings.host, settings.port, settings.lab_ports) == ("0.0.0.0", 9100, (41000, 41010))
    assert settings.allow_connect == ("10.0.0.0/24", "192.168.1.0/24")
    assert settings.lab_policy().port_max == 41010


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--lab-ports", "40100-40000"], "not a port range"),
        (["--port", "20005"], "inside the lab port range"),
        (["--allow-connect", "10.0.0.300/8"], "10.0.0.300"),
    ],
)
def test_bad_settings_exit_with_a_message(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert words in capsys.readouterr().err


def test_env_parsing_is_typed() -> None:
    found = from_env({"SOCKSCOPE_MAX_LABS": "5", "SOCKSCOPE_IDLE_TIMEOUT": "2.5", "OTHER": "x"})
    assert found == {"max_labs": 5, "idle_timeout": 2.5}
    assert Settings(**found).max_labs == 5  # type: ignore[arg-type]


def test_the_installed_command_answers_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sockscope", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and "--lab-ports" in done.stdout


@dataclass
class Served:
    """``sockscope`` running as a user starts it: its banner, its URL, what it said after."""

    proc: subprocess.Popen[str]
    banner: str = ""
    base: str = ""
    rest: str = ""


@contextlib.contextmanager
def serving(*args: str) -> Iterator[Served]:
    """The command on port 0 with a data folder of its own, until its whole banner is out;
    stopped with SIGTERM at the end (what it wrote after the banner lands in ``rest``)."""
    data = tempfile.mkdtemp(prefix="sockscope-cli-")  # the room's file, not the user's
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockscope", "--port", "0", "--data-dir", data, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(proc)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while "the room is kept in" not in served.banner:
            assert time.monotonic() < deadline and proc.poll() is None, served.banner
            served.banner += proc.stdout.readline()
        found = re.search(r"open http://127\.0\.0\.1:(\d+)/", served.banner)
        assert found, served.banner
        assert found.group(1) != "0"
        served.base = f"http://127.0.0.1:{found.group(1)}"
        yield served
        proc.send_signal(signal.SIGTERM)
        served.rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_the_command_serves_names_its_real_port_and_stops_cleanly_on_sigterm() -> None:
    """Port 0 gets a free port and the banner names it; health checks leave no access line."""
    with serving() as served:
        for path in ("/healthz", "/healthz", "/api/lessons"):
            with urllib.request.urlopen(f"{served.base}{path}", timeout=5) as resp:
                assert resp.status == 200
    assert served.proc.returncode == 0, served.rest
    assert '"GET /api/lessons HTTP/1.1" 200' in served.rest, served.rest
    assert "/healthz" not in served.rest, served.rest


OBSERVER = "observer-link-secret-0123456789"


def test_json_logs_carry_the_lab_and_no_log_line_carries_a_token() -> None:
    """--log-format json: one object a line (the banner stays text, for people), with the lab
    id where a line is about a lab; the instructor's ?token= never reaches the access log."""
    token = "json-log-token-0123456789"
    with serving("--log-format", "json", "--instructor-token", token) as served:
        made = urllib.request.urlopen(
            urllib.request.Request(f"{served.base}/api/labs", method="POST"), timeout=5
        )
        lab = json.loads(made.read())["id"]
        try:  # the instructor's link: 303 to /instructor (not followed here)
            urllib.request.build_opener(NoRedirect).open(
                f"{served.base}/instructor?token={token}", timeout=5
            )
        except urllib.error.HTTPError as exc:
            assert exc.code == 303
        # An observer link's viewer: uvicorn logs the handshake, path and query, on
        # uvicorn.error ('"WebSocket /api/labs/...?observe=..." 403'), not the access log.
        ws_url = served.base.replace("http://", "ws://")
        with (
            contextlib.suppress(WebSocketException, OSError),
            ws_connect(f"{ws_url}/api/labs/{lab}/ws?observe={OBSERVER}", open_timeout=5) as ws,
        ):
            ws.recv(timeout=5)  # refused: an unknown observer token
    lines = [json.loads(line) for line in served.rest.splitlines() if line.strip()]
    assert all({"t", "level", "logger", "message"} <= set(line) for line in lines)
    created = [line for line in lines if "created" in line["message"] and "lab" in line]
    assert created and created[0]["lab"] == lab[:8]
    access = [line["message"] for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/instructor?token=…" in message for message in access), access
    assert token not in served.rest
    handshakes = [line["message"] for line in lines if "WebSocket" in line["message"]]
    assert any("observe=…" in message for message in handshakes), handshakes
    assert OBSERVER not in served.rest


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None
