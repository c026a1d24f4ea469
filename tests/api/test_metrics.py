"""GET /metrics scrapes: read back with prometheus_client's own parser."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from sockscope.settings import Settings

from helpers import wait_until
from live import LiveServer, serve


@pytest.fixture
def fresh() -> Iterator[LiveServer]:
    yield from serve(Settings())


def scrape(server: LiveServer) -> dict[str, float]:
    response = server.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_count_labs_viewers_commands_and_events(fresh: LiveServer) -> None:
    before = scrape(fresh)
    assert before["sockscope_labs"] == 0 and before["sockscope_viewers"] == 0
    lab = fresh.new_lab()
    for command in (
        {"op": "socket", "name": "srv"},
        {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]},
        {"op": "listen", "socket": "nope"},  # refused: a 4xx
    ):
        fresh.command(lab, command)
    with connect(f"{fresh.ws_url}/api/labs/{lab}/ws", open_timeout=5) as viewer:
        viewer.recv(timeout=5)  # the snapshot: the viewer is counted by now
        during = scrape(fresh)
    assert during["sockscope_labs"] == 1 and during["sockscope_viewers"] == 1
    wait_until(lambda: scrape(fresh)["sockscope_viewers"] == 0, 5, "the viewer to be let go")
    after = scrape(fresh)
    ok = "sockscope_commands_total{outcome=2xx}"
    refused = "sockscope_commands_total{outcome=4xx}"
    assert after[ok] - before.get(ok, 0) == 2
    assert after[refused] - before.get(refused, 0) == 1
    count = after["sockscope_command_seconds_count"] - before["sockscope_command_seconds_count"]
    assert count == 3
    assert after["sockscope_command_seconds_bucket{le=+Inf}"] >= count
    seq = fresh.client.get(f"/api/labs/{lab}").json()["seq"]
    assert after["sockscope_events_total"] >= seq > 0
    assert after["sockscope_room_participants"] == 0
    assert 2 < after["sockscope_highest_fd"] < 1024
    assert after["process_resident_memory_bytes"] > 10_000_000


def test_closed_labs_keep_their_events_in_the_counter(fresh: LiveServer) -> None:
    lab = fresh.new_lab()
    fresh.command(lab, {"op": "socket", "name": "s"})
    counted = scrape(fresh)["sockscope_events_total"]
    assert fresh.client.delete(f"/api/labs/{lab}").status_code == 204
    after = scrape(fresh)
    assert after["sockscope_labs"] == 0
    assert after["sockscope_events_total"] >= counted > 0  # a counter never goes down


@pytest.fixture
def hosted() -> Iterator[LiveServer]:
    yield from serve(Settings(lab_hosts=2))


def test_each_lab_host_is_scraped_and_a_dead_one_is_counted_when_replaced(
    hosted: LiveServer,
) -> None:
    server = hosted
    before = scrape(server)
    assert before["sockscope_lab_event_share"] == 20000  # no lab yet: all of it
    for host in ("0", "1"):
        assert before[f"sockscope_lab_host_up{{host={host}}}"] == 1
        assert before[f"sockscope_lab_host_resident_memory_bytes{{host={host}}}"] > 10e6
        assert 2 < before[f"sockscope_lab_host_highest_fd{{host={host}}}"] < 1024
        assert before[f"sockscope_lab_host_cpu_seconds_total{{host={host}}}"] > 0
    assert before["sockscope_lab_host_restarts_total"] == 0
    lab = server.new_lab()
    server.command(lab, {"op": "socket", "name": "s"})
    during = scrape(server)
    assert sum(during[f"sockscope_lab_host_labs{{host={h}}}"] for h in "01") == 1
    pool = server.app.state.registry.hosts
    victim = pool.hosts()[0]
    os.kill(victim.pid, signal.SIGKILL)
    wait_until(lambda: scrape(server)["sockscope_lab_host_restarts_total"] == 1, 10, "a new host")
    replaced = next(h for h in pool.hosts() if h.index == victim.index)
    wait_until(replaced.ready.is_set, 30, "the new host to be ready")
    assert replaced.pid != victim.pid
    assert scrape(server)[f"sockscope_lab_host_up{{host={victim.index}}}"] == 1
