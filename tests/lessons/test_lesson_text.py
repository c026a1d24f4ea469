"""What the lessons say is what the kernel does: each statement a network programmer's
review found wrong or dated is corrected, and the wrong wording does not come back.

The kernel side of each statement is proven where a test can tell (test_lessons.py runs
every lesson on the real kernel; the backlog, bind and blocking-send steps expect what the
text says). Here: the words. Each row names a lesson, words its text must hold (all of
them, anywhere in what the lesson shows: teaser, steps, questions, reveals, summary) and
words it must not hold.
"""

from __future__ import annotations

import pytest

from sockscope.lessons.model import Lesson, all_lessons, find_lesson


def everything_shown(lesson: Lesson) -> str:
    parts = [lesson.title, lesson.teaser, lesson.summary]
    for step in lesson.steps:
        parts.append(step.text)
        if step.predict:
            parts += [step.predict.question, *step.predict.choices, step.predict.why]
    parts += [text for c in lesson.checks for text in (c.label, c.asks)]
    return " ".join(" ".join(parts).split())  # one space between words, as rendered


ROWS = [
    # 01: Linux's bind rule, the EPIPE of a listener, the HOWTO's gethostname() bind.
    ("server-sockets", ["SO_REUSEPORT", "BSD and macOS"], []),
    ("server-sockets", ["EPIPE", "SIGPIPE", "BrokenPipeError"], []),
    ("server-sockets", ["127.0.1.1", "gethostname()"], []),
    ("server-sockets", ["127.0.0.2", "ECONNREFUSED"], []),
    # 02: dropped, not refused; somaxconn; ETIMEDOUT after tcp_syn_retries; the race.
    ("backlog", ["somaxconn", "tcp_syn_retries", "ETIMEDOUT", "dated"], []),
    ("backlog", ["tcp_abort_on_overflow", "SYN_RECV", "final ACK"], []),
    ("backlog", ["ECONNREFUSED means something else: nothing listens"], []),
    # 03: blocking send() returns all; bytes stay in the send buffer; Linux doubles;
    # CPython's sendall() on a non-blocking socket; the dead `sent == 0` test.
    ("partial-send", ["A blocking send() waits for room", "262144: it waits"], []),
    (
        "partial-send",
        ["stay there until the server's kernel acknowledges them"],
        ["straight into the server's receive buffer"],
    ),
    ("partial-send", ["Linux doubles what you ask", "other systems keep your number"], []),
    ("partial-send", ["BlockingIOError part way", "This lab's sendall() loops"], []),
    ("partial-send", ["sent == 0", "dead code"], []),
    # 04: close() with unread data sends a RST; other references keep the socket open.
    ("end-of-stream", ["RST instead of the FIN", "dup()", "makefile()"], []),
    # 07: the wire bytes of '!I' read as '<I'.
    (
        "byte-order",
        ["00 00 00 01 on the wire", "16777216"],
        ["reads 01 00 00 00 backwards"],
    ),
    # 08: HTTP/1.0 and SHUT_WR; send() proves nothing; exit with unread data; close() is
    # not the end.
    ("endings", ["HTTP clients do not"], ["which is how an HTTP/1.0 client marks"]),
    (
        "endings",
        ["only the next one raises EPIPE", "cli's recv() returning it"],
        ["send() still works: cli keeps receiving"],
    ),
    ("endings", ["sends a RST instead"], []),
    ("endings", ["FIN_WAIT2", "TIME_WAIT"], []),
    # 09: a crashed process still gets a FIN; the idle side is never told; the FIN is held,
    # not lost; the send queue holds the unacknowledged bytes.
    (
        "when-sockets-die",
        ["A process that crashes still has a kernel", "Only a dead machine or a dead network"],
        ["A peer that crashes, or a cable pulled out, sends neither FIN nor RST"],
    ),
    ("when-sockets-die", ["without keepalive, is never told"], []),
    (
        "when-sockets-die",
        ["cli's connection waits in FIN_WAIT2", "CLOSE_WAIT"],
        ["its FIN is lost with everything else"],
    ),
    ("when-sockets-die", ["send queue holds the 15 bytes"], ["its send queue stays full"]),
    ("when-sockets-die", ["send() returning is no proof of delivery"], []),
    # 10: send() too returns having done nothing.
    ("nonblocking-select", ["EAGAIN (never 0)"], []),
    # 11: O_NONBLOCK is not inherited on Linux; BSD and macOS pass it on.
    ("select-writers", ["does not inherit O_NONBLOCK", "BSD and macOS"], []),
    # 12: the select() server neither blocks nor takes one recv() for one request.
    ("server-shapes", ["non-blocking sockets", "a whole request"], ["no call ever blocks"]),
]


@pytest.mark.parametrize(("lesson_id", "must", "never"), ROWS)
def test_the_lesson_says_what_the_kernel_does(
    lesson_id: str, must: list[str], never: list[str]
) -> None:
    lesson = find_lesson(lesson_id)
    assert lesson is not None
    shown = everything_shown(lesson)
    for words in must:
        assert words in shown, f"{lesson_id} does not say {words!r}"
    for words in never:
        assert words not in shown, f"{lesson_id} still says {words!r}"


def test_every_lesson_has_a_teaser_that_is_not_its_summary() -> None:
    for lesson in all_lessons():
        assert 20 < len(lesson.teaser) < 200, lesson.id
        assert lesson.teaser.split(".")[0] not in lesson.summary, lesson.id


def test_every_check_has_a_neutral_question_and_a_claim() -> None:
    for lesson in all_lessons():
        for check in lesson.checks:
            assert check.asks.endswith("?"), (lesson.id, check.check)
            assert check.label and not check.label.endswith("?"), (lesson.id, check.check)
            assert check.asks != check.label


def test_every_lesson_cites_the_howto_or_its_sources() -> None:
    for lesson in all_lessons():
        assert lesson.howto_sections or lesson.sources, lesson.id
        if not lesson.howto_sections:  # beyond the HOWTO: a man page or an RFC at least
            assert any("(" in s or "RFC" in s for s in lesson.sources), lesson.id
