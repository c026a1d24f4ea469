"""A participant's moves in the lab page, shared by the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from live import LiveServer


def new_lab(page: Page, server: LiveServer) -> str:
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Watch real TCP sockets work.")).to_be_visible()
    page.get_by_role("button", name="New lab").click()
    page.wait_for_url(re.compile(r"/labs/[A-Za-z0-9_-]+$"))
    expect(page.get_by_test_id("link-status")).to_have_text("live")
    return page.url.rsplit("/", 1)[1]


def click_until(page: Page, button: str, shows: str, text: str, tries: int = 25) -> None:
    """Click ``button`` until the element ``shows`` contains ``text`` (a bounded loop)."""
    for _ in range(tries):
        page.get_by_test_id(button).click()
        try:
            expect(page.get_by_test_id(shows)).to_contain_text(text, timeout=1500)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{shows} never showed {text!r} after {tries} clicks of {button}")


def connected_lab(page: Page, server: LiveServer) -> str:
    """A new lab with the forms' server and client, connected (conn auto-accepted)."""
    lab = new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("socket-picker")).to_have_value("cli")
    return lab


def flooded_lab(page: Page, server: LiveServer) -> str:
    """A server, its client, 1 MiB sent into a 4 KiB receive buffer until EAGAIN; nobody reads."""
    lab = connected_lab(page, server)
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("send-result")).to_contain_text("→")
    click_until(page, "send", "send-error", "EAGAIN")
    return lab
