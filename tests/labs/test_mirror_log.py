"""The web process's mirror of a lab in a lab host (labs/remote.py MirrorLog): it keeps each
event's JSON text as the host sent it, forwards that text as it is, and makes events back
from it only when asked for them."""

from __future__ import annotations

import json

from sockscope.engine.log import encode
from sockscope.events import CallEvent, NoticeEvent, SocketEvent, SocketInfo, to_wire
from sockscope.labs.remote import KEPT_OBJECTS, MirrorLog


def notice(seq: int) -> NoticeEvent:
    return NoticeEvent(seq=seq, t_ns=seq * 1000, socket=None, message=f"n{seq} é")


def call(seq: int) -> CallEvent:
    return CallEvent(
        seq=seq, t_ns=seq, call_id=seq, socket="cli", op="connect",
        line="cli.connect(('127.0.0.1', 20000))", via="command", asked=None, done=None,
        data=None, result=None, result_text="None", errno=None, error=None, started_ns=seq,
        duration_ns=1,
    )  # fmt: skip


def test_the_text_goes_out_as_it_came_and_events_come_back_equal() -> None:
    log = MirrorLog(100)
    events = [notice(1), call(2), notice(3)]
    texts = tuple(encode(e) for e in events)
    log.extend(texts, None)
    page = log.wire_after(0)
    assert page.texts == list(texts) and page.last == 3 and page.gap is None
    assert json.loads(page.texts[0])["message"] == "n1 é"  # Unicode as it is, like send_json
    assert log.after(0).events == events
    assert log.after(1, 1).events == [events[1]]
    assert log.wire_after(3).texts == [] and log.wire_after(3).last == 3


def test_a_commands_own_events_are_kept_as_the_objects_that_came() -> None:
    log = MirrorLog(100)
    mine = call(1)
    log.keep([mine])
    log.extend((encode(mine), encode(notice(2))), None)
    first, second = log.after(0).events
    assert first is mine  # not decoded again
    assert second == notice(2)
    assert log.after(1).events[0] is second  # decoded once, then kept


def test_it_keeps_a_bounded_number_of_objects_and_the_logs_bound_and_gaps() -> None:
    log = MirrorLog(KEPT_OBJECTS * 2)
    many = [notice(i) for i in range(1, KEPT_OBJECTS * 2 + 1)]
    log.extend(tuple(map(encode, many)), None)
    assert log.after(0, len(many)).events == many
    assert len(log._objects) == KEPT_OBJECTS  # the newest
    assert min(log._objects) == len(many) - KEPT_OBJECTS + 1
    # The host's log dropped 2..9 before they were sent: the mirror says so.
    gapped = MirrorLog(100)
    gapped.extend((encode(notice(1)),), None)
    gapped.extend((encode(notice(10)),), (2, 9))
    page = gapped.after(0)
    assert page.gap == (1, 9) and page.events == [notice(10)]
    assert gapped.wire_after(0).last == 10


def test_records_inside_events_come_back_as_records() -> None:
    info = SocketInfo(
        name="srv", fd=7, role="listening", local=("127.0.0.1", 20000), peer=None,
        blocking=False, timeout=None, origin="socket", listener=None, auto_accept=True,
        auto_recv="off", bufsize=1024, eof=False, pending_out=0, watch_read=False,
        watch_write=False, network="host", family="AF_INET", type="SOCK_STREAM", dup_of=None,
    )  # fmt: skip
    event = SocketEvent(seq=1, t_ns=5, info=info)
    log = MirrorLog(16)
    log.extend((encode(event),), None)
    back = log.after(0).events[0]
    assert back == event and isinstance(back.info.local, tuple)  # type: ignore[union-attr]
    assert to_wire(back) == to_wire(event)
