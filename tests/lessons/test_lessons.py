"""Every lesson runs against the real kernel and proves its claims; each check can fail.

The variants change the experiment, not the check: the kernel then does something
else (the receiver reads everything, the peer talks before the recv(), ...) and the
check must say so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from lessonkit import run_to_end

from sockscope.engine.core.policy import LabPolicy
from sockscope.events import CheckOutcome
from sockscope.labs.registry import LabRegistry
from sockscope.lessons.model import Lesson, Step, all_lessons, find_lesson
from sockscope.lessons.runner import LessonRun


@pytest.fixture
def registry() -> Iterator[LabRegistry]:
    reg = LabRegistry(LabPolicy(), max_labs=4, idle_timeout=600)
    yield reg
    reg.close_all()


def run(registry: LabRegistry, lesson: Lesson) -> dict[int, CheckOutcome]:
    """Each claim's first check (a claim may have a second, e.g. 17 with a private network)."""
    outcomes: dict[int, CheckOutcome] = {}
    for outcome in run_all(registry, lesson):
        outcomes.setdefault(outcome.claim, outcome)
    return outcomes


def run_all(registry: LabRegistry, lesson: Lesson) -> list[CheckOutcome]:
    return run_to_end(registry, lesson)


def lesson(lesson_id: str) -> Lesson:
    found = find_lesson(lesson_id)
    assert found is not None
    return found


def edit(
    base: Lesson, changes: dict[int, Step | None], inserts: dict[int, Step] | None = None
) -> Lesson:
    """A variant: steps replaced (or dropped with None) by index, new steps inserted before."""
    steps: list[Step] = []
    for i, step in enumerate(base.steps):
        if inserts and i in inserts:
            steps.append(inserts[i])
        replaced = changes.get(i, step)
        if replaced is not None:
            steps.append(replaced)
    return dataclasses.replace(base, steps=tuple(steps))


def index(base: Lesson, **match: Any) -> int:
    """The index of the first step whose command or action has these fields."""
    for i, step in enumerate(base.steps):
        body = step.command or step.action or {}
        if all(body.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no step with {match} in {base.id}")


def command(**fields: Any) -> Step:
    return Step(text="variant", command=fields)


def either(step: Step, *outcomes: str) -> Step:
    """The same step, fine with other outcomes and asking nothing (a variant's kernel differs)."""
    return dataclasses.replace(step, expect=outcomes, predict=None)


def tuned(base: Lesson, do: str, **params: Any) -> Lesson:
    """A variant: the first step of action ``do`` run with other parameters."""
    at = index(base, do=do)
    step = base.steps[at]
    assert step.action is not None
    return edit(base, {at: dataclasses.replace(step, action={**step.action, **params})})


def test_the_lessons_cover_the_claims_once_each() -> None:
    claims = sorted(c for lesson in all_lessons() for c in lesson.claims)
    assert claims == list(range(1, 34))  # DESIGN.md 1-23, then beyond the HOWTO
    first = [lesson for lesson in all_lessons() if max(lesson.claims) <= 14]
    assert 5 <= len(first) <= 8  # Lessons I: claims 1-14, grouped as a teacher would


@pytest.mark.parametrize("lesson_id", [lesson.id for lesson in all_lessons()])
def test_each_lesson_proves_its_claims_on_the_real_kernel(
    registry: LabRegistry, lesson_id: str
) -> None:
    outcomes = run_all(registry, lesson(lesson_id))
    assert {o.claim for o in outcomes} == set(lesson(lesson_id).claims)
    assert len(outcomes) == len(lesson(lesson_id).checks)
    for outcome in outcomes:
        assert outcome.passed is True, f"claim {outcome.claim}: {outcome.observed}"
        assert outcome.observed and "not yet" not in outcome.observed


def test_partial_send_check_fails_when_everything_fits(registry: LabRegistry) -> None:
    base = lesson("partial-send")
    variant = edit(
        base,
        {
            index(base, op="socket", name="cli"): command(
                op="socket", name="cli", options={"blocking": False}
            ),
            index(base, op="send", size=1048576): command(op="send", socket="cli", size=1000),
            index(base, op="send", size=1048576) + 1: None,  # no flood until EAGAIN
            index(base, op="sendall"): command(op="sendall", socket="cli", size=1000),
        },
    )
    outcomes = run(registry, variant)
    assert outcomes[7].passed is False, outcomes[7].observed
    assert outcomes[13].passed is False, outcomes[13].observed


def test_backlog_checks_fail_when_the_backlog_is_large(registry: LabRegistry) -> None:
    """listen(16): all five get in at once, nobody waits and no final ACK is dropped."""
    base = lesson("backlog")
    variant = edit(
        base,
        {
            index(base, op="listen"): command(op="listen", socket="srv", backlog=16),
            **{
                i: None
                for i, s in enumerate(base.steps)
                if s.action and s.action["do"] == "wait" and s.action.get("socket") != "c1"
            },
        },
        inserts={index(base, op="accept"): Step(text="v", action={"do": "pause", "seconds": 1})},
    )
    outcomes = run_all(registry, variant)
    queue, race = outcomes
    assert queue.passed is False and "none" in queue.observed, queue.observed
    assert race.passed is False, race.observed


def test_bind_check_fails_for_a_server_on_every_address(registry: LabRegistry) -> None:
    """srv on 0.0.0.0: the connect via 127.0.0.2 gets in, so nothing shows 127.0.0.1 is narrower."""
    base = lesson("server-sockets")
    bind = index(base, op="bind", socket="srv")
    other = index(base, op="connect", socket="cli_other")
    variant = edit(
        base,
        {
            bind: command(op="bind", socket="srv", address=["0.0.0.0", 0]),
            other: either(base.steps[other], "ok"),
        },
    )
    outcome = run(registry, variant)[2]
    assert outcome.passed is False and "cli_other.connect" in outcome.observed, outcome.observed


def test_recv_waits_check_fails_when_the_peer_talks(registry: LabRegistry) -> None:
    base = lesson("end-of-stream")
    silent = index(base, op="recv") + 1  # the second recv: the one that should wait
    variant = edit(
        base,
        {
            silent: dataclasses.replace(base.steps[silent], expect=("ok",)),
            index(base, do="wait", figure="eof"): None,  # no blocked recv() to wake
        },
        inserts={silent: command(op="send", socket="cli", text="more\n")},
    )
    outcomes = run(registry, variant)
    assert outcomes[9].passed is False, outcomes[9].observed


def test_end_of_stream_check_fails_for_a_local_shutdown(registry: LabRegistry) -> None:
    """b'' because this side shut its reading down is not the peer closing: no CLOSE_WAIT."""
    base = lesson("end-of-stream")
    close = index(base, op="close", socket="cli")
    variant = edit(
        base,
        {
            index(base, op="recv") + 1: None,  # no waiting recv
            index(base, do="pause"): None,
            close: command(op="shutdown", socket="conn", how="SHUT_RD"),
            index(base, do="wait", state="CLOSE_WAIT"): None,
            index(base, do="wait", figure="eof"): None,  # no blocked recv() to wake
        },
    )
    outcomes = run(registry, variant)
    assert outcomes[8].passed is False, outcomes[8].observed


def test_glued_and_split_checks_fail_when_each_send_is_read_alone(registry: LabRegistry) -> None:
    base = lesson("framing")
    second = index(base, op="send", text="world\n")
    prefix = index(base, op="send", text="00")
    variant = edit(
        base,
        {
            index(base, do="wait", at_least=12): Step(
                text="variant",
                action={"do": "wait", "socket": "conn", "figure": "recv_queue", "at_least": 6},
            ),
            prefix: command(op="send", socket="cli", text="00012hello, world"),
            prefix + 1: Step(
                text="variant",
                action={"do": "wait", "socket": "conn", "figure": "recv_queue", "at_least": 17},
            ),
            prefix + 3: None,
            prefix + 4: None,
            prefix + 5: None,
            # and no workbench: it glues messages on purpose
            **{i: None for i in range(prefix + 6, len(base.steps))},
        },
        # read hello before world is sent
        inserts={second: command(op="recv", socket="conn", bufsize=4096)},
    )
    outcomes = run(registry, variant)
    assert outcomes[11].passed is False, outcomes[11].observed
    assert outcomes[12].passed is False, outcomes[12].observed


def test_framing_check_fails_when_no_receiver_breaks(registry: LabRegistry) -> None:
    """One message per send, each read alone: the naive receiver gets away with it."""
    base = lesson("framing")
    kept = {i: None for i, s in enumerate(base.steps) if s.action and s.action["do"] == "framing"}
    first = min(kept)
    variant = edit(
        base,
        {
            **kept,
            first: Step(
                text="variant",
                action={
                    "do": "framing",
                    "sender": "cli",
                    "receiver": "conn",
                    "strategy": "delimited",
                    "mode": "sliced",
                    "slice": 100,
                    "messages": ["only one"],
                },
            ),
        },
    )
    outcomes = run(registry, variant)
    assert outcomes[10].passed is False, outcomes[10].observed


def test_flush_check_fails_when_the_request_was_flushed_before_looking(
    registry: LabRegistry,
) -> None:
    base = lesson("buffers-and-ipc")
    write = index(base, op="write")
    arrived = Step(
        text="variant",
        action={"do": "wait", "socket": "conn", "figure": "recv_queue", "at_least": 18},
        observe={"name": "after_write", "socket": "conn", "figure": "recv_queue"},
    )
    variant = edit(
        base,
        {write: dataclasses.replace(base.steps[write], observe=None), index(base, do="ipc"): None},
        inserts={write + 2: arrived},  # looked only once flush() had sent the request
    )
    outcome = run(registry, variant)[6]
    assert outcome.passed is False, outcome.observed
    assert "18 bytes after write()" in outcome.observed


def test_byte_order_check_fails_for_a_palindrome(registry: LabRegistry) -> None:
    """0 reads the same in both orders: nothing to see, and the check says so."""
    base = lesson("byte-order")
    variant = edit(
        base,
        {
            i: Step(text="variant", action={**s.action, "value": 0})
            for i, s in enumerate(base.steps)
            if s.action and s.action["do"] == "byteorder"
        },
    )
    outcome = run(registry, variant)[14]
    assert outcome.passed is False, outcome.observed


def test_wildcard_check_fails_without_the_overlapping_bind(registry: LabRegistry) -> None:
    base = lesson("server-sockets")
    clash = index(base, op="bind", socket="wild")
    variant = edit(
        base,
        {
            clash: dataclasses.replace(
                base.steps[clash],
                expect=("ok",),
                predict=None,
                command={"op": "bind", "socket": "wild", "address": ["0.0.0.0", 0]},
            ),
            clash + 1: None,
        },
    )
    outcome = run(registry, variant)[2]
    assert outcome.passed is False, outcome.observed


def test_close_wait_check_fails_when_the_server_closes_promptly(registry: LabRegistry) -> None:
    base = lesson("endings")
    pause = index(base, do="pause")
    variant = edit(base, {}, inserts={pause: command(op="close", socket="conn")})
    variant = edit(variant, {index(variant, op="close", socket="conn") + 2: None})
    outcome = run(registry, variant)[16]
    assert outcome.passed is False, outcome.observed


def test_dead_peer_check_fails_when_the_peer_closes_cleanly(registry: LabRegistry) -> None:
    """No stall: the client's FIN crosses the link and recv() returns b'' at once."""
    base = lesson("when-sockets-die")
    waiting = index(base, op="recv", socket="conn") + 4  # the recv with the timeout
    assert base.steps[waiting].expect == ("timeout",)
    variant = edit(
        base,
        {
            index(base, op="fault"): None,
            waiting: dataclasses.replace(base.steps[waiting], expect=("ok",), predict=None),
            **{i: None for i in range(waiting + 1, len(base.steps))},
        },
    )
    outcome = run(registry, variant)[17]
    assert outcome.passed is False, outcome.observed


def test_tcp_gives_up_check_fails_when_the_far_side_closes_instead(
    registry: LabRegistry,
) -> None:
    """The cable stays in and the server closes: pcli's recv() reads b'', no ETIMEDOUT."""
    base = lesson("when-sockets-die")
    cut = index(base, op="cable", plugged=False)
    waiting = index(base, op="recv", socket="pcli")
    variant = edit(
        base,
        {
            cut: command(op="close", socket="pconn"),
            waiting: dataclasses.replace(base.steps[waiting], expect=("ok",), predict=None),
            **{i: None for i in range(waiting + 1, len(base.steps))},
        },
    )
    outcome = [o for o in run_all(registry, variant) if o.claim == 17][-1]
    assert outcome.passed is False and "b''" in outcome.observed, outcome.observed


def walk(lab: Any, base: Lesson) -> tuple[list[Any], list[CheckOutcome]]:
    """Every step of ``base`` in ``lab``, one by one: each step's report, and the checks."""

    async def go() -> tuple[list[Any], list[CheckOutcome]]:
        runner = LessonRun(lab, base)
        await runner.start()
        reports = []
        while not runner.finished:
            reports.append(await runner.next())
        return reports, runner.checks()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result(timeout=120)


def test_a_machine_without_a_private_network_skips_those_steps_and_says_so(
    registry: LabRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sockscope.engine import privnet

    monkeypatch.setattr(privnet, "availability", lambda: (False, "unshare() was refused"))
    base = lesson("when-sockets-die")
    lab = registry.create()
    reports, outcomes = walk(lab, base)
    needing = [i for i, step in enumerate(base.steps) if step.needs == "private_network"]
    assert len(needing) >= 10
    for i in needing:
        assert reports[i].message.startswith("Skipped: ") and "unshare() was refused" in (
            reports[i].message
        )
    assert lab.engine.private is None  # nothing tried to make one
    real = [o for o in outcomes if o.claim == 17][-1]
    assert real.passed is None and "unshare() was refused" in real.observed
    assert all(o.passed for o in outcomes if o is not real)


def test_a_machine_without_ipv6_skips_the_dual_stack_lesson_and_says_so(
    registry: LabRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sockscope.engine import machine

    monkeypatch.setattr(machine, "ipv6_missing", lambda: "Cannot assign requested address")
    base = lesson("dual-stack")
    lab = registry.create()
    reports, outcomes = walk(lab, base)
    assert all(step.needs == "ipv6" for step in base.steps)
    assert all(r.message.startswith("Skipped: ") for r in reports), [r.message for r in reports]
    assert not lab.engine.sockets  # nothing was tried
    assert outcomes[0].passed is None and "no IPv6 loopback" in outcomes[0].observed


def test_nothing_done_check_fails_when_a_connection_was_waiting(registry: LabRegistry) -> None:
    """accept() called only once a client is queued does something: no EAGAIN to show."""
    base = lesson("nonblocking-select")
    steps = [
        s
        for s in base.steps
        if not (
            s.command and s.command["op"] in ("accept", "pause", "auto", "step", "resume", "recv")
        )
    ]
    connect = next(i for i, s in enumerate(steps) if s.command and s.command["op"] == "connect")
    steps = steps[: connect + 1]
    queued = {"do": "wait", "socket": "srv", "figure": "accept_queue", "at_least": 1}
    steps += [
        Step(text="variant", action=queued),
        Step(
            text="variant",
            command={"op": "recv", "socket": "cli", "bufsize": 10},
            expect=("EAGAIN",),
        ),
        Step(text="variant", command={"op": "accept", "socket": "srv"}),
    ]
    outcome = run(registry, dataclasses.replace(base, steps=tuple(steps)))[19]
    assert outcome.passed is False, outcome.observed


def test_a_lesson_with_a_link_runs_twice_in_one_lab(registry: LabRegistry) -> None:
    lab = registry.create()
    base = lesson("when-sockets-die")

    async def twice() -> list[CheckOutcome]:
        for _ in range(2):
            runner = LessonRun(lab, base)
            await runner.start()
            outcomes = await asyncio.wait_for(runner.run_to_end(), 90)
            assert runner.failed is None, runner.failed
        return outcomes

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        outcomes = pool.submit(asyncio.run, twice()).result(timeout=200)
    assert all(o.passed for o in outcomes), outcomes


def test_framing_check_fails_when_only_the_lesson_cut_the_stream(registry: LabRegistry) -> None:
    """Without the back-to-back run, the naive receiver breaks only where the lesson sliced."""
    base = lesson("framing")
    variant = edit(
        base,
        {i: None for i, s in enumerate(base.steps)
         if s.action and s.action.get("mode") == "back_to_back"},
    )  # fmt: skip
    outcome = run(registry, variant)[10]
    assert outcome.passed is False and "the lesson itself sliced" in outcome.observed


def test_byte_order_check_fails_when_both_runs_use_network_order(registry: LabRegistry) -> None:
    base = lesson("byte-order")
    variant = edit(
        base,
        {
            i: Step(text="variant", action={**s.action, "fmt": "!I"})
            for i, s in enumerate(base.steps)
            if s.action and s.action["do"] == "byteorder"
        },
    )
    outcome = run(registry, variant)[14]
    assert outcome.passed is None or outcome.passed is False, outcome.observed
    assert outcome.passed is not True


def test_dead_peer_check_fails_for_a_peer_that_is_only_silent(registry: LabRegistry) -> None:
    """The link stalls but cli never closes: a silent live peer, lesson 04's case, not 17's."""
    base = lesson("when-sockets-die")
    variant = edit(base, {index(base, op="close", socket="cli"): None})
    outcome = run(registry, variant)[17]
    assert outcome.passed is False and "cli was alive" in outcome.observed, outcome.observed


def test_nothing_done_check_fails_when_send_always_finds_room(registry: LabRegistry) -> None:
    base = lesson("nonblocking-select")
    flood = index(base, op="send", socket="cli")
    variant = edit(base, {flood: command(op="send", socket="cli", text="small")})
    outcome = run(registry, variant)[19]
    assert outcome.passed is False and "every send() took bytes" in outcome.observed


def test_shapes_check_fails_for_a_select_loop_that_reads_before_select(
    registry: LabRegistry,
) -> None:
    variant = tuned(lesson("server-shapes"), "shapes", select_reads_unready=True, clients=4)
    outcome = run(registry, variant)[23]
    assert outcome.passed is False and "one select() loop: served 4/4" in outcome.observed
    assert "1 blocked in recv() at once" in outcome.observed, outcome.observed


def test_time_wait_check_fails_when_the_client_closes_first(registry: LabRegistry) -> None:
    """The client's side keeps the TIME_WAIT then: the server's port is free at once."""
    base = lesson("time-wait")
    first, second = index(base, op="close", socket="conn"), index(base, op="close", socket="cli")
    again = index(base, op="bind", socket="again")
    careful = index(base, op="bind", socket="careful")
    variant = edit(
        base,
        {
            first: base.steps[second],
            second: base.steps[first],
            again: either(base.steps[again], "ok", "EADDRINUSE"),
            careful: either(base.steps[careful], "ok", "EADDRINUSE"),
        },
    )
    outcome = run(registry, variant)[24]
    assert outcome.passed is False, outcome.observed
    assert "again.bind(('127.0.0.1'" in outcome.observed and "-> None" in outcome.observed


def test_reset_check_fails_when_the_request_was_read_first(registry: LabRegistry) -> None:
    base = lesson("reset")
    close = index(base, op="close", socket="conn")
    heard = index(base, op="recv", socket="cli")
    variant = edit(
        base,
        {heard: either(base.steps[heard], "ok", "ECONNRESET")},
        inserts={close: command(op="recv", socket="conn", bufsize=1024)},
    )
    outcome = run(registry, variant)[25]
    assert outcome.passed is False and "with 0 bytes unread" in outcome.observed, outcome.observed


def test_broken_pipe_check_fails_when_the_peer_only_stops_sending(
    registry: LabRegistry,
) -> None:
    """shutdown(SHUT_WR) is a half-close: the peer still takes bytes, no send() fails."""
    base = lesson("broken-pipe")
    close = index(base, op="close", socket="conn")
    second = index(base, op="send", text="two")
    variant = edit(
        base,
        {
            close: command(op="shutdown", socket="conn", how="SHUT_WR"),
            second: either(base.steps[second], "ok", "EPIPE", "ECONNRESET"),
            len(base.steps) - 1: None,  # the peer is alive and silent: recv() would wait
        },
    )
    outcome = run(registry, variant)[26]
    assert outcome.passed is False and "cli.send(b'two') -> 3" in outcome.observed, outcome.observed


def test_keepalive_check_fails_without_keepalive(registry: LabRegistry) -> None:
    """No SO_KEEPALIVE: the idle server side never hears of the pulled cable; only the
    program's own timeout (5 s here) ends its recv()."""
    base = lesson("keepalive")
    on = index(base, op="setsockopt", option="SO_KEEPALIVE")
    wait = index(base, op="recv", socket="pconn")
    variant = edit(
        base,
        {
            on: command(op="settimeout", socket="pconn", timeout=5.0),
            wait: dataclasses.replace(either(base.steps[wait], "timeout"), wait=8),
        },
    )
    outcome = run(registry, variant)[27]
    assert outcome.passed is False and "pconn.recv(1024) -> timeout" in outcome.observed, (
        outcome.observed
    )


def test_nagle_check_fails_on_a_fresh_connection(registry: LabRegistry) -> None:
    """No warm-up and one round: a new connection acknowledges at once (quick ACK mode), so
    the two small writes do not wait, and the check has nothing to show."""
    variant = tuned(lesson("nagle"), "nagle", rounds=1, warmup=0)
    outcome = run(registry, variant)[28]
    assert outcome.passed is False, outcome.observed


def test_fd_setsize_check_fails_below_the_limit(registry: LabRegistry) -> None:
    """Asked about descriptor 100, select() answers like poll(): nothing to show."""
    variant = tuned(lesson("fd-setsize"), "fdlimit", at_least=100)
    outcome = run(registry, variant)[29]
    assert outcome.passed is False and "fd 100: select() readable" in outcome.observed


def test_zero_window_check_fails_when_the_buffers_never_fill(registry: LabRegistry) -> None:
    base = lesson("zero-window")
    flood = index(base, op="send", socket="cli")
    variant = edit(base, {flood: command(op="send", socket="cli", text="a few bytes")})
    outcome = run(registry, variant)[30]
    assert outcome.passed is False and "window never fell to 0" in outcome.observed


def test_datagram_check_fails_on_a_stream(registry: LabRegistry) -> None:
    """The same two messages over TCP: one recv() takes both, the edge is gone."""
    base = lesson("datagrams")
    first_read = index(base, op="recvfrom", bufsize=1024)
    changes: dict[int, Step | None] = {
        index(base, op="socket", name="srv"): command(op="socket", name="srv"),
        index(base, op="socket", name="cli"): command(op="socket", name="cli"),
        first_read: command(op="recv", socket="conn", bufsize=1024),
        **{i: None for i in range(first_read + 1, len(base.steps))},
    }
    for i, step in enumerate(base.steps[:first_read]):
        if step.command and step.command["op"] == "sendto":
            changes[i] = command(op="send", socket="cli", text=step.command["text"])
    variant = edit(
        base,
        changes,
        inserts={
            index(base, op="socket", name="cli"): command(op="listen", socket="srv"),
            index(base, op="sendto", text="hello"): command(
                op="connect", socket="cli", address=["127.0.0.1", "{port:srv}"]
            ),
            first_read: command(op="accept", socket="srv", name="conn"),
        },
    )
    variant = dataclasses.replace(
        variant,
        checks=tuple(
            dataclasses.replace(c, params={"sender": "cli", "receiver": "conn"})
            for c in variant.checks
        ),
    )
    outcome = run(registry, variant)[31]
    assert outcome.passed is False and "b'helloworld'" in outcome.observed, outcome.observed


def test_reference_check_fails_when_the_copy_is_closed_first(registry: LabRegistry) -> None:
    """copy closed before conn: conn's close() is then the last one, and the FIN goes."""
    base = lesson("references")
    close = index(base, op="close", socket="conn")
    wait = index(base, op="recv", socket="cli")
    variant = edit(
        base,
        {
            wait: either(base.steps[wait], "ok", "timeout"),
            **{i: None for i in range(wait + 1, len(base.steps))},
        },
        inserts={close: command(op="close", socket="copy")},
    )
    outcome = run(registry, variant)[32]
    assert outcome.passed is False and "cli.recv(1024) -> b''" in outcome.observed, outcome.observed


def test_dual_stack_check_fails_when_v6only_is_off_everywhere(registry: LabRegistry) -> None:
    base = lesson("dual-stack")
    late = index(base, op="connect", socket="late4")
    bind4 = index(base, op="bind", socket="srv4")
    variant = edit(
        base,
        {
            index(base, op="socket", name="only6"): command(
                op="socket", name="only6", options={"family": "AF_INET6", "v6only": False}
            ),
            late: either(base.steps[late], "ok", "ECONNREFUSED"),
            bind4: either(base.steps[bind4], "ok", "EADDRINUSE"),
        },
    )
    outcome = run(registry, variant)[33]
    assert outcome.passed is False and "late4.connect" in outcome.observed, outcome.observed


@pytest.mark.parametrize(
    ("lesson_id", "claim", "cited"),
    [
        ("backlog", 3, "SYN again"),  # the SYN the full queue dropped, retransmitted
        ("end-of-stream", 8, "FIN"),  # the FIN behind b''
        ("endings", 15, "FIN"),  # the half-close's FIN, and the reply after it
        ("endings", 16, "FIN"),
        ("when-sockets-die", 17, "no FIN and no RST reached"),
        ("nonblocking-select", 19, "SYN (frame"),  # the SYN left as connect() said EINPROGRESS
    ],
)
def test_checks_cite_the_segments_the_wire_showed(
    registry: LabRegistry, lesson_id: str, claim: int, cited: str
) -> None:
    """As root the lane captures: the check quotes the segments beside the calls."""
    outcomes = [o for o in run_all(registry, lesson(lesson_id)) if o.claim == claim]
    assert outcomes and all(o.passed for o in outcomes), outcomes
    wired = [o.observed for o in outcomes if "on the wire:" in o.observed]
    assert any(cited in text for text in wired), outcomes


def test_without_a_capture_the_checks_say_which_evidence_they_used() -> None:
    reg = LabRegistry(LabPolicy(capture=False), max_labs=2, idle_timeout=600)
    try:
        outcome = run(reg, lesson("endings"))[15]
    finally:
        reg.close_all()
    assert outcome.passed, outcome
    assert "on the wire" not in outcome.observed
    assert "evidence: the calls and the kernel's figures" in outcome.observed
