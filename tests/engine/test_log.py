"""The bounded event log: cursors, trimming, gaps, listeners (no threads needed)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sockscope.engine import log as log_module
from sockscope.engine.log import EventLog, encode
from sockscope.events import BytesInfo, CallEvent, Event, NoticeEvent, SelectEvent, to_wire


def notice(seq: int) -> NoticeEvent:
    return NoticeEvent(seq=seq, t_ns=seq * 1000, socket=None, message="x")


def filled(capacity: int, count: int) -> EventLog:
    log = EventLog(capacity)
    for seq in range(1, count + 1):
        log.append(notice(seq))
    return log


def held(log: EventLog) -> int:
    return log.last_seq - log.first_seq + 1


def test_an_empty_log_has_nothing_after_zero() -> None:
    page = EventLog(100).after(0)
    assert page.events == []
    assert page.gap is None
    assert page.last_seq == 0


def test_after_returns_what_follows_the_cursor_in_order() -> None:
    log = filled(100, 30)
    page = log.after(10)
    assert [e.seq for e in page.events] == list(range(11, 31))
    assert page.gap is None
    assert page.last_seq == 30


def test_after_honours_the_limit() -> None:
    log = filled(100, 30)
    assert [e.seq for e in log.after(10, limit=5).events] == [11, 12, 13, 14, 15]
    assert [e.seq for e in log.after(0, limit=1).events] == [1]


def test_a_cursor_at_or_past_the_end_gets_nothing() -> None:
    log = filled(100, 30)
    assert log.after(30).events == []
    assert log.after(99).events == []
    assert log.after(99).gap is None


def test_memory_stays_bounded() -> None:
    log = EventLog(100)
    most = 0
    for seq in range(1, 2001):
        log.append(notice(seq))
        most = max(most, held(log))
        assert held(log) <= 100 * 1.25
    assert log.last_seq == 2000
    assert most > 100  # trimming is batched: it lets the log overshoot, then cuts back
    assert log.first_seq > 1


@pytest.mark.parametrize("add", ["append", "extend"])
def test_a_capacity_set_later_bounds_the_log(add: str) -> None:
    """A lab host lowers its lab's log capacity once it knows its share of events: from
    then on both ways of adding trim to the new bound."""
    log = EventLog(1000)
    log.capacity = 100
    for seq in range(1, 1001):
        if add == "append":
            log.append(notice(seq))
        else:
            log.extend([notice(seq)])  # type: ignore[list-item]
        assert held(log) <= 125
    assert log.capacity == 100 and log.last_seq == 1000


def test_a_tiny_capacity_is_raised_to_a_floor() -> None:
    log = filled(1, 100)
    assert 16 <= held(log) <= 20


def test_a_reader_that_fell_behind_is_told_the_gap_then_reads_without_holes() -> None:
    log = EventLog(100)
    for seq in range(1, 41):
        log.append(notice(seq))
    cursor = log.after(0, limit=40).events[-1].seq
    assert cursor == 40
    for seq in range(41, 1001):
        log.append(notice(seq))
    first_kept = log.first_seq
    assert first_kept > cursor + 1

    page = log.after(cursor, limit=7)
    assert page.gap == (cursor + 1, first_kept - 1)
    assert page.events[0].seq == first_kept

    seen = [e.seq for e in page.events]
    cursor = seen[-1]
    while True:
        page = log.after(cursor, limit=7)
        assert page.gap is None
        if not page.events:
            break
        seen.extend(e.seq for e in page.events)
        cursor = page.events[-1].seq
    assert seen == list(range(first_kept, 1001))


def test_a_cursor_still_covered_sees_no_gap() -> None:
    log = filled(100, 1000)
    page = log.after(log.first_seq - 1)
    assert page.gap is None
    assert page.events[0].seq == log.first_seq


def test_listeners_hear_each_append_until_removed() -> None:
    log = EventLog(100)
    heard: list[int] = []
    other: list[int] = []

    def first() -> None:
        heard.append(log.last_seq)

    def second() -> None:
        other.append(log.last_seq)

    log.add_listener(first)
    log.add_listener(second)
    log.append(notice(1))
    log.append(notice(2))
    log.remove_listener(first)
    log.append(notice(3))
    assert heard == [1, 2]  # the event is in the log when the listener runs
    assert other == [1, 2, 3]


def test_removing_an_unknown_listener_is_harmless() -> None:
    log = EventLog(100)
    log.remove_listener(lambda: None)
    log.append(notice(1))
    assert log.last_seq == 1


def test_wire_text_is_what_json_dumps_makes_of_to_wire() -> None:
    events: list[Event] = [
        CallEvent(
            seq=1,
            t_ns=2,
            call_id=3,
            socket="cli",
            op="recvfrom",
            line="cli.recvfrom(3)",
            via="loop",
            asked=3,
            done=3,
            data=BytesInfo(len=3, offset=0, head="b'h\\xe9y'", truncated=False, hex="68e979"),
            result={"address": ("::1", 5), "note": "é ☃"},
            result_text="(b'h\\xe9y', ('::1', 5))",
            errno=None,
            error=None,
            started_ns=4,
            duration_ns=5,
        ),
        SelectEvent(
            seq=2,
            t_ns=3,
            iteration=1,
            readers=["a"],
            writers=[],
            errors=[],
            timeout=0.25,
            ready_readers=[],
            ready_writers=[],
            ready_errors=[],
            blocked_ns=7,
            woken=True,
            idle_before=0,
        ),
        notice(3),
    ]
    for event in events:
        expected = json.dumps(to_wire(event), separators=(",", ":"), ensure_ascii=False)
        assert encode(event) == expected


def counting_encoder(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seqs the log encodes, in order, from now on."""
    made: list[int] = []
    real: Callable[[Event], str] = log_module.encode

    def counting(event: Event) -> str:
        made.append(event.seq)
        return real(event)

    monkeypatch.setattr(log_module, "encode", counting)
    return made


def test_wire_after_encodes_each_event_once_for_every_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = counting_encoder(monkeypatch)
    log = filled(100, 10)
    first = log.wire_after(0)
    second = log.wire_after(0)
    third = log.wire_after(5)
    assert first.texts == second.texts and third.texts == first.texts[5:]
    assert made == list(range(1, 11))  # the second and third reader got the kept texts
    for seq in range(11, 140):  # trimming drops the texts with their events
        log.append(notice(seq))
    page = log.wire_after(0)
    assert page.gap is not None and json_seqs(page.texts) == list(range(page.gap[1] + 1, 140))
    assert min(log._texts) >= log.first_seq  # nothing kept beside what was trimmed


def test_a_log_that_keeps_no_texts_encodes_for_each_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = counting_encoder(monkeypatch)
    log = filled(100, 3)
    log.keep_texts = False
    log.wire_after(0)
    log.wire_after(0)
    assert made == [1, 2, 3, 1, 2, 3]


def json_seqs(texts: list[str]) -> list[int]:
    return [json.loads(t)["seq"] for t in texts]


def test_only_the_newest_texts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A watched log holds the texts of its newest KEPT_BESIDE events (at most a quarter
    more, as readers drop the old ones), not of them all."""
    monkeypatch.setattr(log_module, "KEPT_BESIDE", 5)
    made = counting_encoder(monkeypatch)
    log = filled(100, 20)
    log.wire_after(0, 100)
    assert sorted(log._texts) == [16, 17, 18, 19, 20]
    made.clear()
    log.wire_after(10, 100)  # 11..15 made again, 16..20 kept
    assert made == [11, 12, 13, 14, 15]
    for seq in range(21, 60):  # a live viewer reads each new one: the oldest kept go
        log.append(notice(seq))
        log.wire_after(seq - 1, 100)
        log.after(seq - 1, 100)
        assert len(log._texts) <= 5 and len(log._made) <= 5  # the oldest went first
    assert sorted(log._texts) == list(range(55, 60)) and sorted(log._made) == list(range(55, 60))
