"""GET /api/server says where the server runs; a lab too busy to answer says so with 503."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sockscope import __version__
from sockscope.api.app import create_app
from sockscope.engine import machine
from sockscope.labs import bridge
from sockscope.settings import Settings, detect_in_container, from_env

from live import LiveServer, serve


@pytest.fixture(scope="module")
def in_a_container() -> Iterator[LiveServer]:
    settings = Settings(
        host="0.0.0.0", lab_ports=(41000, 41099), in_container=True, lab_ports_published=True
    )
    yield from serve(settings)


def test_the_server_says_where_it_runs(in_a_container: LiveServer) -> None:
    response = in_a_container.client.get("/api/server")
    assert response.status_code == 200
    assert response.json() == {
        "version": __version__,
        "lab_ports": [41000, 41099],
        "in_container": True,
        "lab_ports_published": True,
        "host": "0.0.0.0",
    }


def test_the_server_info_is_read_only(in_a_container: LiveServer) -> None:
    assert in_a_container.client.post("/api/server").status_code == 405


def test_outside_a_container_it_says_so(live: LiveServer) -> None:
    # The module-wide server of tests/api (conftest) runs with the settings' defaults.
    body = live.client.get("/api/server").json()
    assert body["in_container"] is detect_in_container()
    assert body["host"] == "127.0.0.1" and body["lab_ports"] == list(Settings().lab_ports)


def test_detection_reads_dockerenv(tmp_path: Path) -> None:
    assert detect_in_container(tmp_path) is False
    (tmp_path / ".dockerenv").touch()
    assert detect_in_container(tmp_path) is True


def test_detection_reads_podmans_containerenv(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".containerenv").touch()
    assert detect_in_container(tmp_path) is True


@pytest.mark.parametrize(
    ("cgroup", "inside"),
    [
        ("12:pids:/docker/0123abcd\n0::/system.slice/docker-0123abcd.scope\n", True),
        ("0::/system.slice/containerd.service\n", True),
        ("0::/init.scope\n", False),
        ("0::/\n", False),  # cgroup v2 in a private namespace: no name to go by
    ],
)
def test_detection_reads_the_cgroup_of_process_1(tmp_path: Path, cgroup: str, inside: bool) -> None:
    (tmp_path / "proc" / "1").mkdir(parents=True)
    (tmp_path / "proc" / "1" / "cgroup").write_text(cgroup)
    assert detect_in_container(tmp_path) is inside


def test_the_environment_overrides_detection() -> None:
    assert from_env({"SOCKSCOPE_IN_CONTAINER": "1"}) == {"in_container": True}
    assert from_env({"SOCKSCOPE_IN_CONTAINER": "0"}) == {"in_container": False}
    assert from_env({"SOCKSCOPE_LAB_PORTS_PUBLISHED": "1"}) == {"lab_ports_published": True}
    assert Settings(**from_env({"SOCKSCOPE_IN_CONTAINER": "0"})).in_container is False  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SOCKSCOPE_IN_CONTAINER"):
        from_env({"SOCKSCOPE_IN_CONTAINER": "maybe"})


def test_the_default_is_detected() -> None:
    assert Settings().in_container is detect_in_container()


def test_a_lab_too_busy_to_reach_a_command_answers_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge, "BUSY_WAIT", 0.3)
    app = create_app(Settings(command_wait=0.05))

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            lab_id = (await client.post("/api/labs")).json()["id"]
            lab = app.state.registry.get(lab_id)
            release = threading.Event()
            lab.engine.post(lambda: release.wait(20))  # the lab thread is held, on purpose
            try:
                return await client.post(
                    f"/api/labs/{lab_id}/commands", json={"op": "socket", "name": "late"}
                )
            finally:
                release.set()

    try:
        response = asyncio.run(asyncio.wait_for(go(), 20))
    finally:
        app.state.registry.close_all()
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["error"]["message"].startswith("the lab is busy")
    assert "try again" in body["error"]["message"]


def test_the_engine_reads_the_variable_and_the_files_alike(tmp_path: Path) -> None:
    assert machine.in_container(tmp_path, environ={"SOCKSCOPE_IN_CONTAINER": "1"}) is True
    (tmp_path / ".dockerenv").touch()
    assert machine.in_container(tmp_path, environ={"SOCKSCOPE_IN_CONTAINER": "0"}) is False
    assert machine.in_container(tmp_path, environ={}) is True
