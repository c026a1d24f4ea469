"""Bench 2: the event stream, from a lab flooding its log to one websocket viewer.

A real server (uvicorn on 127.0.0.1, port 0, in a thread, as tests/api/conftest.py
does) runs a lab set up over REST: srv auto-accepts, its conn auto-recvs "discard"
with bufsize 1 KiB, and cli.sendall(16 MiB) floods the log with ~33k events.
Each run makes two floods, interleaved: one with no viewer, one watched by a viewer
in its own process (``bench.viewer``, websockets.sync.client), as a browser would.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from sockscope.api.app import create_app
from sockscope.api.wire import events_message, events_message_text, rows_message_text
from sockscope.engine import packed
from sockscope.engine.lab import LabEngine
from sockscope.engine.log import encode
from sockscope.labs.registry import LabRegistry
from sockscope.settings import Settings

from .common import (
    RUNS,
    BenchTimeout,
    Check,
    Deadline,
    LogReader,
    MiB,
    Row,
    event_cap,
    median,
    received_to,
    runs_text,
    wait_until,
)

SIZE = 16 * MiB
BUFSIZE = 1024
FLOOD_SECONDS = 30.0
VIEWER_CATCH_UP_S = 10.0  # the viewer's deadline to receive the last seq of a flood
ENCODE_TARGET_US = 1.0
SAMPLE_EVENTS = 2000  # one full websocket batch (ws.BATCH_MAX)
ROOT = Path(__file__).resolve().parent.parent


class LiveServer:
    def __init__(self) -> None:
        self.app: FastAPI = create_app(Settings())
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", ws_per_message_deflate=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0
        self.client: httpx.Client | None = None

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the server to start", interval=0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.client is not None:
            self.client.close()
        self.server.should_exit = True
        self.thread.join(10)

    def http(self) -> httpx.Client:
        assert self.client is not None
        return self.client

    def command(self, lab_id: str, command: dict[str, Any]) -> dict[str, Any]:
        response = self.http().post(f"/api/labs/{lab_id}/commands", json=command)
        body: dict[str, Any] = response.json()
        return body

    def ok(self, lab_id: str, command: dict[str, Any]) -> dict[str, Any]:
        body = self.command(lab_id, command)
        if not body.get("ok"):
            raise RuntimeError(f"{command['op']} failed: {body.get('error')}")
        return body

    def engine(self, lab_id: str) -> LabEngine:
        registry: LabRegistry = self.app.state.registry
        lab = registry.get(lab_id)
        assert lab is not None
        return lab.engine

    def new_flood_lab(self) -> str:
        response = self.http().post("/api/labs")
        response.raise_for_status()
        lab_id: str = response.json()["id"]
        options = {"blocking": False, "auto_accept": True, "auto_recv": "discard"}
        self.ok(lab_id, {"op": "socket", "name": "srv", "options": options | {"bufsize": BUFSIZE}})
        bound = self.ok(lab_id, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
        port = bound["result"]["address"][1]
        self.ok(lab_id, {"op": "listen", "socket": "srv"})
        self.ok(lab_id, {"op": "socket", "name": "cli", "options": {"blocking": False}})
        self.command(lab_id, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})

        def connected() -> bool:
            sockets = self.http().get(f"/api/labs/{lab_id}").json()["sockets"]
            roles = {s["name"]: s["role"] for s in sockets}
            return roles.get("cli") == "connected" and roles.get("conn") == "connected"

        wait_until(connected, 5, "cli connected and conn accepted", interval=0.02)
        return lab_id


@dataclass(frozen=True, slots=True)
class Flood:
    seq0: int  # last seq before the flood
    start_ns: int  # engine time just before the sendall command was posted
    end_seq: int  # conn's recv() of the flood's last byte
    end_ns: int
    dropped: int  # events the log dropped before the bench's reader saw them

    @property
    def events(self) -> int:
        return self.end_seq - self.seq0

    @property
    def recorded_per_s(self) -> float:
        return self.events / ((self.end_ns - self.start_ns) / 1e9)


def flood(live: LiveServer, lab_id: str, engine: LabEngine, run_index: int) -> Flood:
    reader = LogReader(engine, engine.log.last_seq)
    seq0 = reader.cursor
    start_ns = engine.now_ns()
    live.ok(lab_id, {"op": "sendall", "socket": "cli", "size": SIZE})
    deadline = Deadline(FLOOD_SECONDS, "a 16 MiB flood to reach conn")
    while True:
        for event in reader.new():
            if received_to(event, "conn", run_index * SIZE):
                return Flood(seq0, start_ns, event.seq, event.t_ns, reader.dropped)
        deadline.check()
        time.sleep(0.005)


class ViewerProcess:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.viewer", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def _line(self, seconds: float, what: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], seconds)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise BenchTimeout(f"the viewer process gave no {what} within {seconds:g} s")
        result: dict[str, Any] = json.loads(line)
        return result

    def ready(self) -> int:
        return int(self._line(10, "ready line")["ready"])

    def finish(self, target: int) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{target}\n")
        self.proc.stdin.flush()
        report = self._line(VIEWER_CATCH_UP_S + 5, "report")
        self.proc.wait(5)
        return report

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@dataclass(frozen=True, slots=True)
class Viewed:
    delivered_per_s: float  # flood events received / (last one received - flood start)
    lag_at_end: int  # seqs recorded but not yet received when the flood's last event was
    catch_up_ms: float  # from the flood's last event to the viewer having it
    skipped: int  # events the viewer never got (gaps: it fell behind the log's capacity)
    reached: bool


def viewed(report: dict[str, Any], f: Flood, offset_ns: int) -> Viewed:
    """What the viewer saw of flood ``f``; ``offset_ns`` turns CLOCK_MONOTONIC into lab time."""
    received = 0
    seen_at_end = f.seq0
    delivered_ns: int | None = None
    for t_mono, first, last, _count in report["arrivals"]:
        t = t_mono - offset_ns
        received += max(0, min(last, f.end_seq) - max(first, f.seq0 + 1) + 1)
        if t <= f.end_ns:
            seen_at_end = max(seen_at_end, last)
        if delivered_ns is None and last >= f.end_seq:
            delivered_ns = t
    skipped = 0
    for t_mono, seq, gap_from, gap_to in report["snapshots"]:
        t = t_mono - offset_ns
        skipped += max(0, min(gap_to, f.end_seq) - max(gap_from, f.seq0 + 1) + 1)
        if t <= f.end_ns:
            seen_at_end = max(seen_at_end, seq)
        if delivered_ns is None and seq >= f.end_seq:
            delivered_ns = t
    if delivered_ns is None:  # deadline: count what arrived up to the report
        delivered_ns = f.end_ns + int(VIEWER_CATCH_UP_S * 1e9)
    return Viewed(
        delivered_per_s=received / ((delivered_ns - f.start_ns) / 1e9),
        lag_at_end=max(0, f.end_seq - seen_at_end),
        catch_up_ms=(delivered_ns - f.end_ns) / 1e6,
        skipped=skipped,
        reached=bool(report["reached"]),
    )


def serialize_costs(engine: LabEngine) -> tuple[list[float], list[float], list[float]]:
    """Per-event cost of making a viewer's batch text, on the last events of the last
    flood: what ws.py sends the lab page (an ``events/rows`` message of log.rows_after's
    texts, made here again from what the log holds: each packed record's row, objects with
    log.encode), against the way it was made before, in the same run: to_wire() then
    json.dumps of the message; and, for the record, the object form a viewer that did not
    ask for rows gets (``events/batch`` of log.wire_after's texts)."""
    log = engine.log
    items, first, _, _ = log._slice(log.last_seq - SAMPLE_EVENTS, SAMPLE_EVENTS)
    events = log.after(first - 1, SAMPLE_EVENTS).events
    strings = log.strings
    rows_us: list[float] = []
    objects_us: list[float] = []
    dumps_us: list[float] = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        rows_message_text(
            first, len(strings.values), [], packed.row_texts(items, first, strings, encode)
        )
        t1 = time.perf_counter()
        events_message_text(
            [
                packed.wire_text(e, first + i, strings) if isinstance(e, bytes) else encode(e)
                for i, e in enumerate(items)
            ]
        )
        t2 = time.perf_counter()
        json.dumps(events_message(events), separators=(",", ":"), ensure_ascii=False)
        t3 = time.perf_counter()
        rows_us.append((t1 - t0) / len(items) * 1e6)
        objects_us.append((t2 - t1) / len(items) * 1e6)
        dumps_us.append((t3 - t2) / len(events) * 1e6)
    return rows_us, objects_us, dumps_us


def run() -> tuple[list[Row], list[Check]]:
    print(
        f"[2] event stream: sendall {SIZE // MiB} MiB, discard bufsize {BUFSIZE},"
        f" {RUNS} runs x (no viewer, 1 viewer) ({event_cap(Settings().lab_policy())})"
    )
    alone: list[Flood] = []
    watched: list[Flood] = []
    views: list[Viewed] = []
    with LiveServer() as live:
        lab_id = live.new_flood_lab()
        engine = live.engine(lab_id)
        url = f"ws://127.0.0.1:{live.port}/api/labs/{lab_id}/ws?rows=1"
        k = 0
        for _ in range(RUNS):
            k += 1
            alone.append(flood(live, lab_id, engine, k))
            viewer = ViewerProcess(url)
            try:
                viewer.ready()
                offset_ns = time.monotonic_ns() - engine.now_ns()
                k += 1
                f = flood(live, lab_id, engine, k)
                report = viewer.finish(f.end_seq)
            finally:
                viewer.stop()
            watched.append(f)
            views.append(viewed(report, f, offset_ns))
        encode_us, objects_us, dumps_us = serialize_costs(engine)
        live.http().delete(f"/api/labs/{lab_id}")

    rec_alone = [f.recorded_per_s for f in alone]
    rec_watched = [f.recorded_per_s for f in watched]
    delivered = [v.delivered_per_s for v in views]
    lag = [float(v.lag_at_end) for v in views]
    catch_up = [v.catch_up_ms for v in views]
    print(f"    recorded ev/s, no viewer: {runs_text(rec_alone)}")
    print(f"    recorded ev/s, 1 viewer:  {runs_text(rec_watched)}")
    print(f"    delivered ev/s:           {runs_text(delivered)}")
    print(f"    lag at flood end (events): {runs_text(lag)}   catch-up ms: {runs_text(catch_up)}")
    print(
        f"    encode us/event, rows: {runs_text(encode_us, digits=2)}"
        f"   objects: {runs_text(objects_us, digits=2)}"
        f"   to_wire + json.dumps: {runs_text(dumps_us, digits=2)}"
    )
    name = "2 stream"
    rows = [
        Row(name, "events/s delivered to the viewer", median(delivered), "ev/s",
            median(rec_watched), "recorded", tuple(delivered)),
        Row(name, "events/s recorded, 1 viewer", median(rec_watched), "ev/s",
            median(rec_alone), "no viewer", tuple(rec_watched)),
        Row(name, "viewer lag when the flood ended", median(lag), "events",
            median([float(f.events) for f in watched]), "flood events", tuple(lag)),
        Row(name, "viewer catch-up after the flood", median(catch_up), "ms",
            runs=tuple(catch_up)),
        Row(name, "server: encode per event (the page's rows)", median(encode_us), "us",
            median(dumps_us), "to_wire+json.dumps", tuple(encode_us)),
        Row(name, "server: encode per event (object form)", median(objects_us), "us",
            median(dumps_us), "to_wire+json.dumps", tuple(objects_us)),
        Row(name, "1 core encodes at most", 1e6 / median(encode_us), "ev/s"),
    ]  # fmt: skip
    checks = [
        Check(
            "2 stream: encoding a viewer's batch <= 1 us an event (issue 12)",
            median(encode_us) <= ENCODE_TARGET_US,
            f"{median(encode_us):.2f} us ({1e6 / median(encode_us):,.0f} events/s on one core)",
        ),
        Check(
            "2 stream: viewer got the flood's last seq within its deadline",
            all(v.reached for v in views),
            f"{sum(v.reached for v in views)}/{len(views)} runs, deadline {VIEWER_CATCH_UP_S:g} s",
        ),
        Check(
            "2 stream: events the viewer skipped (gaps)",
            True,
            f"{[v.skipped for v in views]} (a viewer behind the log's capacity gets a snapshot)",
        ),
    ]
    return rows, checks
