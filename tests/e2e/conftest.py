"""Headless Chromium (Debian's package) driven by Playwright, against a real server.

A missing browser is a failure with instructions, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from sockscope.settings import STATIC_DIR, Settings

from live import LiveServer, serve

CHROMIUM_ARGS = [
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-sandbox",  # runs as root in CI
]


def chromium_path() -> str:
    path = os.environ.get("SOCKSCOPE_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "the browser tests need Debian's chromium: apt-get install -y chromium"
            " (or set SOCKSCOPE_CHROMIUM to a Chromium binary)"
        )
    return path


# Module scope: Playwright's sync API runs an event loop in this thread while it is
# open, so it must be closed before the next (asyncio-using) test module runs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail("the front end is not built: run `make ui` (make test does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # As on a learner's laptop, whatever machine runs the tests (some CI runs in a container,
    # and the lab would then say its ports cannot be reached).
    yield from serve(Settings(in_container=False))


class ConsoleWatch:
    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console = ConsoleWatch(page)  # type: ignore[attr-defined]
    yield page
    context.close()
