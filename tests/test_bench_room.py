"""The room bench's pure parts: percentiles, what a viewer received, error kinds, /proc text."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.room import Measured, MiB, checks_of, cpu_seconds, rss_bytes, stat_fields
from bench.roomload import (
    CYCLE,
    SeqTracker,
    cycle_command,
    error_kind,
    percentile,
    target_seq,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7
    assert percentile([1.0, 2.0], 99) == 2
    assert math.isnan(percentile([], 99))


def test_a_viewer_that_got_everything_lost_nothing() -> None:
    t = SeqTracker(10)
    t.batch([11, 12, 13], 1000)
    t.batch([14], 2000)
    assert (t.lost, t.repeated, t.last) == (0, 0, 14)
    assert t.arrived(12) == 1000 and t.arrived(14) == 2000
    assert t.arrived(10) is None and t.arrived(15) is None


def test_holes_and_snapshot_gaps_count_as_lost() -> None:
    t = SeqTracker(0)
    t.batch([1, 2], 1)
    t.batch([5, 6, 8], 2)  # 3-4 before the batch, 7 inside it
    assert t.lost == 3 and t.gaps == [(3, 4), (7, 7)]
    assert t.arrived(7) is None and t.in_gap(7) and t.arrived(8) == 2
    t.snapshot(20, (9, 20))  # fell behind: the snapshot names what it was never sent
    assert t.lost == 15 and t.last == 20
    t.snapshot(25, None)  # past the cursor with no gap named: lost just the same
    assert t.lost == 20
    t.batch([25, 26], 3)  # 25 again
    assert t.repeated == 1 and t.last == 26 and t.arrived(26) == 3


def test_error_kinds() -> None:
    ok = {"ok": True, "result": None, "events": []}
    assert error_kind("close", 200, ok) is None
    inprogress = {"ok": False, "error": {"errno": "EINPROGRESS", "message": "..."}}
    assert error_kind("connect", 200, inprogress) is None
    assert error_kind("send", 200, inprogress) == "send 200 EINPROGRESS"
    assert error_kind("recv", 200, {"ok": True, "blocked": True}) == (
        "recv 200 still blocked after the command wait"
    )
    fd = "the new socket got file descriptor 1026, and select() can only watch descriptors"
    kind = error_kind("socket", 409, {"ok": False, "error": {"errno": None, "message": fd}})
    assert kind == "socket 409 the new socket got file descriptor N, and select() can only "
    other = {"ok": False, "error": {"errno": None, "message": fd.replace("1026", "1031")}}
    assert error_kind("socket", 409, other) == kind
    full = {"ok": False, "error": {"message": "this server already runs 70 labs, its limit"}}
    assert error_kind("join", 503, full) == "join 503 this server already runs N labs, its limit"


def test_the_seq_a_viewer_must_get() -> None:
    events = [{"kind": "call_started", "seq": 4}, {"kind": "call", "seq": 5},
              {"kind": "probe", "seq": 6}]  # fmt: skip
    assert target_seq(events) == 5
    assert target_seq([{"kind": "command_error", "seq": 9}]) == 9
    assert target_seq([]) is None


def test_the_cycle_connects_to_the_port_it_bound() -> None:
    commands = [cycle_command(i, 40007) for i in range(len(CYCLE))]
    assert commands[0] == {"op": "socket", "name": "srv"}
    assert commands[4] == {"op": "connect", "socket": "cli", "address": ["127.0.0.1", 40007]}
    assert {"op": "send", "socket": "cli", "size": 1 << 20} in commands
    assert commands[-1] == {"op": "close", "socket": "srv"}
    assert cycle_command(CYCLE.index("connect cli"), None) is None


@pytest.mark.parametrize("comm", ["python3", "a b) (c"])
def test_proc_stat_fields_after_any_command_name(comm: str) -> None:
    # pid (comm) state ppid ... utime stime cutime cstime (fields 14-17), then more
    fields = ["S", "41", *["0"] * 9, "300", "200", "50", "25", "20", "0"]
    text = f"123 ({comm}) " + " ".join(fields)
    assert stat_fields(text)[1] == "41"
    assert cpu_seconds(text) == pytest.approx(575 / 100)


def test_rss_from_proc_status() -> None:
    assert rss_bytes("Name:\tpython\nVmRSS:\t  2048 kB\nThreads:\t3\n") == 2048 * 1024
    assert rss_bytes("Name:\tzombie\n") == 0


def measured(n: int, joined: int, errors: int, p99: float) -> Measured:
    report = {
        "joined": joined,
        "commands": 1000,
        "latency_ms": {"p50": p99 / 4, "p99": p99},
        "delivery_ms": {"p50": 55.0, "p99": 60.0},
        "lost_events": 0,
        "commands_undelivered": 0,
        "errors": {"socket 409 the new socket got file descriptor N": errors} if errors else {},
        "first_errors": {},
        "join_errors": {"join 503 no descriptor": n - joined} if n > joined else {},
        "ws_errors": {},
    }
    return Measured(n, False, report, 10.0, 100 * MiB, 50 * MiB, 600, 600, None)


def test_a_room_that_refused_its_load_meets_no_speed_target() -> None:
    fast_but_refused = {(300, False): measured(300, 250, 900, 20.0)}
    checks = {c.name: c for c in checks_of(fast_but_refused, {}, 300)}
    assert not checks["room N=300: command p99 <= 100 ms"].ok
    assert not checks["room N=300: RSS <= 2 MiB per participant"].ok
    assert "no room ran" in checks["room N=300: command p99 <= 100 ms"].detail
    assert checks["room N=300: 0 events lost"].ok
    sound = {(300, False): measured(300, 300, 0, 20.0)}
    checks = {c.name: c for c in checks_of(sound, {}, 300)}
    assert checks["room N=300: command p99 <= 100 ms"].ok
    assert checks["room N=300: 0 errors"].ok
    assert checks["room N=300: RSS <= 2 MiB per participant"].ok  # 100 MiB / 300
    slow = {(300, False): measured(300, 300, 0, 150.0)}
    assert not {c.name: c for c in checks_of(slow, {}, 300)}["room N=300: command p99 <= 100 ms"].ok


def test_the_hostile_ratio_compares_medians_of_the_runs() -> None:
    """One noisy run must not decide it: 3 runs each, the medians' ratio."""
    name = "room: the 30's p99 next to a hostile <= 1.2x alone (medians of the runs)"
    calm = {False: [20.0, 30.0, 21.0], True: [22.0, 80.0, 23.0]}  # one bad run of three
    check = {c.name: c for c in checks_of({}, {}, 300, calm)}[name]
    assert check.ok and "1.10x" in check.detail
    moved = {False: [20.0, 21.0, 19.0], True: [40.0, 23.0, 45.0]}
    assert not {c.name: c for c in checks_of({}, {}, 300, moved)}[name].ok
