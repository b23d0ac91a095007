"""Every page on a projector (1024x768, sidebar open) and on a laptop (1400x1000).

Screenshots of each page at both widths go to --screenshots DIR (looked at by a person); the
metric test fails when a metric's value or label does not fit its box (Streamlit then cuts it
with an ellipsis: "62,37…").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz import facts
from cnnviz.ui.navigation import PAGES, PageEntry, page_for
from tests.e2e.test_pages import TITLE, assert_no_error, url_path

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


HOME_CHART = '[data-testid="stPlotlyChart"]'
BARS = f"{HOME_CHART} .barlayer .point"
DEPTH_MARKERS = f"{HOME_CHART} .scatterlayer .points .point"


def open_at(app, entry: PageEntry, size: tuple[int, int]) -> None:
    width, height = size
    app.page.set_viewport_size({"width": width, "height": height})
    app.open(url_path(entry))


def outside_requests(app) -> list[str]:
    """Start recording the tab's requests that leave the app's server (a class is offline)."""
    urls: list[str] = []

    def record(request) -> None:
        if request.url.startswith(("http://", "https://", "ws")) and not request.url.startswith(
            (app.server.url, app.server.url.replace("http", "ws"))
        ):
            urls.append(request.url)

    app.page.on("request", record)
    return urls


@pytest.mark.screenshot
@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
@pytest.mark.parametrize("entry", PAGES, ids=[p.title for p in PAGES])
def test_page_screenshot(app, screenshot_dir: Path, entry: PageEntry, size: str) -> None:
    """A full-page screenshot at each width, sidebar open, without an error."""
    log_start = app.server.log_size()
    outside = outside_requests(app)
    open_at(app, entry, SIZES[size])
    assert app.page.locator(SIDEBAR).get_attribute("data-collapsed") == "false"
    app.screenshot(screenshot_dir / f"{Path(entry.path).stem}-{SIZES[size][0]}.png")
    assert_no_error(app, log_start, f"at {size} width")
    assert not outside, f"the page fetched from outside the app (offline it fails): {outside}"


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


def test_favicon_is_served_by_the_app(app) -> None:
    """The tab's icon is the app's own PNG, not a Material icon fetched from Google."""
    outside = outside_requests(app)
    app.open("")
    icon = app.page.locator("link[rel~='icon']").first.get_attribute("href")
    assert icon, "no favicon link"
    response = app.page.request.get(icon if "://" in icon else f"{app.server.url}/{icon}")
    assert response.ok and response.headers["content-type"] == "image/png"
    assert response.body().startswith(b"\x89PNG")
    assert not outside, f"fetched from outside the app: {outside}"


WINNERS_WITH_PAGES = [w for w in facts.ILSVRC_WINNERS if w.page and w.name == w.page]


@pytest.mark.parametrize("target", ["bar", "depth marker"])
@pytest.mark.parametrize("winner", WINNERS_WITH_PAGES, ids=[w.name for w in WINNERS_WITH_PAGES])
def test_home_bar_and_marker_open_the_page(app, winner: facts.Winner, target: str) -> None:
    """A click on a winner's bar (its center) or on its depth marker opens the winner's page."""
    app.page.set_viewport_size({"width": SIZES["laptop"][0], "height": SIZES["laptop"][1]})
    app.open("")
    index = facts.ILSVRC_WINNERS.index(winner)
    points = app.page.locator(BARS if target == "bar" else DEPTH_MARKERS)
    assert points.count() >= index + 1
    point = points.nth(index)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    # A real mouse click at the center, where a student aims (plotly's drag layer on top of
    # the plot is what receives it, as in a browser).
    app.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    app.page.wait_for_url(f"**/{url_path(page_for(winner.page))}", timeout=30_000)
    title = app.page.locator(TITLE).first
    title.wait_for(state="visible", timeout=30_000)
    assert winner.page.split("-")[0] in title.inner_text()


# The rendered height of each home-bar label: Plotly shrinks a label that does not fit its bar
# (a scale transform), which made SENet's "2.25%" about half the size of the others.
BAR_LABELS = f"{HOME_CHART} .barlayer text.bartext"
BAR_LABEL_HEIGHTS = f"""() => Array.from(document.querySelectorAll('{BAR_LABELS}'))
  .map(t => [t.textContent, t.getBoundingClientRect().height])"""


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_home_bar_labels_keep_their_size(app, size: str) -> None:
    app.page.set_viewport_size({"width": SIZES[size][0], "height": SIZES[size][1]})
    app.open("")
    labels = app.page.evaluate(BAR_LABEL_HEIGHTS)
    assert len(labels) == len(facts.ILSVRC_WINNERS)
    tallest = max(height for _, height in labels)
    small = [(text, round(height, 1)) for text, height in labels if height < 0.9 * tallest]
    assert not small, f"shrunk below the others ({tallest:.1f} px): {small}"
