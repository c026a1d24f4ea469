"""Bench 5: the home page's first load, in bytes on the wire and time until it is usable.

A real server (``stream.LiveServer``) and Debian's headless Chromium (Playwright,
1280x720). Each run opens ``/`` in a fresh browser context (an empty cache), twice: once
as a browser normally asks (``Accept-Encoding: gzip, deflate, br``) and once asking for
``identity`` (the same-run baseline: the same files, uncompressed). A script added to the
page before it loads (nothing is added to the app) watches the DOM for the enabled
"New lab" button and takes the time of the next animation frame after it appears, from
the navigation's start (``performance.now()``): the home page is usable (the budget is
checked on this; the same moment counted from Playwright's ``goto()`` call, which adds
the browser's own navigation work, is shown below it). The bytes are the
Resource Timing API's ``transferSize`` (headers and body as sent) of the document and of
every resource fetched until the lesson list is shown (its ``/api/lessons`` too).
Then the same context opens ``/`` again: a repeat visit, with the hashed assets cached
for a year and the shell revalidated. Both loads are also timed through Chromium's
emulation of a busy workshop Wi-Fi (``WIFI``), where bytes cost time (no check on it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from .common import RUNS, Check, Row, median, ratio, runs_text
from .stream import LiveServer
from .ui import CHROMIUM_ARGS, page_prerequisites

BUDGET_BYTES = 100 * 1000  # 100 KB compressed for the first load
BUDGET_MS = 300.0  # home page usable
KB = 1000
# A busy workshop Wi-Fi, as Chromium emulates it: 40 ms added per request, 5 Mbit/s shared.
WIFI = {
    "offline": False,
    "latency": 40,
    "downloadThroughput": 5e6 / 8,
    "uploadThroughput": 5e6 / 8,
}

# Runs before any script of the page: marks the first frame after "New lab" is usable.
USABLE_JS = """
(() => {
  const usable = () => [...document.querySelectorAll("button")].some(
    (b) => b.textContent.trim() === "New lab" && !b.disabled);
  const observer = new MutationObserver(() => {
    if (window.__homeUsable !== undefined || !usable()) return;
    window.__homeUsable = null;
    observer.disconnect();
    requestAnimationFrame(() => { window.__homeUsable = performance.now(); });
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
})();
"""
RESULT_JS = """
() => {
  if (typeof window.__homeUsable !== "number") return null;
  if (!document.querySelector('[data-testid="lesson-list"]')) return null;
  const entries = [...performance.getEntriesByType("navigation"),
                   ...performance.getEntriesByType("resource")];
  const sum = (key) => entries.reduce((n, e) => n + e[key], 0);
  return {
    usableMs: window.__homeUsable,
    usableAt: performance.timeOrigin + window.__homeUsable,
    transfer: sum("transferSize"),
    encoded: sum("encodedBodySize"),
    decoded: sum("decodedBodySize"),
    files: entries.length,
  };
}
"""


@dataclass(frozen=True, slots=True)
class Load:
    usable_ms: float  # from the navigation's start
    wall_ms: float  # from the moment Playwright was asked to open the page
    transfer: int  # bytes on the wire: headers + (compressed) bodies
    encoded: int  # bodies as sent
    decoded: int  # bodies after decoding
    files: int


def load(
    browser: Browser, url: str, encoding: str | None, slow: bool = False
) -> tuple[Load, Load, list[str]]:
    """A first visit to ``url`` in a fresh context, then a repeat visit in the same one;
    ``slow``: through Chromium's emulation of a busy workshop Wi-Fi (``WIFI``)."""
    headers = {"Accept-Encoding": encoding} if encoding else {}
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, extra_http_headers=headers
    )
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        context.add_init_script(USABLE_JS)
        page = context.new_page()
        if slow:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", WIFI)
        page.on("pageerror", lambda error: errors.append(str(error)))
        visits = []
        for _ in range(2):
            asked = time.time() * 1000
            page.goto(url)
            result: dict[str, Any] = page.wait_for_function(RESULT_JS, timeout=10_000).json_value()
            visits.append(
                Load(
                    usable_ms=float(result["usableMs"]),
                    wall_ms=float(result["usableAt"]) - asked,
                    transfer=int(result["transfer"]),
                    encoded=int(result["encoded"]),
                    decoded=int(result["decoded"]),
                    files=int(result["files"]),
                )
            )
        return visits[0], visits[1], errors
    finally:
        context.close()


@dataclass(slots=True)
class Loads:
    first: list[Load] = field(default_factory=list)  # gzip, this machine
    again: list[Load] = field(default_factory=list)  # the repeat visit of each first one
    plain: list[Load] = field(default_factory=list)  # identity, this machine
    wifi: list[Load] = field(default_factory=list)  # gzip, emulated Wi-Fi
    wifi_plain: list[Load] = field(default_factory=list)  # identity, emulated Wi-Fi
    errors: list[str] = field(default_factory=list)


def measure(chromium: str) -> Loads:
    loads = Loads()
    with LiveServer() as live, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, timeout=30_000
        )
        url = f"http://127.0.0.1:{live.port}/"
        try:
            load(browser, url, None)  # warm-up: the server's caches, Chromium's processes
            for _ in range(RUNS):
                for encoding, slow, into in (
                    (None, False, loads.first),
                    ("identity", False, loads.plain),
                    (None, True, loads.wifi),
                    ("identity", True, loads.wifi_plain),
                ):
                    visit, repeat, errors = load(browser, url, encoding, slow)
                    into.append(visit)
                    if into is loads.first:
                        loads.again.append(repeat)
                    loads.errors += errors
        finally:
            browser.close()
    return loads


def run() -> tuple[list[Row], list[Check]]:
    print(
        f"[5] home page first load in headless Chromium: {RUNS} runs x (gzip, identity) x"
        " (this machine, an emulated Wi-Fi), each in a fresh context; then a repeat visit"
    )
    name = "5 home"
    chromium, missing = page_prerequisites(name)
    if chromium is None:
        return [], missing
    try:
        loads = measure(chromium)
    except PlaywrightError as exc:
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        return [], [Check(f"{name}: page measured", False, first_line)]
    return report(name, loads)


def report(name: str, loads: Loads) -> tuple[list[Row], list[Check]]:
    first, again, plain, wifi, wifi_plain = (
        loads.first, loads.again, loads.plain, loads.wifi, loads.wifi_plain
    )  # fmt: skip
    ms = [x.usable_ms for x in first]
    ms_plain = [x.usable_ms for x in plain]
    wall = [x.wall_ms for x in first]
    wall_plain = [x.wall_ms for x in plain]
    ms_wifi = [x.usable_ms for x in wifi]
    ms_wifi_plain = [x.usable_ms for x in wifi_plain]
    sent = [x.transfer / KB for x in first]
    sent_plain = [x.transfer / KB for x in plain]
    decoded = [x.decoded / KB for x in first]
    repeat = [x.transfer / KB for x in again]
    print(f"    usable ms, gzip / identity:        {runs_text(ms)}  /  {runs_text(ms_plain)}")
    print(f"    ... from goto(), gzip / identity:  {runs_text(wall)}  /  {runs_text(wall_plain)}")
    print(f"    usable ms on the emulated Wi-Fi:   {runs_text(ms_wifi)}  /  "
          f"{runs_text(ms_wifi_plain)}")  # fmt: skip
    print(f"    KB sent, gzip / identity:          {runs_text(sent, digits=1)}  /  "
          f"{runs_text(sent_plain, digits=1)}")  # fmt: skip
    print(f"    KB decoded (gzip runs):            {runs_text(decoded, digits=1)}")
    print(f"    KB sent on a repeat visit:         {runs_text(repeat, digits=1)}")
    print(f"    files fetched (first / repeat):    {first[0].files} / {again[0].files}")
    rows = [
        Row(name, "first load, bytes sent (transferSize)", median(sent), "KB",
            median(sent_plain), "identity", tuple(sent)),
        Row(name, "first load, bytes decoded", median(decoded), "KB", runs=tuple(decoded)),
        Row(name, "home page usable (New lab enabled)", median(ms), "ms",
            median(ms_plain), "identity", tuple(ms)),
        Row(name, "... counted from Playwright's goto()", median(wall), "ms",
            median(wall_plain), "identity", tuple(wall)),
        Row(name, "usable on a busy Wi-Fi (40 ms, 5 Mbit/s)", median(ms_wifi), "ms",
            median(ms_wifi_plain), "identity", tuple(ms_wifi)),
        Row(name, "repeat visit, bytes sent", median(repeat), "KB",
            median(sent), "first load", tuple(repeat)),
    ]  # fmt: skip
    bytes_ok = median(sent) <= BUDGET_BYTES / KB
    ms_ok = median(ms) <= BUDGET_MS
    checks = [
        Check(
            f"{name}: first load <= {BUDGET_BYTES // KB} KB sent",
            bytes_ok,
            f"{median(sent):.1f} KB ({ratio(median(sent), median(sent_plain)):.2f}x identity)",
        ),
        Check(
            f"{name}: home page usable in <= {BUDGET_MS:g} ms (median)",
            ms_ok,
            f"{median(ms):.0f} ms (runs {runs_text(ms)})",
        ),
        Check(f"{name}: no page errors", not loads.errors, "; ".join(loads.errors[:3]) or "none"),
    ]
    return rows, checks
