from __future__ import annotations

from collections.abc import Iterator

import pytest

from sockscope.settings import Settings

import live as live_module
from live import LiveServer, serve

__all__ = ["LiveServer", "serve"]

# These modules run twice: labs in the web process (0), and in two lab-host processes
# (--lab-hosts 2, labs/host.py). Every server they start (``serve``, the room's) gets it.
WITH_LAB_HOSTS = {
    "test_rest",
    "test_ws",
    "test_rows",
    "test_resume",
    "test_room_votes",
    "test_room_labs",
    "test_room_join",
    "test_room_mirror",
    "test_capture_download",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rpartition(".")[2] in WITH_LAB_HOSTS:
        metafunc.parametrize(
            "lab_hosts", [0, 2], ids=["in-process", "lab-hosts"], indirect=True, scope="module"
        )


@pytest.fixture(scope="module", autouse=True)
def lab_hosts(request: pytest.FixtureRequest) -> Iterator[int]:
    hosts: int = getattr(request, "param", 0)
    before, live_module.LAB_HOSTS = live_module.LAB_HOSTS, hosts
    try:
        yield hosts
    finally:
        live_module.LAB_HOSTS = before


@pytest.fixture(scope="module")
def live(lab_hosts: int) -> Iterator[LiveServer]:
    yield from serve(Settings(command_wait=1.0))
