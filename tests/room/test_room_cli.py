"""The command prints the instructor's URL and the join code, and keeps the room in its data dir."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sockscope.cli import settings_from
from sockscope.settings import default_data_dir, from_env

TOKEN = "a-fixed-token-for-the-cli-test"


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockscope", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    banner = ""
    while "the room is kept in" not in banner:
        assert time.monotonic() < deadline and proc.poll() is None, f"no room banner: {banner!r}"
        banner += proc.stdout.readline()
    port = re.search(r"open http://127\.0\.0\.1:(\d+)/", banner)
    assert port, banner
    # Until uvicorn serves, a SIGTERM would meet the do-nothing handler cli.main installs.
    with urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/healthz", timeout=10):
        pass
    return proc, banner


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, rest
    return rest


def test_the_banner_names_the_instructor_url_and_the_join_code(tmp_path: Path) -> None:
    proc, banner = start("--data-dir", str(tmp_path), "--instructor-token", TOKEN)
    try:
        found = re.search(
            r"instructor: (http://127\.0\.0\.1:(\d+)/instructor\?token=(\S+))", banner
        )
        assert found, banner
        assert found.group(3) == TOKEN
        port = found.group(2)
        code = re.search(r"join: http://127\.0\.0\.1:\d+/join  code ([A-Z0-9]{6})", banner)
        assert code, banner
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/room", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert b'"code":"' + code.group(1).encode() in response.read()
        assert f"the room is kept in {tmp_path / 'room.sqlite3'}" in banner
    finally:
        stop(proc)
    assert (tmp_path / "room.sqlite3").exists()


def test_a_data_dir_that_cannot_be_written_leaves_the_room_in_memory_and_says_so(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    proc, banner = start("--data-dir", str(blocked / "room"))
    try:
        assert "WARNING: cannot keep the room in" in banner
        assert "the room is kept in memory only" in banner
        assert re.search(r"instructor: http://\S+/instructor\?token=\S{20,}", banner)
    finally:
        stop(proc)


def test_the_room_settings_come_from_flags_and_the_environment(tmp_path: Path) -> None:
    env = {
        "SOCKSCOPE_DATA_DIR": str(tmp_path),
        "SOCKSCOPE_INSTRUCTOR_TOKEN": TOKEN,
        "SOCKSCOPE_PARTICIPANTS_PER_CLIENT": "40",
        "SOCKSCOPE_JOINS_PER_MINUTE": "200",
    }
    assert from_env(env) == {
        "data_dir": tmp_path,
        "instructor_token": TOKEN,
        "participants_per_client": 40,
        "joins_per_minute": 200,
    }
    assert default_data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/sockscope")
    assert default_data_dir({"HOME": "/home/ada"}) == Path("/home/ada/.local/share/sockscope")
    settings = settings_from(["--data-dir", str(tmp_path / "d"), "--instructor-token", TOKEN])
    assert settings.data_dir == tmp_path / "d" and settings.instructor_token == TOKEN
