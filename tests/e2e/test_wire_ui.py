"""The wire lane in a real browser: the segments of the 1 MiB experiment, linked to the calls."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from helpers import shot
from labpage import connected_lab, flooded_lab, new_lab
from live import LiveServer


def test_the_ladder_shows_the_handshake_the_zero_window_and_the_reset(
    page: Page, server: LiveServer
) -> None:
    flooded_lab(page, server)
    page.get_by_test_id("wire-tab").click()
    expect(page.get_by_test_id("capture-state")).to_have_text("capturing")
    ladder = page.get_by_test_id("ladder")
    segments = page.get_by_test_id("ladder-segment")
    expect(segments.first).to_have_attribute("data-flags", "SYN")
    expect(segments.nth(1)).to_have_attribute("data-flags", "SYN ACK")
    expect(ladder).to_contain_text("wscale")
    # the receiver's buffer is full: it says so on the wire
    zero = page.locator("[data-testid=ladder-segment][data-notes*='zero window']")
    expect(zero.first).to_be_visible()

    # a segment leads to its call: the SYN to connect()
    segments.first.click()
    linked = page.locator("[data-testid=event-log] li.linked")
    expect(linked).to_have_count(1)
    expect(linked).to_contain_text("cli.connect(")
    shot(page, "wire-flood")

    # and a call to its segments: the first send() to the data that carried its bytes
    log = page.get_by_test_id("event-log")
    log.locator("li", has_text="cli.send(").last.click()
    lit = page.locator("[data-testid=ladder-segment].linked")
    expect(lit.first).to_be_visible()
    expect(lit.first).not_to_have_attribute("data-length", "0")  # a segment with its bytes

    # close() would queue its FIN behind the bytes the peer has no room for: an abort
    # resets at once, and the wire shows it
    page.get_by_role("button", name="abort (RST)").click()
    rst = page.locator("[data-testid=ladder-segment][data-flags*='RST']")
    expect(rst.first).to_be_visible()
    rst.first.click()
    expect(page.locator("[data-testid=event-log] li.linked")).to_contain_text("cli.close()")
    shot(page, "wire-abort")
    lab = page.url.rsplit("/", 1)[1]
    link = page.get_by_test_id("pcapng-link")
    expect(link).to_have_attribute("href", f"/api/labs/{lab}/capture.pcapng")


def test_the_state_diagram_follows_a_close_from_both_ends(page: Page, server: LiveServer) -> None:
    connected_lab(page, server)
    page.get_by_test_id("close").click()  # the client closes first; conn never does
    page.get_by_test_id("wire-tab").click()
    fin = page.locator("[data-testid=ladder-segment][data-flags='FIN ACK']")
    expect(fin.first).to_be_visible()
    page.get_by_test_id("states-of-cli").click()  # (the selection is conn now: cli is gone)
    diagram = page.get_by_test_id("state-diagram")
    expect(diagram).to_have_attribute("data-state", "FIN_WAIT_2")
    steps = page.get_by_test_id("state-steps")
    expect(steps).to_contain_text("CLOSED → SYN_SENT: cli.connect(")
    expect(steps).to_contain_text("ESTABLISHED → FIN_WAIT_1: cli.close(): FIN sent")
    expect(steps).to_contain_text("FIN_WAIT_1 → FIN_WAIT_2: ACK of our FIN received")
    page.get_by_test_id("states-of-conn").click()
    expect(diagram).to_have_attribute("data-state", "CLOSE_WAIT")
    expect(steps).to_contain_text("LISTEN → SYN_RECEIVED: SYN received")
    expect(steps).to_contain_text("ESTABLISHED → CLOSE_WAIT: FIN received")
    shot(page, "wire-states")


def test_a_full_accept_queue_drops_a_syn_and_the_slots_lead_to_their_handshakes(
    page: Page, server: LiveServer
) -> None:
    new_lab(page, server)
    page.get_by_label("Backlog").fill("1")  # a queue of two (backlog + 1)
    page.get_by_label("accept() when select() says readable").uncheck()
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 1")
    for name in ("cli", "cli2", "cli3"):
        page.get_by_test_id("create-client").click()
        expect(page.get_by_test_id(f"map-{name}")).to_be_visible()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("2 of backlog 1")
    page.get_by_test_id("wire-tab").click()
    # the third client's SYN found the queue full: dropped without a word, sent again ~1 s on
    page.get_by_test_id("connection-pick").filter(has_text="cli3 ⇄").click()
    again = page.locator("[data-testid=ladder-segment][data-notes*='retransmission']")
    expect(again.first).to_have_attribute("data-flags", "SYN", timeout=8000)
    shot(page, "wire-accept-queue")
    # a slot of the queue is a handshake: clicking it shows that one on the ladder
    page.get_by_test_id("slot-srv-0").click()
    selected = page.locator("[data-testid=ladder-segment].selected")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("data-flags", "ACK")
    expect(page.get_by_test_id("slot-srv-0")).to_have_class(re.compile(r"\blinked\b"))
