"""The home page's first load in a real browser: within budget, usable, and the lab view
(with uPlot) fetched only when a lab opens, then working.

Sizes come from the page's own Resource Timing entries (``transferSize``: headers and body as
sent; ``encodedBodySize`` / ``decodedBodySize``: the body before and after gzip). Timing
belongs in ``python -m bench 5``, not here.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from helpers import shot
from live import LiveServer

FIRST_LOAD_BUDGET = 100 * 1000  # bytes sent, for everything the home page fetches

ENTRIES_JS = """
() => [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
  .map((e) => ({ name: new URL(e.name).pathname, type: e.initiatorType, transfer: e.transferSize,
                 encoded: e.encodedBodySize, decoded: e.decodedBodySize }))
"""


def entries(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(ENTRIES_JS)
    return found


def home(page: Page, server: LiveServer) -> list[dict[str, Any]]:
    """Open the home page; once it is usable and lists the lessons, what it fetched."""
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Watch real TCP sockets work.")).to_be_visible()
    expect(page.get_by_role("button", name="New lab")).to_be_enabled()
    expect(page.get_by_test_id("lesson-list")).to_be_visible()
    return entries(page)


def listing(loaded: list[dict[str, Any]]) -> str:
    return ", ".join(f"{e['name']} {e['transfer']:,} B" for e in loaded)


def test_first_load_is_within_budget_and_the_lab_view_comes_later(
    page: Page, server: LiveServer
) -> None:
    first = home(page, server)
    sent = sum(e["transfer"] for e in first)
    assert sent <= FIRST_LOAD_BUDGET, f"the home page fetched {sent:,} B: {listing(first)}"
    assert {e["name"] for e in first} >= {"/", "/api/lessons"}
    assets = [e for e in first if e["name"].startswith("/assets/")]
    assert any(e["name"].endswith(".js") for e in assets), listing(first)
    for e in assets + [e for e in first if e["name"] == "/"]:
        if e["decoded"] > 1024:
            assert e["encoded"] < e["decoded"] / 2, f"{e['name']} was not compressed: {e}"
    shot(page, "home")

    # A repeat visit: the hashed files come from the browser's cache, unasked.
    again = home(page, server)
    cached = [e for e in again if e["name"].startswith("/assets/")]
    assert cached and all(e["transfer"] == 0 for e in cached), listing(again)

    # The lab view is fetched when a lab opens, and works: sockets, queues, uPlot's chart.
    before = {e["name"] for e in again}
    page.get_by_role("button", name="New lab").click()
    page.wait_for_url(re.compile(r"/labs/[A-Za-z0-9_-]+$"))
    expect(page.get_by_test_id("link-status")).to_have_text("live")
    later = [e for e in entries(page) if e["name"] not in before]
    lazy = [e["name"] for e in later if e["name"].startswith("/assets/") and ".js" in e["name"]]
    assert lazy, f"no script was fetched for the lab view: {listing(later)}"
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("queue-chart").locator(".uplot")).to_be_visible()
    shot(page, "lab-after-lazy-load")

    # Back home and into the lab again, by history: the view is drawn again, no errors.
    page.go_back()
    expect(page.get_by_role("button", name="New lab")).to_be_enabled()
    page.go_forward()
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_a_lab_link_opened_directly_loads_the_lab_view(page: Page, server: LiveServer) -> None:
    lab = server.new_lab()
    page.goto(f"{server.url}/labs/{lab}")
    expect(page.get_by_test_id("link-status")).to_have_text("live")
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    names = [e["name"] for e in entries(page)]
    assert sum(1 for n in names if n.startswith("/assets/") and n.endswith(".js")) >= 2, names
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_a_lab_view_that_fails_to_arrive_says_so(page: Page, server: LiveServer) -> None:
    lab = server.new_lab()
    lab_chunk = re.compile(r"/assets/Lab-[^/]*\.js$")
    page.route(lab_chunk, lambda route: route.abort())
    page.goto(f"{server.url}/labs/{lab}")
    expect(page.get_by_role("alert")).to_contain_text("Could not load the lab view")
    page.unroute(lab_chunk)
    page.reload()
    expect(page.get_by_test_id("link-status")).to_have_text("live")
