"""Bench: one poll of the closed-connection watch, /proc/net/tcp against NETLINK_SOCK_DIAG.

Two closed connections are watched (one in TIME_WAIT, one in FIN_WAIT2 with its peer in
CLOSE_WAIT), on a lab port. Around them, a child process holds 0, 1,000 and 5,000 extra
established connections on 127.0.0.1 (both ends: two lines each in /proc/net/tcp), on
ports outside the lab range, like the rest of a busy machine.

Per level, each measured 5 times (the median shown), interleaved:
- ``read_table()``: what each lab's poll did before: read and parse all of /proc/net/tcp.
- the shared poller's query: exact sock_diag lookups of the watched connections (what a
  poll costs now, when it is the one that asks the kernel; the others reuse the reading).
- a sock_diag dump filtered in the kernel by the lab port range: the alternative that
  was measured and not chosen (it walks the whole established hash, and misses a
  connection to an allowed address outside the range).
And, for a room of 300 labs with two watched connections each: per probe interval, one
lookup of 600 connections (598 more in TIME_WAIT), against 300 reads of /proc/net/tcp
(derived from the median at 5,000). Ratios are how many times the lookup's cost.
"""

from __future__ import annotations

import os
import random
import resource
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.core.sockdiag import LINGERING_STATES
from sockscope.engine.sockdiag import DiagReader
from sockscope.engine.watch import SharedPoller, read_table

from .common import RUNS, BenchTimeout, Check, Deadline, Row, ended, median, runs_text, wait_until

LEVELS = (0, 1000, 5000)
LABS = 300  # the room the watch has to serve
HOLD_SECONDS = 60.0  # deadline for the child to make the connections of one level
Conn = tuple[tuple[str, int], tuple[str, int]]


# -- the child that holds the extra connections -------------------------------------------


def hold() -> None:
    """Child process: on each line N from stdin, hold N established pairs; answer 'ok N'.
    At the end of stdin, reset them all (so the next run's table is not full of TIME_WAIT)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    address = listener.getsockname()[:2]
    held: list[socket.socket] = []
    for line in sys.stdin:
        target = int(line)
        try:
            while len(held) < 2 * target:
                held.append(socket.create_connection(address, timeout=5))
                held.append(listener.accept()[0])
        except OSError as exc:
            print(f"stopped at {len(held) // 2}: {exc}", file=sys.stderr)
        print(f"ok {len(held) // 2}", flush=True)
    reset = struct.pack("ii", 1, 0)  # SO_LINGER 0: closed with RST, no TIME_WAIT left behind
    for each in held:
        each.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, reset)
        each.close()


class Holder:
    def __init__(self) -> None:
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.watch"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ensure(self, count: int) -> int:
        """Hold ``count`` extra connections; returns how many are held."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        deadline = Deadline(HOLD_SECONDS, f"a child to hold {count:,} connections")
        while not select.select([self.process.stdout], [], [], 0.5)[0]:
            deadline.check()
            if self.process.poll() is not None:
                raise BenchTimeout(f"the connection holder exited ({self.process.returncode})")
        answer = self.process.stdout.readline().split()
        return int(answer[1])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        ended(self.process, 10)
        if self.process.stdout is not None:
            self.process.stdout.close()


# -- the watched connections --------------------------------------------------------------


def lab_port(policy: LabPolicy) -> socket.socket:
    ports = list(range(policy.port_min, policy.port_max + 1))
    random.shuffle(ports)
    for port in ports:
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            listener.close()
            continue
        listener.listen(8)
        return listener
    raise BenchTimeout("no free port in the lab range")


def time_waits(listener: socket.socket, count: int) -> list[Conn]:
    """``count`` client connections to ``listener``, closed by both ends: TIME_WAIT."""
    conns: list[Conn] = []
    for _ in range(count):
        cli = socket.create_connection(listener.getsockname()[:2], timeout=5)
        srv, _ = listener.accept()
        conns.append((cli.getsockname(), cli.getpeername()))
        cli.close()
        srv.close()
    return conns


def watched_pairs(listener: socket.socket) -> tuple[list[Conn], list[socket.socket]]:
    """Two client connections to ``listener``, closed: one in TIME_WAIT, one in FIN_WAIT2."""
    conns: list[Conn] = []
    keep: list[socket.socket] = []
    for n in range(2):
        cli = socket.create_connection(listener.getsockname()[:2], timeout=5)
        srv, _ = listener.accept()
        conns.append((cli.getsockname(), cli.getpeername()))
        cli.close()
        if n == 0:
            srv.close()  # the peer closes too: cli goes TIME_WAIT
        else:
            keep.append(srv)  # CLOSE_WAIT: cli stays in FIN_WAIT2
    want = {conns[0]: "TIME_WAIT", conns[1]: "FIN_WAIT2"}
    wait_until(
        lambda: all(read_table().get(c) == s for c, s in want.items()), 5, "TIME_WAIT, FIN_WAIT2"
    )
    return conns, keep


# -- timing -------------------------------------------------------------------------------


def per_call(fn: Callable[[], object], repeat: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def ms_row(
    bench: str, metric: str, runs: list[float], base: tuple[float, str] | None = None
) -> Row:
    """A row of per-call seconds, shown in ms; ``base``: (a median in ms, its name)."""
    value = median(runs) * 1e3
    if base is None:
        return Row(bench, metric, value, "ms", runs=tuple(v * 1e3 for v in runs))
    return Row(bench, metric, value, "ms", base[0], base[1], tuple(v * 1e3 for v in runs))


class Level:
    """The three readers timed at one level of extra connections."""

    def __init__(self, reader: DiagReader, conns: list[Conn], policy: LabPolicy) -> None:
        self.reader, self.conns, self.policy = reader, conns, policy
        self.poller = SharedPoller(opener=lambda: (reader, "sock_diag"))
        self.clock = time.monotonic_ns()

    def shared_poll(self) -> object:
        self.clock += self.poller.interval_ns  # every call is the one that asks the kernel
        return self.poller.read(1, self.conns, self.clock)

    def dump(self) -> object:
        return self.reader.dump(LINGERING_STATES, (self.policy.port_min, self.policy.port_max))

    def agree(self, level: int) -> Check:
        table = read_table()
        via_diag = self.reader.lookup(self.conns)
        states = [via_diag.get(c) for c in self.conns], [table.get(c) for c in self.conns]
        return Check(
            f"watch: sock_diag = /proc/net/tcp at {level:,}",
            states[0] == states[1],
            f"{states[0]} vs {states[1]}",
        )

    def measure(self, held: int) -> tuple[list[Row], list[float], list[float]]:
        old: list[float] = []
        new: list[float] = []
        dumps: list[float] = []
        for _ in range(RUNS):  # interleaved
            old.append(per_call(read_table, 3))
            new.append(per_call(self.shared_poll, 50))
            dumps.append(per_call(self.dump, 10))
        print(
            f"    {held:,} extra connections ({len(read_table()):,} IPv4 TCP entries in the"
            f" table): read_table {runs_text(old, 1e3, 2)} ms; sock_diag lookup"
            f" {runs_text(new, 1e6, 0)} us; filtered dump {runs_text(dumps, 1e6, 0)} us"
        )
        name = f"watch, {held:,} extra"
        lookup = (median(new) * 1e3, "lookup")  # ratios: times the lookup's cost
        rows = [
            ms_row(name, "sock_diag lookup per poll (now)", new),
            ms_row(name, "read_table() per poll (before)", old, lookup),
            ms_row(name, "sock_diag dump, lab ports (not chosen)", dumps, lookup),
        ]
        return rows, old, new


def room(
    reader: DiagReader, listener: socket.socket, conns: list[Conn], old_s: float
) -> tuple[list[Row], Check]:
    """A room: each probe interval every lab read the table; now one query for all of them."""
    watched = conns + time_waits(listener, 2 * LABS - len(conns))
    found = reader.lookup(watched)
    check = Check(
        f"watch: {len(watched)} watched connections looked up in one query",
        len(found) == len(watched) and all(found[c] == "TIME_WAIT" for c in watched[2:]),
        f"{len(found)} answered, {sum(1 for s in found.values() if s)} still tracked",
    )
    runs = [per_call(lambda: reader.lookup(watched), 3) for _ in range(RUNS)]
    before = old_s * LABS
    print(
        f"    {LABS} labs x 2 watched, one query per interval: {runs_text(runs, 1e3, 2)} ms"
        f" (before, at {LEVELS[-1]:,} extra: {LABS} x {old_s * 1e3:.1f} ms = {before:.1f} s"
        " of CPU per 0.25 s interval)"
    )
    name = f"watch, {LABS} labs"
    rows = [
        ms_row(name, f"per interval: one lookup of {len(watched)}", runs),
        Row(
            name,
            f"per interval: {LABS} x read_table (derived)",
            before * 1e3,
            "ms",
            median(runs) * 1e3,
            "one lookup",
        ),
    ]
    return rows, check


def run() -> tuple[list[Row], list[Check]]:
    policy = LabPolicy()
    print(
        f"[watch] one poll of the closed-connection watch (2 watched connections) with"
        f" {', '.join(f'{n:,}' for n in LEVELS)} extra established connections; {RUNS} runs"
    )
    rows: list[Row] = []
    checks: list[Check] = []
    listener = lab_port(policy)
    reader = DiagReader()
    reader.open()
    holder = Holder()
    keep: list[socket.socket] = []
    try:
        conns, keep = watched_pairs(listener)
        timing = Level(reader, conns, policy)
        old: list[float] = [float("nan")]
        new: list[float] = [float("nan")]
        for level in LEVELS:
            held = holder.ensure(level)
            checks.append(timing.agree(level))
            more, old, new = timing.measure(held)
            rows += more
        checks.append(
            Check(
                f"watch: the held connections reached {LEVELS[-1]:,}",
                held >= LEVELS[-1],
                f"{held:,} held (RLIMIT_NOFILE of the child)",
            )
        )
        ratio = median(old) / median(new)
        checks.append(
            Check(
                f"watch: sock_diag >= 10x cheaper than read_table at {LEVELS[-1]:,}",
                ratio >= 10,
                f"{ratio:,.0f}x cheaper (median per poll, same run)",
            )
        )
        more, check = room(reader, listener, conns, median(old))
        rows += more
        checks.append(check)
    finally:
        holder.close()
        for each in keep:
            each.close()
        listener.close()
        reader.close()
    return rows, checks


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    hold()
