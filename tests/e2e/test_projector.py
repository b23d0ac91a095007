"""Every page on a projector (1024x768, sidebar open) and on a laptop (1400x1000).

Screenshots of each page at both widths go to --screenshots DIR (looked at by a person); the
metric test fails when a metric's value or label does not fit its box (Streamlit then cuts it
with an ellipsis: "62,37…").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz.ui.navigation import PAGES, PageEntry
from tests.e2e.test_pages import assert_no_error, url_path

pytestmark = pytest.mark.e2e

SIZES = {"projector": (1024, 768), "laptop": (1400, 1000)}
SIDEBAR = '[data-testid="stSidebar"]'
# Every visible metric part, and whether it (or any element inside it) is wider than its box.
OVERFLOWING = """() => {
  const parts = document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricLabel"]');
  const cut = [];
  for (const part of parts) {
    if (part.offsetParent === null) continue;  // in a tab that is not open
    for (const el of [part, ...part.querySelectorAll('*')]) {
      if (el.scrollWidth > el.clientWidth + 1) {
        cut.push(part.dataset.testid + ': ' + part.innerText.trim());
        break;
      }
    }
  }
  return cut;
}"""
# Every tab panel of the page, so metrics in tabs that are closed by default are checked too.
TABS = '[data-testid="stMain"] [data-baseweb="tab"]'


def open_at(app, entry: PageEntry, size: tuple[int, int]) -> None:
    width, height = size
    app.page.set_viewport_size({"width": width, "height": height})
    app.open(url_path(entry))


@pytest.mark.screenshot
@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
@pytest.mark.parametrize("entry", PAGES, ids=[p.title for p in PAGES])
def test_page_screenshot(app, screenshot_dir: Path, entry: PageEntry, size: str) -> None:
    """A full-page screenshot at each width, sidebar open, without an error."""
    log_start = app.server.log_size()
    open_at(app, entry, SIZES[size])
    assert app.page.locator(SIDEBAR).get_attribute("data-collapsed") == "false"
    app.screenshot(screenshot_dir / f"{Path(entry.path).stem}-{SIZES[size][0]}.png")
    assert_no_error(app, log_start, f"at {size} width")


@pytest.mark.parametrize("entry", PAGES, ids=[p.title for p in PAGES])
def test_metrics_fit_on_a_projector(app, entry: PageEntry) -> None:
    """At 1024x768 with the sidebar open, no metric value or label is cut off (in any tab)."""
    open_at(app, entry, SIZES["projector"])
    assert app.page.locator(SIDEBAR).get_attribute("data-collapsed") == "false"
    cut = set(app.page.evaluate(OVERFLOWING))
    tabs = app.page.locator(TABS)
    for i in range(tabs.count()):
        tabs.nth(i).click()
        cut |= set(app.page.evaluate(OVERFLOWING))
    assert not cut, f"cut off at 1024x768: {sorted(cut)}"
