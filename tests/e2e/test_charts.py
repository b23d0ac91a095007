"""Charts on every page at both widths: Plotly's mode bar, shown while the pointer is over a
chart, covers none of the chart's text (its title, axis titles, tick labels, annotations, bar
and cell labels), and tick labels are drawn large and dark (cnnviz/plots/style.py).

Only the charts a page draws on opening are checked: those drawn after a job (an experiment,
a fine-tuning run) use the same builders' styling and the same app-wide CSS.
"""

from __future__ import annotations

import pytest

from cnnviz.plots.style import TEXT, TICK_PX
from cnnviz.ui.navigation import PAGES, PageEntry
from tests.e2e.test_pages import assert_no_error
from tests.e2e.test_projector import SIZES, TABS, open_at

pytestmark = pytest.mark.e2e

CHART = '[data-testid="stPlotlyChart"]'
# Every text a chart draws: titles, axis titles, tick labels, annotations (subplot titles
# among them), bar and heatmap cell labels, legend entries.
# Plotly names a subplot's axes x2, y2...: its tick labels are in `g.x2tick` under the axis
# layer, its axis title is `text.x2title`.
TEXTS = ", ".join(
    (
        'text[class$="title"]',  # .gtitle, .xtitle, .x2title, .ytitle...
        ".xaxislayer-above text",
        ".yaxislayer-above text",
        ".annotation-text",
        ".bartext",
        ".textpoint text",
        ".heatmaplayer text",
        ".legendtext",
    )
)
# The chart's visible mode bar and every non-empty text of that chart whose box it touches.
COVERED = f"""(chart) => {{
  const bar = chart.querySelector('.modebar');
  if (!bar) return null;  // a chart drawn without a mode bar (config displayModeBar: false)
  const group = bar.querySelector('.modebar-group');
  if (!group || getComputedStyle(group).opacity === '0') return null;
  const b = bar.getBoundingClientRect();
  const hit = [];
  for (const t of chart.querySelectorAll('{TEXTS}')) {{
    const r = t.getBoundingClientRect();
    if (!t.textContent.trim() || r.width === 0 || r.height === 0) continue;
    if (r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom) {{
      hit.push(t.textContent.trim());
    }}
  }}
  return hit;
}}"""
# Font size and fill of every tick label in the visible charts (hidden axes draw none).
TICKS = f"""() => [...document.querySelectorAll('{CHART}')]
  .filter(chart => chart.offsetParent !== null)
  .flatMap(chart => [...chart.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text')])
  .map(t => [t.textContent, getComputedStyle(t).fontSize, getComputedStyle(t).fill])"""


def _rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def covered_texts(app) -> tuple[int, dict[int, list[str]]]:
    """Hover each visible chart in turn: how many were hovered, and per chart the texts its
    mode bar covers."""
    page = app.page
    charts = page.locator(CHART)
    hovered, covered = 0, {}
    for i in range(charts.count()):
        chart = charts.nth(i)
        if not chart.is_visible():
            continue  # in a closed tab or expander
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        if box is None or box["height"] < 40:
            continue
        # Over the chart's middle (not a corner where a point's hover label would open).
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(300)  # the mode bar fades in
        hit = chart.evaluate(COVERED)
        if hit is None:
            continue
        hovered += 1
        if hit:
            covered[i] = hit
    page.mouse.move(0, 0)
    return hovered, covered


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
@pytest.mark.parametrize("entry", PAGES, ids=[p.title for p in PAGES])
def test_mode_bar_covers_no_chart_text(app, entry: PageEntry, size: str) -> None:
    log_start = app.server.log_size()
    open_at(app, entry, SIZES[size])
    hovered, covered = covered_texts(app)
    tabs = app.page.locator(TABS)
    for i in range(tabs.count()):  # charts in tabs that are closed by default
        tabs.nth(i).click()
        app.page.wait_for_timeout(300)
        more, hit = covered_texts(app)
        hovered += more
        covered.update({f"tab {i} chart {k}": v for k, v in hit.items()})
    assert_no_error(app, log_start, f"at {size} width")
    if not hovered:
        pytest.skip(f"{entry.title} draws no chart with a mode bar on opening")
    assert not covered, f"{entry.title} at {size}: the mode bar covers {covered}"


@pytest.mark.parametrize("entry", PAGES, ids=[p.title for p in PAGES])
def test_tick_labels_are_large_and_dark(app, entry: PageEntry) -> None:
    open_at(app, entry, SIZES["projector"])
    ticks = app.page.evaluate(TICKS)
    tabs = app.page.locator(TABS)
    for i in range(tabs.count()):
        tabs.nth(i).click()
        app.page.wait_for_timeout(300)
        ticks += app.page.evaluate(TICKS)
    if not ticks:
        pytest.skip(f"{entry.title} draws no tick labels on opening")
    small = [t for t in ticks if float(t[1].removesuffix("px")) < TICK_PX]
    assert not small, f"tick labels under {TICK_PX} px: {small[:5]}"
    pale = [t for t in ticks if t[2] != _rgb(TEXT)]
    assert not pale, f"tick labels not in {TEXT}: {pale[:5]}"
