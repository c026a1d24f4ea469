"""What the browser tests measure about a lab page: rendered type sizes, column widths, scroll."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

# Every element with text of its own inside `root`: its font size as rendered, in CSS px.
# Inside an SVG the user units are scaled to the screen: getScreenCTM() gives that scale.
TEXT_SIZES = """
(selector) => {
  const out = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of root.querySelectorAll('*')) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      let scale = 1;
      if (el instanceof SVGGraphicsElement) {
        const m = el.getScreenCTM();
        if (m) scale = Math.hypot(m.a, m.b);
      }
      const px = parseFloat(getComputedStyle(el).fontSize) * scale;
      out.push({ px, text: el.textContent.trim().slice(0, 40) });
    }
  }
  return out;
}
"""

PAGE_WIDTHS = """
() => ({
  scrollWidth: document.scrollingElement.scrollWidth,
  clientWidth: document.scrollingElement.clientWidth,
})
"""


def text_sizes(page: Page, selector: str) -> list[dict[str, Any]]:
    sizes: list[dict[str, Any]] = page.evaluate(TEXT_SIZES, selector)
    assert sizes, f"no text found under {selector}"
    return sizes


def smallest(page: Page, selector: str) -> dict[str, Any]:
    return min(text_sizes(page, selector), key=lambda s: float(s["px"]))


def assert_no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate(PAGE_WIDTHS)
    assert widths["scrollWidth"] <= widths["clientWidth"], f"the page scrolls sideways: {widths}"


def width(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return float(box["width"])
