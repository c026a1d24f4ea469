"""The lab on a projector: readable type at 1024x768 and at 1920x1080 zoomed to 150%.

Zoom is emulated the way the browser does it: a 1920x1080 screen at 150% zoom gives the page
a 1280x720 CSS px viewport with 1.5 device pixels per CSS px (media queries and layout see
1280 px). CSS `zoom` on the body would leave the viewport at 1920 px and is not what a
participant's browser does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from helpers import shot, wait_until
from labpage import flooded_lab
from live import LiveServer
from measure import assert_no_sideways_scroll, smallest, width

MIN_TEXT_PX = 12  # from the back of a room, nothing smaller
MIN_SIDE_PX = 240  # the controls and the call log: long enough lines to read
MIN_CENTER_PX = 480  # the map and the queues

SCREENS = {
    "1024x768": ({"width": 1024, "height": 768}, 1.0),
    "1920x1080-zoom150": ({"width": 1280, "height": 720}, 1.5),
}

READ = {
    "map": ".map-panel",
    "queues": ".buffers",
    "call log": "[data-testid=event-log]",
}


def screen_page(browser: Browser, name: str) -> Iterator[Page]:
    viewport, scale = SCREENS[name]
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    name: str = request.param
    for page in screen_page(browser, name):
        yield name, page


def assert_readable(page: Page, at_least: float = MIN_TEXT_PX) -> None:
    for what, selector in READ.items():
        tiny = smallest(page, selector)
        assert tiny["px"] >= at_least, f"{what}: {tiny['text']!r} is {tiny['px']:.1f} px"
    assert_no_sideways_scroll(page)


def test_the_flooded_lab_reads_from_the_back_of_the_room(
    screen: tuple[str, Page], server: LiveServer
) -> None:
    name, page = screen
    flooded_lab(page, server)
    expect(page.get_by_test_id("bars-cli")).to_be_visible()
    assert_readable(page)
    for column in (".lab > .left", "aside.right"):
        assert width(page, column) >= MIN_SIDE_PX, f"{column} is a sliver at {name}"
    assert width(page, ".lab > .center") >= MIN_CENTER_PX, f"the centre is a sliver at {name}"
    shot(page, f"lab-{name}")
    assert page.problems == []  # type: ignore[attr-defined]


def grown(page: Page, before_map: float, before_log: float) -> tuple[float, float] | None:
    after = smallest(page, ".map-panel")["px"], smallest(page, "[data-testid=event-log]")["px"]
    return after if after[0] >= before_map * 1.2 and after[1] >= before_log * 1.2 else None


def test_projector_mode_enlarges_the_lab_and_is_remembered(
    browser: Browser, server: LiveServer
) -> None:
    for page in screen_page(browser, "1024x768"):
        flooded_lab(page, server)
        before_map = smallest(page, ".map-panel")["px"]
        before_log = smallest(page, "[data-testid=event-log]")["px"]
        toggle = page.get_by_test_id("projector-toggle")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        page.keyboard.press("f")
        expect(toggle).to_have_attribute("aria-pressed", "true")
        expect(page.locator("html")).to_have_attribute("data-projector", "on")
        # The map lays itself out again on a later frame: wait for it, with a deadline.
        after_map, _ = wait_until(
            functools.partial(grown, page, before_map, before_log),
            timeout=5,
            what="the text to grow 1.2x",
        )
        assert_readable(page, at_least=MIN_TEXT_PX * 1.2)
        shot(page, "lab-projector")

        page.reload()
        expect(page.get_by_test_id("link-status")).to_have_text("live")
        expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")
        expect(page.get_by_test_id("projector-toggle")).to_have_attribute("aria-pressed", "true")
        assert smallest(page, ".map-panel")["px"] >= after_map * 0.99

        # Dark theme keeps it; the header button turns it off again.
        page.get_by_role("button", name="Dark").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        expect(page.locator("html")).to_have_attribute("data-projector", "on")
        assert_readable(page, at_least=MIN_TEXT_PX * 1.2)
        shot(page, "lab-projector-dark")
        page.get_by_test_id("projector-toggle").click()
        expect(page.get_by_test_id("projector-toggle")).to_have_attribute("aria-pressed", "false")
        assert smallest(page, ".map-panel")["px"] <= before_map * 1.01
        assert_no_sideways_scroll(page)
        assert page.problems == []  # type: ignore[attr-defined]
