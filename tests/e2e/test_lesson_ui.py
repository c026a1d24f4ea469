"""A participant walks a lesson in the browser: predict, see what the kernel did, see why."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from helpers import shot
from live import LiveServer


def run_to_end(page: Page) -> None:
    """Run to end; it stops at each question not yet answered: answer it and run on."""
    progress, stopped = (
        page.get_by_test_id("lesson-progress"),
        page.get_by_test_id("lesson-stopped"),
    )
    for _ in range(10):
        page.get_by_test_id("lesson-run").click()
        expect(progress.filter(has_text="done").or_(stopped)).to_be_visible(timeout=30_000)
        if progress.inner_text() == "done":
            return
        page.get_by_test_id("prediction").locator("input").first.check()
    raise AssertionError("the lesson did not finish")


def test_walk_the_partial_send_lesson_with_a_prediction(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("start-partial-send").click()
    page.wait_for_url(re.compile(r"/labs/[A-Za-z0-9_-]+\?lesson=partial-send$"))
    lesson = page.get_by_test_id("lesson")
    expect(lesson).to_contain_text("send() and recv(): how many bytes per call?")
    expect(lesson).to_contain_text("HOWTO: Using a Socket")
    # Before the run the checks ask neutral questions: the claims would answer the lesson's.
    checks = page.get_by_test_id("lesson-checks")
    expect(checks.locator("li").first).to_contain_text(
        "How many bytes does one send() or recv() handle?"
    )
    expect(checks).not_to_contain_text("fewer bytes than asked")
    expect(page.locator("details.summary-text")).not_to_have_attribute("open", "")
    # Step through the set-up until the lesson asks its question.
    for _ in range(12):
        if page.get_by_test_id("prediction").count():
            break
        button = page.get_by_test_id("lesson-next")
        expect(button).to_be_enabled()
        before = page.get_by_test_id("lesson-progress").inner_text()
        button.click()
        expect(page.get_by_test_id("lesson-progress")).not_to_have_text(before)
    prediction = page.get_by_test_id("prediction")
    expect(prediction).to_contain_text("What will cli.send(pattern(1048576)) return?")
    expect(page.get_by_test_id("lesson-next")).to_be_disabled()  # predict first
    prediction.get_by_label("1048576: all of it").check()
    page.get_by_test_id("lesson-next").click()

    reveal = page.get_by_test_id("lesson-reveal")
    expect(reveal).to_contain_text(re.compile(r"cli\.send\(pattern\(1048576\)\)\s+->\s+\d+"))
    expect(page.get_by_test_id("prediction-verdict")).to_contain_text(
        '✗ You said "1048576: all of it"'
    )
    expect(reveal).to_contain_text("send() copies a few KiB")
    expect(checks.locator("li").first).to_contain_text("asked 1048576")
    expect(checks.locator("li").first).to_contain_text("fewer bytes than asked")  # now judged
    shot(page, "lesson-reveal")

    run_to_end(page)
    expect(checks.locator("li.passed")).to_have_count(2)
    expect(checks).to_contain_text(
        re.compile(r"sendall\(\) of 262144 bytes took \d+ send\(\) calls")
    )
    # Every view was live meanwhile: the partial sends are marked in the transfers view.
    expect(page.get_by_test_id("transfer-summary")).to_contain_text(
        re.compile(r"[1-9]\d* partial send")
    )
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_walk_an_ending_lesson(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("start-endings").click()
    expect(page.get_by_test_id("lesson")).to_contain_text("Ending a conversation")
    for _ in range(12):
        if page.get_by_test_id("prediction").count():
            break
        before = page.get_by_test_id("lesson-progress").inner_text()
        page.get_by_test_id("lesson-next").click()
        expect(page.get_by_test_id("lesson-progress")).not_to_have_text(before)
    prediction = page.get_by_test_id("prediction")
    expect(prediction).to_contain_text("Can the server still send a reply to cli?")
    prediction.get_by_label("Yes: only cli's sending side is closed").check()
    page.get_by_test_id("lesson-next").click()
    expect(page.get_by_test_id("prediction-verdict")).to_contain_text("right")
    expect(page.get_by_test_id("lesson-reveal")).to_contain_text("cli.shutdown(socket.SHUT_WR)")
    run_to_end(page)
    checks = page.get_by_test_id("lesson-checks")
    expect(checks.locator("li.passed")).to_have_count(3)
    expect(checks).to_contain_text("CLOSE_WAIT; a while later: CLOSE_WAIT")
    expect(checks).to_contain_text("FIN_WAIT2 -> TIME_WAIT")
    shot(page, "lesson-endings")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_walk_the_pulled_cable_until_tcp_gives_up(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("start-when-sockets-die").click()
    expect(page.get_by_test_id("lesson")).to_contain_text("When the other side dies hard")
    prediction = page.get_by_test_id("prediction")
    for _ in range(40):  # the stalled-link part first, one step at a time
        if prediction.count() and "pcli" in prediction.inner_text():
            break
        if prediction.count():
            prediction.locator("input[type=radio]").first.check()
        before = page.get_by_test_id("lesson-progress").inner_text()
        page.get_by_test_id("lesson-next").click()
        expect(page.get_by_test_id("lesson-progress")).not_to_have_text(before, timeout=15_000)
    expect(page.get_by_test_id("lesson-needs")).to_contain_text("private network")
    expect(page.get_by_test_id("cable-cut-mark")).to_be_visible()
    prediction.get_by_label("Its own kernel: after retransmitting for 3 s, ETIMEDOUT").check()
    page.get_by_test_id("lesson-next").click()
    expect(page.get_by_test_id("prediction-verdict")).to_contain_text("right", timeout=15_000)
    expect(page.get_by_test_id("lesson-reveal")).to_contain_text("pcli.recv(1024)  ->  ETIMEDOUT")
    expect(page.get_by_test_id("retrans-pcli")).to_contain_text("retransmitted")
    expect(page.get_by_test_id("state-pconn")).to_have_text("ESTABLISHED")
    shot(page, "lesson-cable-pulled")
    run_to_end(page)
    checks = page.get_by_test_id("lesson-checks")
    expect(checks.locator("li.passed")).to_have_count(3)
    expect(checks).to_contain_text(re.compile(r"ETIMEDOUT after \d\.\d s; TCP_INFO counted \d+"))
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_step_buttons_wait_until_the_lesson_has_started(page: Page, server: LiveServer) -> None:
    """A click on Next before the start reached the lab used to be lost, undone by the start."""
    held: list[Route] = []

    def hold_start(route: Route) -> None:
        held.append(route)

    page.route(re.compile(r"/api/labs/[^/]+/lessons/partial-send/start$"), hold_start)
    page.goto(server.url + "/")
    page.get_by_test_id("start-partial-send").click()
    expect(page.get_by_test_id("lesson-starting")).to_be_visible()
    expect(page.get_by_test_id("lesson-next")).to_be_disabled()
    expect(page.get_by_test_id("lesson-run")).to_be_disabled()
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the page never asked the server to start the lesson"
    held[0].continue_()
    expect(page.get_by_test_id("lesson-next")).to_be_enabled()
    expect(page.get_by_test_id("lesson-starting")).to_have_count(0)
    page.get_by_test_id("lesson-next").click()
    expect(page.get_by_test_id("lesson-progress")).to_have_text("step 2 of 16")


def test_a_lesson_that_needs_ipv6_says_so_once(page: Page, server: LiveServer) -> None:
    """Every step of the dual-stack lesson needs ::1: the panel says it once, at the top,
    not again at each step; the lesson's UDP cousin says nothing of the kind."""
    page.goto(server.url + "/")
    page.get_by_test_id("start-dual-stack").click()
    page.wait_for_url(re.compile(r"\?lesson=dual-stack$"))
    expect(page.get_by_test_id("lesson-needs-all")).to_contain_text(
        "IPv6 on this machine's loopback"
    )
    expect(page.get_by_test_id("lesson-step")).to_be_visible()
    expect(page.get_by_test_id("lesson-needs")).to_have_count(0)
    page.goto(server.url + "/")
    page.get_by_test_id("start-datagrams").click()
    page.wait_for_url(re.compile(r"\?lesson=datagrams$"))
    expect(page.get_by_test_id("lesson-step")).to_be_visible()
    expect(page.get_by_test_id("lesson-needs-all")).to_have_count(0)
