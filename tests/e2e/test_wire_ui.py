"""The wire lane in a real browser: the segments of the 1 MiB experiment, linked to the calls."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from helpers import shot
from labpage import flooded_lab
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
