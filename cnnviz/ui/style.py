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
@media (max-width: 1200px) {
  [data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; }
}
</style>
"""


def apply_style() -> None:
    """Add the app's CSS to this run (style-only HTML takes no room on the page)."""
    st.html(PROJECTOR_CSS)
