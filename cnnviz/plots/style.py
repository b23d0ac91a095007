"""The one place that styles every chart's text for a projector: tick labels, axis titles,
legends and titles large and dark.

`st.plotly_chart` draws with Streamlit's theme, a template whose tick labels are 12 px light
gray (rgb 128,132,149), unreadable from the back of a lecture hall. Values set in a figure's
own layout win over its template, so `@styled` writes them on the figure a builder returns:
every figure builder in `cnnviz.plots` is decorated (tests/test_plots_style.py checks). A
value the builder chose itself (a smaller tick font where labels are dense, white text on a
dark cell) is kept: only what the builder left to the template is filled in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import plotly.graph_objects as go

TEXT = "#31333f"  # Streamlit's own text color (the light theme's textColor)
TICK_PX = 15
AXIS_TITLE_PX = 16
LEGEND_PX = 14
TITLE_PX = 18
BELOW_PX = 64  # under the plot: a row of tick labels and an axis title

P = ParamSpec("P")


def _fill(font, size: int | None) -> None:
    """Set `font`'s color (and size, when given) where the builder left them unset."""
    if font.color is None:
        font.color = TEXT
    if size is not None and font.size is None:
        font.size = size


def style(fig: go.Figure) -> go.Figure:
    """`fig` with readable text, in place (and returned)."""
    layout = fig.layout
    # Text with no color of its own (annotations, subplot titles, bar and cell labels) takes
    # the layout's font color before the template's.
    _fill(layout.font, None)
    for axis in (*fig.select_xaxes(), *fig.select_yaxes()):
        _fill(axis.tickfont, TICK_PX)
        _fill(axis.title.font, AXIS_TITLE_PX)
        if axis.tickcolor is None:
            axis.tickcolor = TEXT
        if axis.automargin is None:  # room for the larger ticks, not cut off
            axis.automargin = True
    _room_below(fig)
    _fill(layout.legend.font, LEGEND_PX)
    _fill(layout.title.font, TITLE_PX)
    _legend_below(layout)
    return fig


def _room_below(fig: go.Figure) -> None:
    """Room under the plot for x tick labels and an x axis title: plotly's automargin grows the
    margin for the ticks but drew a title below them outside a 10 px margin (cut off)."""
    titled = any(axis.title.text for axis in fig.select_xaxes() if axis.visible is not False)
    layout = fig.layout
    if not titled or layout.margin.b is None or layout.margin.b >= BELOW_PX:
        return
    if layout.height is not None:
        layout.height += BELOW_PX - layout.margin.b
    layout.margin.b = BELOW_PX


def _legend_below(layout: go.Layout) -> None:
    """A horizontal legend placed under the plot (y < 0, a fraction of the plot's height) ran
    into the x axis's title once ticks grew, and its second row was cut off at the figure's
    bottom edge. It goes to the right of the plot instead, one entry a line, where plotly
    reserves the room it needs."""
    legend = layout.legend
    if legend.orientation != "h" or legend.y is None or legend.y >= 0:
        return
    legend.update(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top")


def styled(build: Callable[P, go.Figure]) -> Callable[P, go.Figure]:
    """Decorate a figure builder: the figure it returns goes through `style`."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> go.Figure:
        return style(build(*args, **kwargs))

    return wrapper
