"""GET /metrics: the server in Prometheus' text format (prometheus_client).

Read when scraped, never counted per event: labs, room participants, viewers, events
recorded (every lab's ``seq``, the closed labs' included), commands by outcome with a latency
histogram (labs/stats.py), and the process itself (CPU, RSS, descriptors open and the
highest one: select() cannot watch a descriptor of 1024 or more, so that number is the
ceiling to watch), each lab's share of events a second (labs/registry.py), and with
``--lab-hosts`` each lab host, labelled by its number: up, labs, CPU seconds, RSS and the
highest descriptor (read from /proc at the scrape), and how many hosts were started again
after one died. No lab id, name or token is in any label.
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


CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def process_figures(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) of process ``pid`` from /proc; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # comm may hold spaces: after its ")"
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, pages * PAGE


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
        yield GaugeMetricFamily(
            "sockscope_lab_event_share",
            "Events a second each lab may record now (the server's, shared by its labs)",
            value=self.labs.event_share,
        )
        yield from self._hosts()

    def _hosts(self) -> Iterator[Metric]:
        pool = self.labs.hosts
        if pool is None:
            return
        label = ["host"]
        up = GaugeMetricFamily("sockscope_lab_host_up", "1 while the lab host runs", labels=label)
        labs = GaugeMetricFamily("sockscope_lab_host_labs", "Labs in the lab host", labels=label)
        cpu = CounterMetricFamily(
            "sockscope_lab_host_cpu_seconds", "CPU time of the lab host process", labels=label
        )
        rss = GaugeMetricFamily(
            "sockscope_lab_host_resident_memory_bytes", "RSS of the lab host", labels=label
        )
        fd = GaugeMetricFamily(
            "sockscope_lab_host_highest_fd",
            "The highest file descriptor the lab host holds (select() watches below 1024)",
            labels=label,
        )
        for host in pool.hosts():
            name = [str(host.index)]
            figures = None if host.dead.is_set() else process_figures(host.pid)
            up.add_metric(name, 0 if figures is None else 1)
            labs.add_metric(name, host.load())
            if figures is not None:
                cpu.add_metric(name, figures[0])
                rss.add_metric(name, figures[1])
                fd.add_metric(name, highest_fd(f"/proc/{host.pid}/fd"))
        yield from (up, labs, cpu, rss, fd)
        yield CounterMetricFamily(
            "sockscope_lab_host_restarts",
            "Lab hosts started again in the place of one that died",
            value=pool.replaced,
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
