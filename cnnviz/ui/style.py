"""The app's few CSS rules, in one place: what a projector at 1024x768 needs to stay readable."""

from __future__ import annotations

import streamlit as st

# Streamlit cuts a metric that is wider than its column with an ellipsis ("62,37…"); at
# 1024x768 with the sidebar open, four columns are about 140 px wide. A metric value scales
# with its own box instead (never below 1.1 rem, never above Streamlit's 2.25 rem) and a label
# wraps onto a second line. The wide layout's side padding shrinks on narrow screens so that
# charts and tables get the room.
PROJECTOR_CSS = """
<style>
[data-testid="stMetric"] { container-type: inline-size; }
[data-testid="stMetricValue"] { font-size: clamp(1.1rem, 15cqi, 2.25rem); }
[data-testid="stMetricValue"] [data-testid="stMarkdownContainer"],
[data-testid="stMetricValue"] p,
[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"],
[data-testid="stMetricLabel"] p {
  white-space: normal;
  overflow: visible;
  text-overflow: clip;
  overflow-wrap: anywhere;
}
/* Plotly's mode bar (zoom, pan, download) sat in a chart's top-right corner, over its title,
   axis labels and bar labels. It shows only while the pointer is over the chart (Plotly's own
   "hover" mode) and sits in a strip reserved above the chart, outside every text of it.
   The strip is a margin above the chart's element container, which clips what leaves it
   (space inside it would push the figure's bottom out of view), as does `.js-plotly-plot`:
   both let the mode bar out. */
[data-testid="stElementContainer"]:has([data-testid="stPlotlyChart"]) {
  margin-top: 28px;
  overflow: visible;
}
[data-testid="stPlotlyChart"] .js-plotly-plot { overflow: visible !important; }
[data-testid="stPlotlyChart"] .modebar-container { top: -28px !important; }
[data-testid="stPlotlyChart"] .modebar { top: 0 !important; }
@media (max-width: 1200px) {
  [data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; }
}
</style>
"""


def apply_style() -> None:
    """Add the app's CSS to this run (style-only HTML takes no room on the page)."""
    st.html(PROJECTOR_CSS)
