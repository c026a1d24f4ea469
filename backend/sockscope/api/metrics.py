"""GET /metrics: the server in Prometheus' text format (prometheus_client).

Read when scraped, never counted per event: labs, room participants, viewers, events
recorded (every lab's ``seq``, the closed labs' included), commands by outcome with a latency
histogram (labs/stats.py), and the process itself (CPU, RSS, descriptors open and the
highest one: select() cannot watch a descriptor of 1024 or more, so that number is the
ceiling to watch). No lab id, name or token is in any label.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sockscope.labs import stats
from sockscope.labs.registry import LabRegistry
from sockscope.room.room import OWNER, Room

router = APIRouter()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def highest_fd(folder: str = "/proc/self/fd") -> int:
    """The highest descriptor this process holds (-1 when it cannot tell)."""
    try:
        return max((int(name) for name in os.listdir(folder) if name.isdigit()), default=-1)
    except OSError:
        return -1


class ServerCollector(Collector):
    def __init__(self, registry: LabRegistry, room: Room) -> None:
        self.labs = registry
        self.room = room

    def collect(self) -> Iterator[Metric]:
        labs = self.labs.labs()
        yield GaugeMetricFamily("sockscope_labs", "Labs running", value=len(labs))
        yield GaugeMetricFamily(
            "sockscope_room_labs",
            "Labs of room participants",
            value=sum(1 for lab in labs if OWNER in lab.extras),
        )
        yield GaugeMetricFamily(
            "sockscope_room_participants",
            "Participants who joined the room",
            value=len(self.room.store.participants()),
        )
        yield GaugeMetricFamily(
            "sockscope_viewers", "Websocket viewers of labs", value=sum(lab.viewers for lab in labs)
        )
        yield CounterMetricFamily(
            "sockscope_events", "Events the labs recorded", value=self.labs.events_recorded()
        )
        counts, buckets, total = stats.COMMANDS.snapshot()
        commands = CounterMetricFamily(
            "sockscope_commands", "Commands answered, by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(counts.items()):
            commands.add_metric([outcome], count)
        yield commands
        cumulative, running = [], 0
        for bound, count in zip((*map(str, stats.BUCKETS), "+Inf"), buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily(
            "sockscope_command_seconds",
            "Time from a command's arrival to its answer",
            buckets=cumulative,
            sum_value=total,
        )
        yield GaugeMetricFamily(
            "sockscope_highest_fd",
            "The highest file descriptor the process holds (select() watches below 1024)",
            value=highest_fd(),
        )


def registry_for(labs: LabRegistry, room: Room) -> CollectorRegistry:
    """A registry of this app's own (the process collector included), not the global one:
    a test process makes many apps."""
    found = CollectorRegistry(auto_describe=False)
    found.register(ServerCollector(labs, room))
    ProcessCollector(registry=found)
    return found


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus' text format; scrape it every 15 s or so."""
    body = generate_latest(request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE)
