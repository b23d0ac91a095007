"""Figures for the Inception ops page: MACs per term, and depth growing module after module."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.inception_ops import InceptionOps
from cnnviz.plots.axes import compact_ticks
from cnnviz.plots.style import styled

ROLE_COLORS = {
    "1x1": "#4e79a7",
    "3x3": "#f28e2b",
    "5x5": "#e15759",
    "3x3 reduce": "#76b7b2",
    "5x5 reduce": "#59a14f",
    "pool proj": "#b07aa1",
}
MODULE_NAMES = {"inception_naive": "Naive", "inception_bottleneck": "With 1x1 bottlenecks"}


@styled
def macs_by_term_figure(naive: InceptionOps, bottleneck: InceptionOps) -> go.Figure:
    """One stacked bar per module, one segment per convolution term."""
    modules = (naive, bottleneck)
    labels = [MODULE_NAMES[m.module] for m in modules]
    fig = go.Figure()
    for role, color in ROLE_COLORS.items():
        values = [next((t.macs for t in m.terms if t.role == role), 0) for m in modules]
        if not any(values):
            continue
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=role,
                marker_color=color,
                hovertemplate="%{x}, " + role + ": %{y:,} MACs<extra></extra>",
            )
        )
    for label, m in zip(labels, modules, strict=True):
        fig.add_annotation(
            x=label, y=m.total_macs, text=f"{m.total_macs:,}", showarrow=False, yshift=12
        )
    fig.update_yaxes(**compact_ticks(max(m.total_macs for m in modules)))
    fig.update_layout(
        barmode="stack",
        height=420,
        yaxis_title="MACs (weight multiplications)",
        legend_title="term",
        margin={"t": 30, "b": 10},
    )
    return fig


@styled
def stacked_depth_figure(
    naive: Sequence[InceptionOps], bottleneck: Sequence[InceptionOps]
) -> go.Figure:
    """Output depth and MACs of module 1..n when modules are stacked with the same widths."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Output depth after module i", "MACs of module i"),
        horizontal_spacing=0.1,
    )
    for chain, color in ((naive, "#e15759"), (bottleneck, "#4e79a7")):
        name = MODULE_NAMES[chain[0].module]
        x = list(range(1, len(chain) + 1))
        fig.add_trace(
            go.Bar(
                x=x,
                y=[m.output_depth for m in chain],
                name=name,
                marker_color=color,
                customdata=[m.input[0] for m in chain],
                hovertemplate="module %{x}: depth %{customdata} in, %{y} out<extra>"
                + name
                + "</extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=x,
                y=[m.total_macs for m in chain],
                name=name,
                marker_color=color,
                showlegend=False,
                hovertemplate="module %{x}: %{y:,} MACs<extra>" + name + "</extra>",
            ),
            row=1,
            col=2,
        )
    top = max(m.total_macs for chain in (naive, bottleneck) for m in chain)
    fig.update_yaxes(**compact_ticks(top), row=1, col=2)
    fig.update_xaxes(title_text="module", dtick=1)
    fig.update_layout(barmode="group", height=380, margin={"t": 40, "b": 10})
    return fig
