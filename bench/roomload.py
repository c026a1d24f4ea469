"""The room bench's load generator, in its own process: ``python -m bench.roomload CONFIG``.

CONFIG is one JSON object: ``{"url", "code", "n", "seed", "seconds", "role"}``; ``role`` is
``"room"`` (``n`` participants running the cycle below) or ``"hostile"`` (one participant
that posts ``sendall`` of 16 MiB again and again). Each participant is one browser: its own
httpx client (its own keep-alive connection and cookie jar) and one websocket viewer of its
lab, all in one asyncio loop. The parent talks to it in JSON lines:

- stdout ``{"ready": {...}}``: everyone has joined, each viewer has its snapshot, and each
  participant has run (untimed, back to back) a seeded number of the cycle's first steps, so
  the room starts its window spread over the cycle as a room in full swing is;
- stdin ``go``: the window of ``seconds`` starts now;
- stdout ``{"steady_end": t_ns}``: the window is over (no command starts after it);
- stdout ``{"report": {...}}``: once the commands still under way have been answered and
  every viewer has had the events of its commands (or a short deadline passed).

A command's latency runs from just before the request is sent to its whole answer; its event
delivery runs from the same moment to the websocket message that brings the command's last
``call`` event (the answer's last event when it has none, e.g. a refused command) to its
viewer. Times are CLOCK_MONOTONIC, read in this process only.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import random
import re
import resource
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

MiB = 1 << 20
JOIN_CONCURRENCY = 16  # joins and websocket handshakes under way at once during the setup
REQUEST_TIMEOUT = 20.0  # a command's answer; past it the command counts as a "timeout" error
DRAIN_S = 5.0  # after the window, how long viewers get to receive their commands' events
PAUSE_S = (1.5, 3.0)  # a participant's think time between two commands
HARD_LIMIT_S = 240.0  # this process never lives longer
PREFIX = 60  # characters of an error message, at most, that name its kind

# One participant's cycle (docs/api.md section 4): a server and a client, a partial send,
# reads, the client's close, then closing everything; and again. On Linux's loopback the
# 1 MiB send mostly goes whole (the send buffer grows to take it), so conn still holds data
# after three recvs and the recv after cli's close reads data, not b'': the report says
# which it got, and how much each send took.
CYCLE: tuple[str, ...] = (
    "socket srv",
    "bind srv",
    "listen srv",
    "socket cli",
    "connect cli",
    "accept srv",
    "send cli 1 MiB",
    "recv conn",
    "recv conn",
    "recv conn",
    "sendall cli 64 KiB",
    "close cli",
    "recv conn (after close)",
    "close conn",
    "close srv",
)


def cycle_command(step: int, port: int | None) -> dict[str, Any] | None:
    """The command of ``CYCLE[step]``; None for a connect with no port to connect to."""
    name = CYCLE[step]
    if name == "socket srv":
        return {"op": "socket", "name": "srv"}
    if name == "bind srv":
        return {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]}
    if name == "listen srv":
        return {"op": "listen", "socket": "srv"}
    if name == "socket cli":
        return {"op": "socket", "name": "cli", "options": {"blocking": False}}
    if name == "connect cli":
        return None if port is None else {"op": "connect", "socket": "cli",
                                          "address": ["127.0.0.1", port]}  # fmt: skip
    if name == "accept srv":
        return {"op": "accept", "socket": "srv", "name": "conn"}
    if name == "send cli 1 MiB":
        return {"op": "send", "socket": "cli", "size": MiB}
    if name.startswith("recv conn"):
        return {"op": "recv", "socket": "conn", "bufsize": 65536}
    if name == "sendall cli 64 KiB":
        return {"op": "sendall", "socket": "cli", "size": 65536}
    return {"op": "close", "socket": name.split()[1]}


# -- pure: percentiles, error kinds, what a viewer received ---------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "min": min(values) if values else math.nan,
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def masked(text: str) -> str:
    """An error message's kind: its numbers as N (fd 1026 and fd 1031 are one kind), cut
    before its first parenthesis (which lists the lab's sockets, or explains)."""
    return re.sub(r"\d+", "N", text).split(" (")[0][:PREFIX]


def error_kind(op: str, status: int, body: dict[str, Any]) -> str | None:
    """What went wrong with a command's answer (None: nothing did), as
    ``"<op> <status> <errno, or the message's first words>"``. A non-blocking connect's
    EINPROGRESS is its normal answer; a call still blocked after the command wait is not,
    in this cycle (every recv has data waiting)."""
    if status == 200 and body.get("blocked"):
        return f"{op} 200 still blocked after the command wait"
    if status == 200 and body.get("ok"):
        return None
    error = body.get("error") or {}
    errno = error.get("errno")
    if status == 200 and op == "connect" and errno == "EINPROGRESS":
        return None
    return f"{op} {status} {errno or masked(str(error.get('message', '')))}"


def target_seq(events: Sequence[dict[str, Any]]) -> int | None:
    """The seq the viewer must receive for a command to be seen: its last call event's, or
    its last event's when it made no call (a refused command's ``command_error``)."""
    calls = [int(e["seq"]) for e in events if e.get("kind") == "call"]
    if calls:
        return max(calls)
    return max((int(e["seq"]) for e in events), default=None)


@dataclass
class SeqTracker:
    """The seqs one viewer received: batches follow on from its snapshot with no holes,
    unless it fell behind, when a snapshot's ``gap`` names the events it was never sent."""

    last: int  # the snapshot's seq, then the last seq received
    lost: int = 0  # seqs never received as events (holes, and snapshot gaps)
    repeated: int = 0  # seqs received twice (the protocol promises none)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    _lasts: list[int] = field(default_factory=list)  # last seq of each batch, ascending
    _firsts: list[int] = field(default_factory=list)
    _times: list[int] = field(default_factory=list)

    def batch(self, seqs: Sequence[int], t_ns: int) -> None:
        first_new: int | None = None
        for seq in seqs:
            if seq <= self.last:
                self.repeated += 1
                continue
            if seq > self.last + 1:  # a hole, before the batch or inside it
                self._gap(self.last + 1, seq - 1)
            if first_new is None:
                first_new = seq
            self.last = seq
        if first_new is not None:
            self._firsts.append(first_new)
            self._lasts.append(self.last)
            self._times.append(t_ns)

    def snapshot(self, seq: int, gap: tuple[int, int] | None) -> None:
        if gap is not None:
            self._gap(*gap)
        elif seq > self.last:  # a snapshot past the cursor with no gap: lost all the same
            self._gap(self.last + 1, seq)
        self.last = max(self.last, seq)

    def _gap(self, first: int, last: int) -> None:
        if last >= first:
            self.lost += last - first + 1
            self.gaps.append((first, last))

    def arrived(self, seq: int) -> int | None:
        """When ``seq`` arrived as an event; None if it has not (yet), or was in a gap."""
        if self.in_gap(seq):
            return None
        i = bisect.bisect_left(self._lasts, seq)
        if i == len(self._lasts) or seq < self._firsts[i]:
            return None
        return self._times[i]

    def in_gap(self, seq: int) -> bool:
        return any(a <= seq <= b for a, b in self.gaps)


# -- the participants ----------------------------------------------------------------------


@dataclass
class Sample:
    op: str
    sent_ns: int
    answered_ns: int
    kind: str | None  # error kind, or None
    target: int | None  # the seq the viewer must get
    eof: bool | None = None  # a recv's: it returned b''
    sent: int | None = None  # a send's: the bytes it took
    first: bool = False  # the first error of its participant's cycle (not a consequence)


@dataclass
class Participant:
    index: int
    client: httpx.AsyncClient
    rng: random.Random
    lab: str = ""
    token: str = ""
    step: int = 0
    port: int | None = None
    ws: ClientConnection | None = None
    tracker: SeqTracker | None = None
    watcher: asyncio.Task[None] | None = None
    samples: list[Sample] = field(default_factory=list)
    warmup_errors: Counter[str] = field(default_factory=Counter)
    failed_this_cycle: bool = False
    unsent_connects: int = 0  # bind had failed: no port to connect to
    ws_bytes: int = 0


class Room:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url: str = config["url"]
        self.ws_url = "ws" + self.url.removeprefix("http")
        self.code: str = config["code"]
        self.n: int = config["n"]
        self.seconds: float = config["seconds"]
        self.hostile = config.get("role") == "hostile"
        self.seed: int = config.get("seed", 1)
        self.ssl = ssl.create_default_context()  # one for all: httpx makes one per client else
        self.people: list[Participant] = []
        self.join_ms: list[float] = []
        self.join_errors: Counter[str] = Counter()
        self.ws_errors: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.closing = False

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            timeout=REQUEST_TIMEOUT,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=self.ssl,
            trust_env=False,  # never a proxy: everything stays on 127.0.0.1
        )

    # -- setup ---------------------------------------------------------------------------

    async def join(self, p: Participant, gate: asyncio.Semaphore) -> None:
        async with gate:
            t0 = time.monotonic_ns()
            try:
                r = await p.client.post(
                    "/api/room/join", json={"code": self.code, "name": f"p{p.index}"}
                )
            except httpx.HTTPError as exc:
                self.join_errors[f"join {type(exc).__name__}"] += 1
                return
            self.join_ms.append((time.monotonic_ns() - t0) / 1e6)
            body = _json(r)
            if r.status_code != 201:
                message = str((body.get("error") or {}).get("message", r.text))
                kind = f"join {r.status_code} {masked(message)}"
                self.join_errors[kind] += 1
                self.examples.setdefault(kind, message[:200])
                return
            p.lab, p.token = body["lab"], body["token"]
            p.client.headers["Authorization"] = f"Bearer {p.token}"
            await self.open_viewer(p)

    async def open_viewer(self, p: Participant) -> None:
        try:
            p.ws = await connect(
                f"{self.ws_url}/api/labs/{p.lab}/ws?rows=1",  # as the lab page asks
                additional_headers={"Authorization": f"Bearer {p.token}"},
                max_size=None,
                compression=None,
                open_timeout=REQUEST_TIMEOUT,
                ping_interval=None,  # a browser sends no pings
                proxy=None,
            )
            first = json.loads(await asyncio.wait_for(p.ws.recv(), REQUEST_TIMEOUT))
        except (OSError, TimeoutError, ConnectionClosed, ValueError) as exc:
            self.ws_errors[f"ws open {type(exc).__name__}: {masked(str(exc))}"] += 1
            return
        p.tracker = SeqTracker(int(first["snapshot"]["seq"]))
        p.watcher = asyncio.create_task(self.watch(p))

    async def watch(self, p: Participant) -> None:
        assert p.ws is not None and p.tracker is not None
        try:
            async for raw in p.ws:
                t_ns = time.monotonic_ns()
                p.ws_bytes += len(raw)
                if self.hostile:
                    continue  # a flood's viewer: read it, as a browser must, but not parse it
                message = json.loads(raw)
                if message["type"] == "events/rows":
                    first = int(message["first"])
                    p.tracker.batch(list(range(first, first + len(message["events"]))), t_ns)
                elif message["type"] == "lab/snapshot":
                    gap = message.get("gap")
                    p.tracker.snapshot(
                        int(message["snapshot"]["seq"]),
                        (int(gap["from"]), int(gap["to"])) if gap else None,
                    )
        except ConnectionClosed as exc:
            if not self.closing:
                code = exc.rcvd.code if exc.rcvd is not None else "none"
                self.ws_errors[f"ws closed by the server ({code})"] += 1

    async def command(self, p: Participant, command: dict[str, Any]) -> Sample:
        op = str(command["op"])
        sent = time.monotonic_ns()
        try:
            r = await p.client.post(f"/api/labs/{p.lab}/commands", json=command)
        except httpx.TimeoutException:
            return Sample(op, sent, time.monotonic_ns(), f"{op} timeout", None)
        except httpx.HTTPError as exc:
            return Sample(op, sent, time.monotonic_ns(), f"{op} {type(exc).__name__}", None)
        answered = time.monotonic_ns()
        body = _json(r)
        kind = error_kind(op, r.status_code, body)
        if kind is not None:
            message = str((body.get("error") or {}).get("message", ""))
            self.examples.setdefault(kind, message[:200])
        events = body.get("events") or []
        sample = Sample(op, sent, answered, kind, target_seq(events))
        result: Any = body.get("result")
        if op == "bind" and body.get("ok"):
            p.port = int(result["address"][1])
        if op == "recv" and body.get("ok") and isinstance(result, dict):
            sample.eof = bool(result.get("eof"))
        if op == "send" and body.get("ok") and isinstance(result, int):
            sample.sent = result
        return sample

    async def step(self, p: Participant) -> Sample | None:
        name = CYCLE[p.step]
        command = cycle_command(p.step, p.port)
        p.step = (p.step + 1) % len(CYCLE)
        if name == "socket srv":
            p.port = None
            p.failed_this_cycle = False
        if command is None:
            p.unsent_connects += 1
            return None
        sample = await self.command(p, command)
        if name == "recv conn (after close)":
            sample.op = "recv after close"
        if sample.kind is not None and not p.failed_this_cycle:
            sample.first = p.failed_this_cycle = True
        return sample

    async def warm_up(self, p: Participant) -> None:
        for _ in range(p.rng.randrange(len(CYCLE))):
            sample = await self.step(p)
            if sample is not None and sample.kind is not None:
                p.warmup_errors[sample.kind] += 1

    async def setup(self) -> dict[str, Any]:
        self.people = [
            Participant(i, self.client(), random.Random(self.seed * 100_003 + i))
            for i in range(self.n)
        ]
        gate = asyncio.Semaphore(JOIN_CONCURRENCY)
        await asyncio.gather(*(self.join(p, gate) for p in self.people))
        ready = [p for p in self.people if p.tracker is not None]
        if self.hostile:
            for p in ready:
                await self.flood_lab(p)
        else:
            await asyncio.gather(*(self.warm_up(p) for p in ready))
        return {"joined": len(ready), "join_errors": dict(self.join_errors)}

    # -- the window ----------------------------------------------------------------------

    async def steady(self, p: Participant, end_ns: int) -> None:
        delay = p.rng.uniform(0, PAUSE_S[1])
        while time.monotonic_ns() + delay * 1e9 < end_ns:
            await asyncio.sleep(delay)
            sample = await self.step(p)
            if sample is not None:
                p.samples.append(sample)
            delay = p.rng.uniform(*PAUSE_S)

    async def flood_lab(self, p: Participant) -> None:
        """srv auto-accepts and its conn discards what it reads, 1 KiB a recv() (the stream
        bench's flood: the most events a byte); cli is blocking, so sendall waits for it all."""
        options = {"auto_accept": True, "auto_recv": "discard", "bufsize": 1024}
        await self.command(p, {"op": "socket", "name": "srv", "options": options})
        await self.command(p, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
        await self.command(p, {"op": "listen", "socket": "srv"})
        await self.command(p, {"op": "socket", "name": "cli"})
        if p.port is not None:
            await self.command(p, {"op": "connect", "socket": "cli",
                                   "address": ["127.0.0.1", p.port]})  # fmt: skip

    async def flood(self, p: Participant, end_ns: int) -> None:
        """sendall(16 MiB) again and again; while one runs, the next is refused (409) and
        tried again 0.1 s later."""
        command = {"op": "sendall", "socket": "cli", "size": 16 * MiB}
        while time.monotonic_ns() < end_ns:
            sample = await self.command(p, command)
            p.samples.append(sample)
            if sample.kind is not None:
                await asyncio.sleep(0.1)

    async def window(self) -> dict[str, Any]:
        start = time.monotonic_ns()
        end_ns = start + int(self.seconds * 1e9)
        cpu0 = _cpu_s()
        lag = asyncio.create_task(_loop_lag(end_ns))
        runner = self.flood if self.hostile else self.steady
        work = [runner(p, end_ns) for p in self.people if p.tracker is not None]
        ended = asyncio.create_task(_announce_end(end_ns))
        done = asyncio.gather(*work)
        await asyncio.wait_for(done, self.seconds + REQUEST_TIMEOUT + 10)
        await ended
        lags = await lag
        if not self.hostile:  # the flood's viewer does not parse what it gets
            await self.drain()
        cpu = _cpu_s() - cpu0
        wall = (time.monotonic_ns() - start) / 1e9
        return self.report(lags, cpu / wall * 100)

    async def drain(self) -> None:
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            if all(_caught_up(p) for p in self.people if p.tracker is not None):
                return
            await asyncio.sleep(0.02)

    def report(self, lags: list[float], cpu_percent: float) -> dict[str, Any]:
        latency: list[float] = []
        delivery: list[float] = []
        after_answer: list[float] = []
        errors: Counter[str] = Counter()
        first_errors: Counter[str] = Counter()
        by_op: dict[str, list[float]] = {}
        warmup: Counter[str] = Counter()
        undelivered = lost_commands = 0
        eof: Counter[str] = Counter()
        sent: list[float] = []
        for p in self.people:
            warmup.update(p.warmup_errors)
            for s in p.samples:
                latency.append((s.answered_ns - s.sent_ns) / 1e6)
                by_op.setdefault(s.op, []).append(latency[-1])
                if s.kind is not None:
                    errors[s.kind] += 1
                if s.first and s.kind is not None:
                    first_errors[s.kind] += 1
                if s.op == "recv after close" and s.eof is not None:
                    eof["b''" if s.eof else "data"] += 1
                if s.sent is not None:
                    sent.append(s.sent)
                if s.target is None or p.tracker is None:
                    continue
                t = p.tracker.arrived(s.target)
                if t is not None:
                    delivery.append((t - s.sent_ns) / 1e6)
                    after_answer.append((t - s.answered_ns) / 1e6)
                elif p.tracker.in_gap(s.target):
                    lost_commands += 1
                else:
                    undelivered += 1
        trackers = [p.tracker for p in self.people if p.tracker is not None]
        return {
            "n": self.n,
            "joined": len(trackers),
            "commands": len(latency),
            "latency_ms": summary(latency),
            "delivery_ms": summary(delivery),
            "delivery_after_answer_ms": summary(after_answer),
            "lost_events": sum(t.lost for t in trackers),
            "repeated_events": sum(t.repeated for t in trackers),
            "commands_lost_in_gaps": lost_commands,
            "commands_undelivered": undelivered,
            "errors": dict(errors),
            "first_errors": dict(first_errors),
            "unsent_connects": sum(p.unsent_connects for p in self.people),
            "latency_by_op_ms": {op: summary(v) for op, v in by_op.items()},
            "warmup_errors": dict(warmup),
            "join_ms": summary(self.join_ms),
            "join_errors": dict(self.join_errors),
            "ws_errors": dict(self.ws_errors),
            "examples": self.examples,
            "recv_after_close": dict(eof),
            "send_took": summary(sent),
            "ws_mib": sum(p.ws_bytes for p in self.people) / MiB,
            "client_cpu_percent": cpu_percent,
            "loop_lag_ms": summary(lags),
        }

    async def close(self) -> None:
        self.closing = True
        for p in self.people:
            if p.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(p.ws.close(), 2)
            if p.watcher is not None:
                p.watcher.cancel()
                with contextlib.suppress(BaseException):
                    await p.watcher
            await p.client.aclose()


def _caught_up(p: Participant) -> bool:
    assert p.tracker is not None
    targets = [s.target for s in p.samples if s.target is not None]
    return not targets or p.tracker.last >= max(targets)


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {"error": {"message": r.text[:200]}}
    return body if isinstance(body, dict) else {"error": {"message": str(body)[:200]}}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _loop_lag(end_ns: int) -> list[float]:
    """How late this process's event loop wakes from a 20 ms sleep, in ms: when it is
    late, the latencies measured here are too (the load generator is the bottleneck)."""
    lags: list[float] = []
    while time.monotonic_ns() < end_ns:
        t0 = time.monotonic_ns()
        await asyncio.sleep(0.02)
        lags.append(max(0.0, (time.monotonic_ns() - t0) / 1e6 - 20))
    return lags


async def _announce_end(end_ns: int) -> None:
    await asyncio.sleep(max(0, end_ns - time.monotonic_ns()) / 1e9)
    _say({"steady_end": time.monotonic_ns()})


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


async def _read_line(seconds: float) -> str:
    """One line of stdin, read by a daemon thread (one stuck in readline() must not keep
    this process alive past its deadline, as an executor's thread would)."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def give(text: str) -> None:
        if not line.done():
            line.set_result(text)

    def read() -> None:
        loop.call_soon_threadsafe(give, sys.stdin.readline())

    threading.Thread(target=read, daemon=True).start()
    return await asyncio.wait_for(line, seconds)


async def main(config: dict[str, Any]) -> None:
    room = Room(config)
    try:
        _say({"ready": await room.setup()})
        if (await _read_line(120)).strip() != "go":
            return
        _say({"report": await room.window()})
    finally:
        await room.close()


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(json.loads(sys.argv[1])), HARD_LIMIT_S))
    except TimeoutError:
        print(f"roomload: gave up after {HARD_LIMIT_S:g} s", file=sys.stderr)
        sys.exit(1)
