"""axe-core in the browser: no critical or serious violation on the home, lab and lesson pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from labpage import flooded_lab
from live import LiveServer

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.is_file():
        pytest.fail(
            f"axe-core is missing ({AXE}): run `cd frontend && npm install` (it is a devDependency)"
        )
    page.add_script_tag(path=str(AXE))
    result: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in result if v.get("impact") in ("critical", "serious")]


def assert_accessible(page: Page, where: str) -> None:
    found = violations(page)
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    {n['target']}: {n.get('failureSummary', '')}" for n in v["nodes"][:6])
        for v in found
    ]
    assert not found, f"{where}: " + "\n".join(lines)


def test_home_page(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Watch real TCP sockets work.")).to_be_visible()
    assert_accessible(page, "home, light")
    page.get_by_role("button", name="Dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert_accessible(page, "home, dark")


def test_lab_page_with_a_connection_and_calls(page: Page, server: LiveServer) -> None:
    flooded_lab(page, server)
    expect(page.get_by_test_id("event-log")).to_contain_text("EAGAIN")
    assert_accessible(page, "lab, light")
    page.get_by_role("button", name="Dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert_accessible(page, "lab, dark")
    page.get_by_role("tab", name="select() loop").click()
    expect(page.get_by_test_id("select-table")).to_be_visible()
    assert_accessible(page, "lab, dark, select() loop tab")


def test_lesson_page(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("start-partial-send").click()
    page.wait_for_url(re.compile(r"/labs/[A-Za-z0-9_-]+\?lesson=partial-send$"))
    expect(page.get_by_test_id("lesson")).to_contain_text(
        "send() and recv(): how many bytes per call?"
    )
    page.get_by_test_id("lesson-next").click()
    expect(page.get_by_test_id("lesson-progress")).to_be_visible()
    assert_accessible(page, "lesson, light")
