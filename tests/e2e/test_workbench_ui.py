"""The workbench tab and what a lesson's steps measured, drawn from the contract's shapes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from test_lesson_ui import run_to_end

from helpers import shot
from labpage import new_lab
from live import LiveServer


def test_the_workbench_frames_orders_and_serves(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    page.get_by_role("tab", name="Workbench").click()
    bench = page.locator(".workbench")

    # Byte order answers as soon as the tab opens: 1 as '!I', then as '<I'.
    expect(page.get_by_test_id("wb-wire")).to_have_text("00 00 00 01")
    expect(bench).to_contain_text("network order (big-endian)")
    expect(bench).to_contain_text('with "<I": 16777216')
    page.get_by_test_id("wb-fmt").select_option("<I")
    expect(page.get_by_test_id("wb-wire")).to_have_text("01 00 00 00")
    expect(bench).to_contain_text('As text, "1" takes 1 byte(s); packed, 4.')
    page.get_by_test_id("wb-fmt").select_option("!H")
    page.get_by_test_id("wb-value").fill("70000")
    expect(bench.get_by_role("alert")).to_contain_text("does not fit '!H'")
    page.get_by_test_id("wb-value").fill("258")
    expect(page.get_by_test_id("wb-wire")).to_have_text("01 02")

    # Framing: 5-digit text prefixes, the stream cut every 3 bytes.
    page.get_by_test_id("wb-frame").click()
    expect(bench).to_contain_text("00005hello00006framed00005world")
    expect(bench).to_contain_text("framed receiver — 3 messages, all intact")
    expect(bench.locator(".frow.bad")).to_contain_text("naive: one recv() = one message")
    page.get_by_test_id("wb-strategy").select_option("delimited")
    page.get_by_test_id("wb-frame").click()
    expect(bench).to_contain_text(re.compile(r"hello\\nframed\\nworld\\n"))

    # Server shapes: two slow clients, three servers.
    page.get_by_test_id("wb-clients").fill("2")
    page.get_by_test_id("wb-shapes").click()
    rows = page.get_by_test_id("shapes-result").locator("tbody tr")
    expect(rows).to_have_count(3, timeout=20_000)
    for label in ("a thread per connection", "a process per connection", "one select() loop"):
        expect(rows.filter(has_text=label)).to_contain_text("2/2")
    shot(page, "workbench")
    # The browser logs the one refusal asked for (70000 as '!H'), and nothing else.
    assert page.console.problems == [  # type: ignore[attr-defined]
        "console error: Failed to load resource: the server responded with a status of 400"
        " (Bad Request)"
    ]


# A lesson whose last step measures -> what its reveal then shows.
LAST_STEPS = {
    "byte-order": ("byteorder-result", 'struct.pack("<I", 1) on the wire: 01 00 00 00'),
    "server-shapes": ("shapes-result", "one select() loop"),
    "framing": ("framing-result", "shutdown · sliced"),
    "buffers-and-ipc": ("ipc-result", "Unix socket"),
    "endings": ("endings-result", "SO_LINGER 0 + close()"),
}


@pytest.mark.parametrize("lesson", sorted(LAST_STEPS))
def test_a_lessons_measurement_is_shown(page: Page, server: LiveServer, lesson: str) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id(f"start-{lesson}").click()
    page.wait_for_url(re.compile(rf"/labs/[A-Za-z0-9_-]+\?lesson={lesson}$"))
    expect(page.get_by_test_id("lesson-progress")).to_be_visible()
    run_to_end(page)
    test_id, text = LAST_STEPS[lesson]
    expect(page.get_by_test_id("lesson-reveal").get_by_test_id(test_id)).to_contain_text(text)
    assert page.console.problems == []  # type: ignore[attr-defined]
