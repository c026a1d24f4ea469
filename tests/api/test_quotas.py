"""Limits per client address on the open routes: each refusal says which limit, and the
server goes on serving everyone else."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sockscope.api.quotas import Busy, ShapesGate
from sockscope.engine.core.errors import RateLimited
from sockscope.settings import Settings

from live import LiveServer, serve
from roomkit import room_server


@pytest.fixture
def strict() -> Iterator[LiveServer]:
    yield from serve(Settings(labs_per_client=3, labs_per_minute=5, max_labs=50))


def test_one_address_holds_its_quota_of_open_labs_and_no_more(strict: LiveServer) -> None:
    made = [strict.client.post("/api/labs") for _ in range(3)]
    assert [r.status_code for r in made] == [201, 201, 201]
    refused = strict.client.post("/api/labs")
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith(
        "this address already holds 3 labs, the limit per client"
    )
    assert strict.client.get("/healthz").json()["labs"] == 3  # nothing half-made
    first = made[0].json()["id"]
    assert strict.client.delete(f"/api/labs/{first}").status_code == 204
    assert strict.client.post("/api/labs").status_code == 201  # a freed place is taken again
    for lab in made[1:]:  # the labs it holds still answer
        assert strict.client.get(f"/api/labs/{lab.json()['id']}").status_code == 200


def test_one_address_makes_so_many_labs_a_minute(strict: LiveServer) -> None:
    for _ in range(4):
        made = strict.client.post("/api/labs")
        assert made.status_code == 201, made.text
        assert strict.client.delete(f"/api/labs/{made.json()['id']}").status_code == 204
    assert strict.client.post("/api/labs").status_code == 201  # the fifth of the minute
    too_fast = strict.client.post("/api/labs")
    assert too_fast.status_code == 429
    assert "made 5 labs in the last minute, the limit" in too_fast.json()["error"]["message"]


def test_room_labs_are_not_counted_against_the_open_quota(tmp_path: Path) -> None:
    with room_server(tmp_path, labs_per_client=1) as room:
        assert room.live.client.post("/api/labs").status_code == 201
        assert room.join("Ada").joined["lab"]  # the room's own limits apply to joins


def test_a_client_runs_one_shape_comparison_at_a_time_and_the_server_a_few() -> None:
    async def scenario() -> None:
        gate = ShapesGate(1, wait=0.2)
        async with gate.slot("10.0.0.1"):
            with pytest.raises(RateLimited, match="already runs a server-shape comparison"):
                async with gate.slot("10.0.0.1"):
                    pass
            with pytest.raises(Busy, match="1 server-shape comparisons are running"):
                async with gate.slot("10.0.0.2"):  # waits 0.2 s for the one slot, in vain
                    pass
        async with gate.slot("10.0.0.2"):  # free again, for anyone
            pass
        async with gate.slot("10.0.0.1"):
            pass

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_second_shape_comparison_from_the_same_address_is_refused_at_once(
    live: LiveServer,
) -> None:
    """Two comparisons at once from one address (each runs about 5 s): whichever comes
    second is refused at once, the first is served."""
    answers: list[tuple[int, str]] = []

    def compare() -> None:
        body = {"clients": 4, "think_ms": 1500}
        answer = live.client.post("/api/workbench/shapes", json=body, timeout=60)
        message = answer.json()["error"]["message"] if answer.status_code != 200 else ""
        answers.append((answer.status_code, message))

    both = [threading.Thread(target=compare) for _ in range(2)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(60)
    assert sorted(answers) == [
        (200, ""),
        (429, "this address already runs a server-shape comparison: wait for its answer"),
    ]
