"""Figures for the layer calculator: the kernel sliding over the padded input, layer costs."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.layer_calculator import DepthReduction, LayerArithmetic
from cnnviz.notation import hwc
from cnnviz.plots.axes import compact_ticks
from cnnviz.plots.style import styled

PADDING, INPUT, UNSEEN, TAP = 0, 1, 2, 3
CELL_NAMES = {PADDING: "padding (zeros)", INPUT: "input", UNSEEN: "never seen", TAP: "kernel tap"}
CELL_COLORS = {PADDING: "#d4d4d4", INPUT: "#c6dbef", UNSEEN: "#ef8a8a", TAP: "#f28e2b"}
WINDOW = "#08519c"
COSTS = {"params": "#6baed6", "macs": "#fd8d3c"}
# The kernel figure's layout in px: two-line title and subplot titles above the grids, the
# depth note (two lines) and the legend below them; nothing outside the figure at 1024 px.
PLOT_PX, TOP_PX, BOTTOM_PX = 320, 120, 150


def _discrete_scale(colors: Sequence[str]) -> list[list[float | str]]:
    """A colorscale with one flat band per integer value 0..len-1."""
    n = len(colors)
    scale: list[list[float | str]] = []
    for i, color in enumerate(colors):
        scale += [[i / n, color], [(i + 1) / n, color]]
    return scale


def padded_grid(
    result: LayerArithmetic,
    row: int = 0,
    column: int = 0,
    rows: range | None = None,
    columns: range | None = None,
) -> list[list[int]]:
    """Cell kinds of the padded input (or of its `rows` x `columns` part), with the taps of the
    kernel at output (row, column)."""
    spec = result.spec
    p, d = spec.padding, spec.dilation
    rows = rows if rows is not None else range(spec.height + 2 * p)
    columns = columns if columns is not None else range(spec.width + 2 * p)
    rows_unseen, cols_unseen = set(result.unseen_rows), set(result.unseen_columns)
    top, left = row * spec.stride, column * spec.stride
    taps = {(top + i * d, left + j * d) for i in range(spec.kernel) for j in range(spec.kernel)}

    def kind(y: int, x: int) -> int:
        if (y, x) in taps:
            return TAP
        if not (p <= y < p + spec.height and p <= x < p + spec.width):
            return PADDING
        return UNSEEN if (y - p) in rows_unseen or (x - p) in cols_unseen else INPUT

    return [[kind(y, x) for x in columns] for y in rows]


def _heatmap(z: list[list[int]], rows: range, columns: range, colors: list[str]) -> go.Heatmap:
    """Integer cells as flat colors; cell borders only where cells are big enough to see."""
    gap = 1 if max(len(rows), len(columns)) <= 64 else 0
    return go.Heatmap(
        z=z,
        x=list(columns),
        y=list(rows),
        zmin=-0.5,
        zmax=len(colors) - 0.5,
        colorscale=_discrete_scale(colors),
        showscale=False,
        xgap=gap,
        ygap=gap,
    )


@styled
def kernel_positions_figure(result: LayerArithmetic, column: int = 0, row: int = 0) -> go.Figure:
    """The padded input with every kernel position along one row, and the output it fills.

    Inputs larger than 48 cells show only the part around the chosen window (and outputs
    larger than 64 the part around the chosen output), so the figure stays small.
    """
    spec = result.spec
    if result.output is None or min(spec.height, spec.width, spec.kernel, spec.stride) < 1:
        return _refused_figure(result)
    out_h, out_w, out_c = result.output
    column, row = min(max(column, 0), out_w - 1), min(max(row, 0), out_h - 1)
    padded_h, padded_w = spec.height + 2 * spec.padding, spec.width + 2 * spec.padding
    span, top = spec.effective_kernel, row * spec.stride
    view = _zoom(padded_w, column * spec.stride, span, spec.stride)
    columns = range(*view) if view else range(padded_w)
    rows = range(min(padded_h, max(len(columns), top + span))) if view else range(padded_h)
    shown = f"<br>(shown: rows {rows[0]}-{rows[-1]}, columns {columns[0]}-{columns[-1]})"
    out_columns = range(*(_zoom(out_w, column, 1, 1, limit=64) or (0, out_w)))
    out_rows = range(min(out_h, max(len(out_columns), row + 1)))
    out_shown = len(out_columns) < out_w or len(out_rows) < out_h
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.62, 0.38],
        horizontal_spacing=0.08,
        subplot_titles=(
            f"Input {hwc(spec.height, spec.width, spec.channels)},<br>padded to "
            f"{padded_h}x{padded_w}{shown if view else ''}",
            f"Output {result.volume}"
            + (
                f"<br>(shown: rows 0-{out_rows[-1]}, columns {out_columns[0]}-{out_columns[-1]})"
                if out_shown
                else ""
            ),
        ),
    )
    grid = padded_grid(result, row, column, rows, columns)
    colors = [CELL_COLORS[k] for k in range(4)]
    cells = _heatmap(grid, rows, columns, colors)
    cells.update(
        customdata=[[CELL_NAMES[v] for v in line] for line in grid],
        hovertemplate="padded row %{y}, column %{x}: %{customdata}<extra></extra>",
    )
    fig.add_trace(cells, row=1, col=1)
    # One shape list in one update: add_shape per window is slow for 55+ windows.
    fig.update_layout(
        shapes=[
            {
                "type": "rect",
                "xref": "x",
                "yref": "y",
                "x0": j * spec.stride - 0.5,
                "x1": j * spec.stride + span - 0.5,
                "y0": top - 0.5,
                "y1": top + span - 0.5,
                "line": {"color": WINDOW, "width": 3 if j == column else 1},
                "opacity": 1.0 if j == column else 0.5,
            }
            for j in range(out_w)
            if j * spec.stride + span > columns[0] and j * spec.stride <= columns[-1]
        ]
    )
    output = [[int((y, x) == (row, column)) for x in out_columns] for y in out_rows]
    outputs = _heatmap(output, out_rows, out_columns, [CELL_COLORS[INPUT], CELL_COLORS[TAP]])
    outputs.update(hovertemplate="output row %{y}, column %{x}<extra></extra>")
    fig.add_trace(outputs, row=1, col=2)
    for axis, anchor in (("yaxis", "x"), ("yaxis2", "x2")):
        fig.layout[axis].update(autorange="reversed", scaleanchor=anchor)
    # "domain": a square grid shrinks its axis instead of stretching the other one's range
    # (the output's y axis ran from -21 to 70 on a 55x55 output).
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showgrid=False, zeroline=False, constrain="domain")
    if view:  # windows partly left of the shown columns are cut at the edge, not drawn outside
        fig.update_xaxes(range=[columns[0] - 0.5, columns[-1] + 0.5], row=1, col=1)
        fig.update_yaxes(autorange=False, range=[rows[-1] + 0.5, -0.5], row=1, col=1)
    # Whole-cell ticks (plotly would label a 3x3 output at 0.5 steps).
    fig.update_xaxes(dtick=math.ceil(len(out_columns) / 8), row=1, col=2)
    fig.update_yaxes(dtick=math.ceil(len(out_rows) / 8), row=1, col=2)
    fig.update_annotations(font={"size": 14})  # the subplot titles
    fig.update_layout(
        height=PLOT_PX + TOP_PX + BOTTOM_PX,
        margin={"t": TOP_PX, "b": BOTTOM_PX, "l": 10, "r": 10},
        title={
            "text": _wrapped(_cost_title(result), 62),
            "font": {"size": 15},
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 14},
        },
        annotations=[*fig.layout.annotations, _depth_note(result, out_c)],
    )
    _legend(fig)
    return fig


def _wrapped(text: str, width: int) -> str:
    """Plotly does not wrap text: break it onto lines that fit the narrowest screen."""
    return "<br>".join(textwrap.wrap(text, width))


def _zoom(side: int, left: int, span: int, stride: int, limit: int = 48) -> tuple[int, int] | None:
    """Columns [x0, x1) to show around a window at `left`; None when the grid is small."""
    width = max(2 * span, span + 6 * stride, 24)
    if side <= max(limit, width):
        return None
    x0 = min(max(0, left + span // 2 - width // 2), side - width)
    return x0, x0 + width


def _cost_title(result: LayerArithmetic) -> str:
    spec = result.spec
    if spec.is_conv:
        per_output = spec.kernel * spec.kernel * (spec.channels // spec.groups)
        return (
            f"{result.volume}: {result.params:,} parameters, {result.macs:,} MACs "
            f"({per_output:,} multiplications for each output value)"
        )
    return f"{result.volume}: pooling has no parameters and no weight multiplications"


def _count(n: int, noun: str) -> str:
    """'1 filter', '96 filters'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _depth_note(result: LayerArithmetic, out_c: int) -> dict[str, object]:
    spec = result.spec
    if spec.is_conv:
        c_in = spec.channels // spec.groups
        through = (
            ("its one input channel" if c_in == 1 else f"all {c_in} input channels")
            if spec.groups == 1
            else f"{c_in} of the {spec.channels} input channels, groups {spec.groups}"
        )
        text = (
            f"Each window is {spec.kernel}x{spec.kernel}x{c_in} (the kernel goes through "
            f"{through}); {_count(spec.filters, 'filter')} give an output depth of {out_c}."
        ).replace("1 filter give", "1 filter gives")
    else:
        each = "its one channel" if spec.channels == 1 else f"each of the {spec.channels} channels"
        text = f"Pooling works on {each} alone: depth stays {out_c}."
    return {
        "text": _wrapped(text, 80),
        "align": "left",
        "xref": "paper",
        "yref": "paper",
        "x": 0,
        "y": -40 / PLOT_PX,  # under the tick labels, in px whatever the figure's width
        "yanchor": "top",
        "showarrow": False,
        "xanchor": "left",
    }


def _legend(fig: go.Figure) -> None:
    """Legend entries for the cell colors (heatmaps have none of their own)."""
    for kind, name in CELL_NAMES.items():
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"size": 12, "symbol": "square", "color": CELL_COLORS[kind]},
                name=name,
                showlegend=True,
            )
        )
    fig.update_layout(legend={"orientation": "h", "y": -95 / PLOT_PX, "yanchor": "top", "x": 0})


def _refused_figure(result: LayerArithmetic) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text="No output: PyTorch refuses these settings (see the problems above).",
        showarrow=False,
        font={"size": 16},
    )
    fig.update_layout(
        height=200, xaxis={"visible": False}, yaxis={"visible": False}, title=result.volume
    )
    return fig


@styled
def depth_reduction_figure(reduction: DepthReduction) -> go.Figure:
    """MACs and parameters: the k x k conv alone vs the 1x1 reduction followed by it."""
    direct, reduce, after = reduction.direct, reduction.reduce, reduction.after
    k = direct.spec.kernel
    fig = make_subplots(rows=1, cols=2, subplot_titles=("MACs", "Parameters"))
    labels = [f"{k}x{k} conv alone", f"1x1 reduce + {k}x{k} conv"]
    parts = (
        (f"{k}x{k} conv", [direct.macs, after.macs], [direct.params, after.params], "#fd8d3c"),
        ("1x1 reduce", [0, reduce.macs], [0, reduce.params], "#6baed6"),
    )
    for name, macs, params, color in parts:
        for col, values in ((1, macs), (2, params)):
            fig.add_trace(
                go.Bar(
                    x=labels,
                    y=values,
                    name=name,
                    marker_color=color,
                    showlegend=col == 1,
                    hovertemplate="%{x}: %{y:,}<extra>" + name + "</extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(**compact_ticks(max(direct.macs, reduction.bottleneck_macs)), row=1, col=1)
    fig.update_yaxes(**compact_ticks(max(direct.params, reduction.bottleneck_params)), row=1, col=2)
    fig.update_layout(barmode="stack", height=360, margin={"t": 40, "b": 10})
    return fig


@styled
def layer_costs_figure(rows: Sequence[dict[str, object]]) -> go.Figure:
    """Parameters and MACs of every layer that has any (rows from layer_table.layer_rows)."""
    costly = [r for r in rows if r["params"] or r["macs"]]
    names = [str(r["layer"]) for r in costly]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for i, key in enumerate(("params", "macs"), start=1):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r[key] for r in costly],
                name="parameters" if key == "params" else "MACs",
                marker_color=COSTS[key],
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),
            row=i,
            col=1,
        )
    for i, key in enumerate(("params", "macs"), start=1):
        top = max((int(r[key]) for r in costly), default=0)  # type: ignore[call-overload]
        fig.update_yaxes(**compact_ticks(top), row=i, col=1)
    fig.update_yaxes(title_text="parameters", row=1, col=1)
    fig.update_yaxes(title_text="MACs", row=2, col=1)
    fig.update_layout(height=420, margin={"t": 20, "b": 10}, legend={"orientation": "h"})
    return fig
