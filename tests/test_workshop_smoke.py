"""The workshop smoke check passes against this tree's server, and fails when it should."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sockscope.settings import Settings

from live import LiveServer, serve
from workshop_smoke import Smoke, SmokeFailure, run_all

LESSON_FILES = len(
    list((Path(__file__).parents[1] / "backend/sockscope/lessons/data").glob("*.toml"))
)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    yield from serve(Settings())


def test_every_check_passes_against_a_real_server(server: LiveServer) -> None:
    done = run_all(server.url, lessons=LESSON_FILES, reach_host="127.0.0.1")
    assert len(done) == 6, done
    assert all(line.startswith("ok  ") for line in done), done


def test_it_fails_when_a_lesson_is_missing(server: LiveServer) -> None:
    with pytest.raises(SmokeFailure, match="lessons"):
        Smoke(server.url).lessons_listed(LESSON_FILES + 1)


def test_it_fails_when_nothing_serves(server: LiveServer) -> None:
    smoke = Smoke("http://127.0.0.1:9", timeout=1)  # discard port: nothing listens
    with pytest.raises(OSError):
        smoke.ui_served()
