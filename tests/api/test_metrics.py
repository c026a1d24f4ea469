"""GET /metrics scrapes: read back with prometheus_client's own parser."""

from __future__ import annotations

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
