"""The bounded event log: cursors, trimming, gaps, listeners (no threads needed)."""

from __future__ import annotations

from sockscope.engine.log import EventLog
from sockscope.events import NoticeEvent


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
