"""Labs in lab-host processes (--lab-hosts, labs/host.py and labs/remote.py): a host that
dies takes only its own labs; a lesson runs in a host as it runs in the web process."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lessonkit import run_to_end
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from sockscope.cli import settings_from
from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.policy import LabPolicy
from sockscope.events import CheckOutcome
from sockscope.labs.registry import LabRegistry
from sockscope.labs.remote import HostProcess, RemoteEngine
from sockscope.lessons.model import find_lesson
from sockscope.settings import Settings, from_env

from helpers import wait_until
from live import LiveServer, serve
from roomkit import room_server


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    yield from serve(Settings(command_wait=1.0, lab_hosts=2))


def engine_of(live: LiveServer, lab_id: str) -> RemoteEngine:
    lab = live.app.state.registry.get(lab_id)
    assert lab is not None and isinstance(lab.engine, RemoteEngine)
    return lab.engine


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_default_is_labs_in_the_web_process() -> None:
    assert Settings().lab_hosts == 0
    assert LabRegistry(LabPolicy(), max_labs=1, idle_timeout=1).hosts is None
    assert settings_from(["--lab-hosts", "3"]).lab_hosts == 3
    assert from_env({"SOCKSCOPE_LAB_HOSTS": "2"}) == {"lab_hosts": 2}
    with pytest.raises(ValueError, match="lab hosts"):
        Settings(lab_hosts=-1).check()


def test_labs_go_to_the_least_loaded_host(live: LiveServer) -> None:
    labs = [live.new_lab() for _ in range(4)]
    hosts = [engine_of(live, lab).host for lab in labs]
    assert len({h.pid for h in hosts}) == 2
    assert all(h.pid != os.getpid() and alive(h.pid) for h in hosts)
    assert sorted(h.load() for h in {h.pid: h for h in hosts}.values()) == [2, 2]
    for lab in labs:
        live.client.delete(f"/api/labs/{lab}")


def test_a_dead_host_takes_only_its_labs_and_is_replaced(live: LiveServer) -> None:
    first, second = live.new_lab(), live.new_lab()
    victim, survivor = engine_of(live, first).host, engine_of(live, second).host
    assert victim.pid != survivor.pid
    for lab in (first, second):
        live.ok(lab, {"op": "socket", "name": "srv"})
        live.ok(lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
        live.ok(lab, {"op": "listen", "socket": "srv", "backlog": 4})
    with connect(f"{live.ws_url}/api/labs/{first}/ws") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "lab/snapshot"
        os.kill(victim.pid, signal.SIGKILL)
        kinds: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = json.loads(ws.recv(timeout=10))
                kinds += [e["kind"] for e in message.get("events", [])]
        assert "lab_closed" in kinds  # the viewer is told
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410
    gone = live.command(first, {"op": "socket", "name": "again"})
    assert gone.status_code in (404, 410), gone.text
    assert live.client.get(f"/api/labs/{first}").status_code == 404
    # The other host's lab did not notice.
    assert alive(survivor.pid)
    live.ok(second, {"op": "socket", "name": "cli"})
    snapshot = live.client.get(f"/api/labs/{second}").json()
    assert [s["name"] for s in snapshot["sockets"]] == ["srv", "cli"]
    # New labs can be made; the dead host was replaced by a new process.
    third = live.new_lab()
    live.ok(third, {"op": "socket", "name": "srv"})
    pids = wait_until(
        lambda: {h.pid for h in live.app.state.registry.hosts.hosts() if not h.dead.is_set()},
        what="two live hosts",
    )
    assert victim.pid not in pids and survivor.pid in pids and len(pids) == 2
    for lab in (second, third):
        live.client.delete(f"/api/labs/{lab}")


def test_a_participant_whose_host_died_gets_a_fresh_lab(tmp_path: Path) -> None:
    with room_server(tmp_path, lab_hosts=2) as room:
        ada = room.join("Ada")
        lab = room.live.app.state.registry.get(ada.lab)
        assert isinstance(lab.engine, RemoteEngine)
        os.kill(lab.engine.host.pid, signal.SIGKILL)
        wait_until(lab.engine.closed.is_set, timeout=10, what="the lab to close")
        me = ada.client.get("/api/room/me").json()
        assert me["lab"] != ada.lab and me["recreated"] is True

        def notice() -> bool:  # recorded in the host: it comes back with the next batch
            events = ada.client.get(f"/api/labs/{me['lab']}/events").json()["events"]
            return any("made again" in e.get("message", "") for e in events)

        wait_until(notice, timeout=5, what="the lab's 'made again' notice")
        made = ada.client.post(
            f"/api/labs/{me['lab']}/commands", json={"op": "socket", "name": "srv"}
        )
        assert made.status_code == 200 and made.json()["ok"], made.text


def test_a_host_leaves_when_its_web_process_does() -> None:
    host = HostProcess(0)
    wait_until(host.ready.is_set, timeout=20, what="the host to start")
    host.sock.shutdown(socket.SHUT_WR)  # the host reads the channel's end, as at our exit
    assert host.proc.wait(10) == 0


def run_lesson(registry: LabRegistry, lesson_id: str) -> list[CheckOutcome]:
    lesson = find_lesson(lesson_id)
    assert lesson is not None
    lab = registry.create()
    assert isinstance(lab.engine, RemoteEngine)
    return run_to_end(registry, lesson, lab)


# backlog: its "together" step crosses to the host as one message, run back to back there.
@pytest.mark.parametrize(
    "lesson_id", ["server-sockets", "partial-send", "nonblocking-select", "backlog"]
)
def test_a_lesson_runs_in_a_lab_host(lesson_id: str) -> None:
    registry = LabRegistry(LabPolicy(), max_labs=4, idle_timeout=600, lab_hosts=2)
    registry.start()
    try:
        outcomes: Any = run_lesson(registry, lesson_id)
        assert outcomes and all(o.passed for o in outcomes), outcomes
    finally:
        registry.close_all()
    assert registry.hosts is not None
    assert all(h.proc.returncode is not None for h in registry.hosts.hosts())


def test_labs_in_two_hosts_binding_port_zero_at_once_get_distinct_ports() -> None:
    """bind(0) takes the first free port of the range: labs in different processes doing it
    at the same moment (a room-wide step) must not find the same one (host.PortZeroLock).
    Every round keeps its ports, so the next round's scans are longer and overlap more."""
    registry = LabRegistry(LabPolicy(), max_labs=12, idle_timeout=600, lab_hosts=2)
    registry.start()

    def each(command: dict[str, Any]) -> list[Any]:
        tickets = [lab.engine.submit(parse_command(command, lab.engine.policy)) for lab in labs]
        return [t.future.result(timeout=20) for t in tickets]

    try:
        labs = [registry.create() for _ in range(12)]
        hosts = {lab.engine.host.pid for lab in labs if isinstance(lab.engine, RemoteEngine)}
        assert len(hosts) == 2
        ports: list[int] = []
        for round in range(10):
            assert all(r.ok for r in each({"op": "socket", "name": f"s{round}"}))
            bound = each({"op": "bind", "socket": f"s{round}", "address": ["127.0.0.1", 0]})
            assert all(r.ok for r in bound), [r.error for r in bound if not r.ok]
            ports += [r.result["address"][1] for r in bound]
        assert len(set(ports)) == len(ports)
    finally:
        registry.close_all()
