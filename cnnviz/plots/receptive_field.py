"""Receptive-field figures: the unit grid, the field on the image, its growth, the effective
field, and VGG's 3x3 stacking."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from cnnviz.images import jpeg_data_uri
from cnnviz.plots.style import styled
from cnnviz.receptive_field import GROWTH_NOTE, ReceptiveField, growth_roles
from cnnviz.stacking import StackingRow

__all__ = [
    "GROWTH_NOTE",
    "click_targets",
    "effective_field_figure",
    "field_growth_figure",
    "field_on_image_figure",
    "stacking_params_figure",
    "unit_grid_figure",
]

FIELD_COLOR = "#d62728"
JUMP_COLOR = "#1f77b4"
GRID_COLOR = "#d5dbe3"
GRID_PX = 200
CLICK_SIDE = 32  # click targets per axis at most: 1,024 SVG markers


def _fixed_margins(fig: go.Figure, **margin: int) -> None:
    """Margins that already hold the tick labels, axis titles and colorbar: the axes do not
    measure their labels (automargin, on in plotly.py's default template), so the browser
    lays each chart out once instead of drawing it, pushing the margins and drawing it again
    (about a quarter of a second per change on this page). Legends and colorbars may still
    push (autoexpand) where a narrow column would otherwise clip them."""
    fig.update_xaxes(automargin=False)
    fig.update_yaxes(automargin=False)
    fig.update_layout(margin=margin)


@styled
def unit_grid_figure(field: ReceptiveField, unit: tuple[int, int]) -> go.Figure:
    """The layer's feature map as a grid of units; the chosen one is lit. Click to choose.

    The grid is one heatmap (one image for the browser, however many units). Streamlit reports
    clicks on scatter points only, so transparent click targets lie on top: one per unit up to
    CLICK_SIDE x CLICK_SIDE, else one per block of units (a 112x112 map is 2 px a unit on a
    projector; the sliders reach every unit). Each target is an SVG element the browser
    draws: 12,544 of them took it about a second.
    """
    rows, cols = field.grid
    i, j = unit
    cell_px = GRID_PX / max(rows, cols)
    # Gaps are in px whatever the plot's width: sized for the narrowest plot the page shows
    # (about 200 px square in a side column at 1024 px), or a 14x14 grid melts into one gray
    # square on a projector; none where a unit is under 5 px.
    gap = round(0.3 * min(cell_px, 16.0)) if cell_px >= 5 else 0
    lit = np.zeros((rows, cols), dtype=np.uint8)
    lit[i, j] = 1
    fig = go.Figure(
        go.Heatmap(
            z=lit,
            colorscale=[[0.0, GRID_COLOR], [1.0, FIELD_COLOR]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=gap,
            ygap=gap,
            hoverinfo="skip",
        )
    )
    ti, tj = click_targets(rows), click_targets(cols)
    fig.add_trace(
        go.Scatter(
            x=np.tile(tj, len(ti)),
            y=np.repeat(ti, len(tj)),
            mode="markers",
            marker={"symbol": "square", "size": max(4.0, min(16.0, cell_px)), "opacity": 0},
            selected={"marker": {"opacity": 0}},
            unselected={"marker": {"opacity": 0}},
            hovertemplate="unit (%{y}, %{x})<extra></extra>",
            showlegend=False,
        )
    )
    # The chosen unit outlined, so it shows where a unit is smaller than a pixel or two.
    fig.add_trace(
        go.Scatter(
            x=[j],
            y=[i],
            mode="markers",
            marker={
                "symbol": "square-open",
                "size": max(8.0, min(20.0, cell_px + 4)),
                "color": FIELD_COLOR,
                "line": {"width": 2},
            },
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_xaxes(
        title="column j",
        range=[-0.7, cols - 0.3],
        showgrid=False,
        zeroline=False,
        constrain="domain",
    )
    fig.update_yaxes(
        title="row i",
        range=[rows - 0.3, -0.7],
        scaleanchor="x",
        constrain="domain",
        showgrid=False,
        zeroline=False,
    )
    fig.update_layout(
        title={"text": f"{field.name}: {rows}x{cols} units<br>(click one)", "font": {"size": 14}},
        height=340,
        clickmode="event+select",
        hovermode="closest",
    )
    _fixed_margins(fig, l=72, r=10, t=60, b=72)
    return fig


def click_targets(n: int) -> np.ndarray:
    """The units along one axis of n that get a click target: all of them up to CLICK_SIDE,
    else the center of each block of ceil(n / CLICK_SIDE) units (the last block may be short)."""
    step = math.ceil(n / CLICK_SIDE)
    starts = np.arange(0, n, step)
    return (starts + (np.minimum(starts + step, n) - 1 - starts) // 2).astype(np.int32)


def _box(region: tuple[int, int, int, int]) -> dict[str, float]:
    top, left, bottom, right = region
    return {"x0": left - 0.5, "x1": right + 0.5, "y0": top - 0.5, "y1": bottom + 0.5}


def _image_axes(fig: go.Figure, h: int, w: int, region: tuple[int, int, int, int]) -> None:
    """Show the image plus as much of the zero padding as the field reaches (at most half)."""
    top, left, bottom, right = region
    y0, x0 = max(min(0, top), -h // 2), max(min(0, left), -w // 2)
    y1, x1 = min(max(h - 1, bottom), h - 1 + h // 2), min(max(w - 1, right), w - 1 + w // 2)
    fig.update_xaxes(range=[x0 - 0.5, x1 + 0.5], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[y1 + 0.5, y0 - 0.5], showgrid=False, zeroline=False, scaleanchor="x")
    fig.add_shape(
        type="rect", x0=-0.5, y0=-0.5, x1=w - 0.5, y1=h - 0.5, line={"color": "#888", "width": 1}
    )


@styled
def field_on_image_figure(
    image: np.ndarray, field: ReceptiveField, unit: tuple[int, int]
) -> go.Figure:
    """The input pixels one unit sees, drawn on the image (dashed where it is padding)."""
    h, w = image.shape[:2]
    region = field.region(*unit)
    top, left, bottom, right = region
    fig = go.Figure(
        go.Image(source=jpeg_data_uri(image), hovertemplate="row %{y}, col %{x}<extra></extra>")
    )
    fig.add_shape(
        type="rect",
        **_box(region),
        line={"color": FIELD_COLOR, "width": 2, "dash": "dash"},
        fillcolor="rgba(214,39,40,0.12)",
    )
    clipped = (max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1))
    fig.add_shape(type="rect", **_box(clipped), line={"color": FIELD_COLOR, "width": 3})
    cy, cx = (top + bottom) / 2, (left + right) / 2
    fig.add_trace(
        go.Scatter(
            x=[cx],
            y=[cy],
            mode="markers",
            marker={"color": FIELD_COLOR, "size": 9, "symbol": "x"},
            hovertemplate=f"center ({cy:g}, {cx:g})<extra></extra>",
        )
    )
    _image_axes(fig, h, w, region)
    fig.update_layout(
        title=f"Unit {unit} sees rows {top}..{bottom}, cols {left}..{right}",
        height=440,
        showlegend=False,
    )
    _fixed_margins(fig, l=45, r=10, t=50, b=45)
    return fig


@styled
def effective_field_figure(
    image: np.ndarray, erf: np.ndarray, field: ReceptiveField, unit: tuple[int, int], title: str
) -> go.Figure:
    """The effective field as a heatmap over the grayed image; the theoretical box dashed.

    The field goes as whole percent of its maximum: one byte a pixel instead of a float32's
    four in every redraw's base64, and still finer than the color scale shows."""
    h, w = image.shape[:2]
    gray = image.mean(axis=2).astype(np.uint8)
    peak = float(erf.max()) or 1.0
    percent = np.rint(np.clip(erf / peak, 0.0, 1.0) * 100).astype(np.uint8)
    top, left = _support(percent)
    fig = go.Figure(go.Image(source=jpeg_data_uri(gray), hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=percent[top, left],
            x0=left.start,
            y0=top.start,
            # Transparent where the gradient is zero, so the image shows through.
            colorscale=[
                [0.0, "rgba(255,235,59,0)"],
                [0.05, "rgba(255,193,7,0.55)"],
                [0.4, "rgba(244,67,54,0.85)"],
                [1.0, "rgba(136,14,79,1)"],
            ],
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "|grad|, % of max", "side": "right"}, "thickness": 12},
            hovertemplate="row %{y}, col %{x}: %{z}% of the strongest<extra></extra>",
        )
    )
    region = field.region(*unit)
    fig.add_shape(
        type="rect", **_box(region), line={"color": "#00b4d8", "width": 2, "dash": "dash"}
    )
    _image_axes(fig, h, w, region)
    fig.update_layout(title=title, height=440)
    _fixed_margins(fig, l=45, r=90, t=50, b=45)
    return fig


def _support(values: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the smallest box holding every non-zero value (all of them if
    none is): outside it the heatmap is transparent anyway, and an early layer's field is a
    few pixels of a 224x224 image."""
    rows, cols = np.flatnonzero(values.any(axis=1)), np.flatnonzero(values.any(axis=0))
    if not len(rows):
        return slice(0, values.shape[0]), slice(0, values.shape[1])
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


@styled
def field_growth_figure(fields: list[ReceptiveField], selected: str) -> go.Figure:
    """Receptive field and jump along the main path (log scale), side branches as hollow
    points, global layers on the input-size line, the chosen layer marked."""
    roles = growth_roles(fields)
    fig = go.Figure()
    for role, label, symbol in (
        ("main", "receptive field (px), main path", "circle"),
        ("side", "side branch: its own field (px)", "circle-open"),
    ):
        points = [(x, f) for x, (f, r) in enumerate(roles) if r == role]
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in points],
                y=[f.rf[0] for _, f in points],
                name=label,
                mode="lines+markers" if role == "main" else "markers",
                line={"color": FIELD_COLOR, "shape": "hv"},
                marker={"size": 4 if role == "main" else 7, "symbol": symbol},
                customdata=[[f.name, f.type] for _, f in points],
                hovertemplate="%{customdata[0]} (%{customdata[1]}): %{y} px<extra></extra>",
            )
        )
    main = [(x, f) for x, (f, r) in enumerate(roles) if r == "main"]
    fig.add_trace(
        go.Scatter(
            x=[x for x, _ in main],
            y=[f.jump[0] for _, f in main],
            name="jump (px)",
            mode="lines+markers",
            line={"color": JUMP_COLOR, "shape": "hv"},
            marker={"size": 4},
            customdata=[[f.name, f.type] for _, f in main],
            hovertemplate="%{customdata[0]} (%{customdata[1]}): jump %{y} px<extra></extra>",
        )
    )
    pooled = [(x, f) for x, (f, r) in enumerate(roles) if r == "global"]
    if pooled:
        size = pooled[0][1].rf[0]
        fig.add_hline(y=size, line={"color": "#555", "dash": "dot", "width": 1})
        # Annotations on a log axis take log10 coordinates (shapes take data values).
        fig.add_annotation(
            x=0,
            xanchor="left",
            y=math.log10(size),
            yanchor="bottom",
            text=f"the whole input ({size} px)",
            showarrow=False,
            font={"color": "#555"},
        )
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in pooled],
                y=[size] * len(pooled),
                name="global: sees the whole input",
                mode="markers",
                marker={"color": "#555", "size": 8, "symbol": "diamond"},
                customdata=[[f.name, f.type] for _, f in pooled],
                hovertemplate="%{customdata[0]} (%{customdata[1]}): the whole input<extra></extra>",
            )
        )
    # A container's output is its last layer's: mark the last leaf computed before it.
    names = [f.name for f in fields]
    if selected in names:
        position = sum(f.leaf for f in fields[: names.index(selected) + 1]) - 1
        fig.add_vline(
            x=max(position, 0), line={"color": "#555", "dash": "dot"}, annotation_text=selected
        )
    ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    fig.update_yaxes(type="log", title="pixels of the input (log)", tickvals=ticks)
    fig.update_xaxes(title="layer, in the order the forward pass computes it")
    fig.update_layout(
        title="How the field grows along the main path (it never shrinks)",
        height=380,
        legend={"orientation": "h", "y": -0.3},
    )
    _fixed_margins(fig, l=72, r=10, t=50, b=125)
    return fig


@styled
def stacking_params_figure(rows: list[StackingRow], channels: int) -> go.Figure:
    """Parameters of n stacked 3x3 convolutions vs one (2n+1)x(2n+1) with the same field."""
    x = [f"n={r.n}: {r.n} x 3x3 vs {r.kernel}x{r.kernel}" for r in rows]
    fig = go.Figure()
    for label, values, color, factor in (
        ("n stacked 3x3 (9n C²)", [r.stacked_params for r in rows], JUMP_COLOR, "stacked"),
        ("one (2n+1)x(2n+1) ((2n+1)² C²)", [r.single_params for r in rows], FIELD_COLOR, "one"),
    ):
        fig.add_trace(
            go.Bar(
                x=x,
                y=values,
                name=label,
                marker_color=color,
                text=[f"{v:,}" for v in values],
                textposition="outside",
                hovertemplate=f"{factor}: %{{y:,}} parameters<extra></extra>",
            )
        )
    fig.update_yaxes(title=f"parameters (C = {channels}, no biases)")
    fig.update_layout(
        barmode="group",
        title="Same receptive field, fewer parameters",
        height=380,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
