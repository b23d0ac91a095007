"""The home page's ILSVRC chart: top-5 error and depth of the winners by year."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.facts import Winner
from cnnviz.plots.architecture import KIND_COLORS
from cnnviz.plots.style import styled


def _winner_tick(w: Winner) -> str:
    """Year and name on short lines, so nine ticks fit unrotated on a projector."""
    name = w.name.replace(" et al.", "<br>et al.").replace(" & ", " &<br>")
    return f"{w.year}<br>{name}"


@styled
def ilsvrc_figure(winners: tuple[Winner, ...], human_error: float) -> go.Figure:
    """Top-5 error per year (bars, top) and depth (markers, below), with the human 5.1% line.

    Depth has a panel of its own: inside the bars its labels ran into the error labels. Both
    traces carry the page to open, so a click on a bar or on its depth marker opens it.
    """
    ticks = [_winner_tick(w) for w in winners]
    colors = ["#9e9e9e" if w.depth == 0 else KIND_COLORS["conv"] for w in winners]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.66, 0.34], vertical_spacing=0.06
    )
    fig.add_trace(
        go.Bar(
            x=ticks,
            y=[w.top5_error for w in winners],
            marker_color=colors,
            text=[f"{w.top5_error:g}%" for w in winners],
            # Inside the bars below the human line: above them, the line ran through the text.
            textposition=["inside" if w.top5_error < human_error else "outside" for w in winners],
            insidetextanchor="middle",
            insidetextfont={"size": 14, "color": "white"},
            outsidetextfont={"size": 14},
            textangle=0,
            # Full size even where the bar is shorter than the text (SENet's 2.25% was shrunk
            # to half the others' size): the digits' height still fits inside it.
            constraintext="none",
            cliponaxis=False,
            name="top-5 error (%)",
            customdata=[w.page or "" for w in winners],
            hovertemplate="%{x}: %{y}% top-5 error<extra></extra>",
        ),
        row=1,
        col=1,
    )
    deep = [(tick, w) for tick, w in zip(ticks, winners, strict=True) if w.depth is not None]
    fig.add_trace(
        go.Scatter(
            x=[tick for tick, _ in deep],
            y=[w.depth for _, w in deep],
            mode="lines+markers+text",
            text=[f"{w.depth} layers" if w.depth else "shallow" for _, w in deep],
            textposition="top center",
            textfont={"size": 14},
            cliponaxis=False,
            marker={"size": 10},
            name="depth (layers)",
            line={"color": KIND_COLORS["pool"], "dash": "dot"},
            customdata=[w.page or "" for _, w in deep],
            hovertemplate="%{x}: %{y} layers<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.add_hline(
        y=human_error,
        line_dash="dash",
        line_color="#2ca02c",
        annotation_text=f"human: {human_error}%",
        annotation_position="top right",
        annotation_font={"size": 14},
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="top-5 error (%)", range=[0, 33], row=1, col=1)
    fig.update_yaxes(title_text="layers", range=[0, 200], dtick=50, row=2, col=1)
    fig.update_xaxes(tickangle=0, row=2, col=1)
    fig.update_layout(
        height=520,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.08, "font": {"size": 14}},
        clickmode="event+select",
    )
    return fig
