"""Single modules drawn as the slides draw them (the Inception module, the residual block) and
bar charts comparing a few analyzed models or modules."""

from __future__ import annotations

import itertools

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.analysis import Analysis
from cnnviz.notation import volume
from cnnviz.plots.architecture import KIND_COLORS, rgba
from cnnviz.plots.style import styled


def _box(fig: go.Figure, x: float, y: float, w: float, h: float, text: str, color: str) -> None:
    fig.add_shape(
        type="rect",
        x0=x - w / 2,
        x1=x + w / 2,
        y0=y - h / 2,
        y1=y + h / 2,
        fillcolor=rgba(color, 0.25),
        line={"color": color},
    )
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 14, "color": "#111"})


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float) -> None:
    fig.add_annotation(
        x=x1,
        y=y1,
        ax=x0,
        ay=y0,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=2,
        arrowwidth=1.5,
        text="",
    )


@styled
def residual_block_figure() -> go.Figure:
    """H(x) = F(x) + x: two weight layers and the identity shortcut around them."""
    fig = go.Figure()
    ys = [5.0, 3.9, 2.8, 1.7, 0.6]
    _box(fig, 0, ys[0], 2.2, 0.6, "3x3 conv + BN", KIND_COLORS["conv"])
    _box(fig, 0, ys[1], 2.2, 0.5, "ReLU", KIND_COLORS["activation"])
    _box(fig, 0, ys[2], 2.2, 0.6, "3x3 conv + BN", KIND_COLORS["conv"])
    fig.add_shape(
        type="circle", x0=-0.3, x1=0.3, y0=ys[3] - 0.3, y1=ys[3] + 0.3, line={"color": "#333"}
    )
    fig.add_annotation(x=0, y=ys[3], text="<b>+</b>", showarrow=False, font={"size": 18})
    _box(fig, 0, ys[4], 2.2, 0.5, "ReLU", KIND_COLORS["activation"])
    _arrow(fig, 0, 6.1, 0, ys[0] + 0.3)
    for a, b in itertools.pairwise(ys):
        _arrow(fig, 0, a - 0.3, 0, b + 0.3)
    _arrow(fig, 0, ys[4] - 0.25, 0, -0.3)
    fig.add_shape(
        type="path",
        path=f"M 0 5.8 L 2 5.8 L 2 {ys[3]} L 0.3 {ys[3]}",
        line={"color": KIND_COLORS["fc"], "width": 2},
    )
    fig.add_annotation(
        x=2.05,
        y=3.4,
        text="x<br>identity",
        showarrow=False,
        xanchor="left",
        font={"color": KIND_COLORS["fc"]},
    )
    fig.add_annotation(
        x=-1.25, y=3.9, text="F(x)", showarrow=False, xanchor="right", font={"size": 16}
    )
    fig.add_annotation(
        x=0.4, y=1.15, text="H(x) = F(x) + x", showarrow=False, xanchor="left", font={"size": 14}
    )
    fig.add_annotation(x=0.1, y=6.2, text="x", showarrow=False, xanchor="left")
    fig.update_layout(
        height=380,
        width=420,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        xaxis={"visible": False, "range": [-2.6, 3.2]},
        yaxis={"visible": False, "range": [-0.5, 6.5]},
        plot_bgcolor="white",
    )
    return fig


@styled
def inception_module_figure(analysis: Analysis) -> go.Figure:
    """An Inception module as the slide draws it, with depths read off the live analysis."""
    branches = [b for b in analysis.blocks if b.depth == 1]
    fig = go.Figure()
    n = len(branches)
    xs = [(i - (n - 1) / 2) * 2.6 for i in range(n)]
    _box(fig, 0, 5.2, 3.4, 0.6, f"previous layer {volume(analysis.input)}", KIND_COLORS["input"])
    for x, branch in zip(xs, branches, strict=True):
        ops = [
            layer
            for layer in analysis.leaves
            if layer.name.startswith(branch.name + ".") and layer.kind in ("conv", "pool")
        ]
        y = 4.0
        _arrow(fig, 0, 4.9, x, y + 0.38)
        for i, op in enumerate(ops):
            if i:
                _arrow(fig, x, y + 1.1 - 0.38, x, y + 0.38)
            h = op.hyper
            # Two short lines: on one line, four branches' labels ran into each other at 1024 px.
            text = (
                f"{h['kernel']}x{h['kernel']} conv<br>{op.output_shape[0]}"
                if op.kind == "conv"
                else f"{h['kernel']}x{h['kernel']} max<br>pool"
            )
            _box(fig, x, y, 2.3, 0.75, text, KIND_COLORS[op.kind])
            y -= 1.1
        # The branch's depth just under its last box, then one arrow into the concatenation.
        fig.add_annotation(
            x=x,
            y=y + 1.1 - 0.4,
            yanchor="top",
            text=f"depth {branch.output_shape[0]}",
            showarrow=False,
            font={"size": 14, "color": "#333"},
        )
        _arrow(fig, x, y + 0.4, 0, 0.9)
    _box(
        fig,
        0,
        0.6,
        4.6,
        0.6,
        f"filter concatenation {volume(analysis.output_shape)}",
        KIND_COLORS["block"],
    )
    fig.update_layout(
        height=420,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        xaxis={"visible": False, "range": [min(xs) - 1.5, max(xs) + 1.5]},
        yaxis={"visible": False, "range": [0, 5.6]},
        plot_bgcolor="white",
    )
    return fig


@styled
def comparison_figure(analyses: dict[str, Analysis]) -> go.Figure:
    """Parameters and MACs of a few models or modules side by side."""
    names = list(analyses)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("parameters", "MACs"))
    for col, values in (
        (1, [a.total_params for a in analyses.values()]),
        (2, [a.total_macs for a in analyses.values()]),
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                text=[f"{v:,}" for v in values],
                textposition="outside",
                marker_color=[KIND_COLORS["conv"], KIND_COLORS["block"]] * len(names),
                showlegend=False,
            ),
            row=1,
            col=col,
        )
    fig.update_layout(height=330, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
