"""Figures of the Explain page: filter and feature-map grids, attribution overlays (one figure
per method), the top-5 bar chart and the sanity check's grid of maps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, sequential
from plotly.subplots import make_subplots

from cnnviz.plots.style import styled

# Black (nothing) to pale yellow (the top), as rgb(): Inferno's first color, #000004, is one
# of the placeholders Streamlit's chart theme swaps for its own colors (it drew pink).
INFERNO = [
    [i / (len(sequential.Inferno) - 1), "rgb({}, {}, {})".format(*hex_to_rgb(c))]
    for i, c in enumerate(sequential.Inferno)
]


# Transparent where nothing matters, so the image shows through; opaque red where most does.
HEAT = [
    [0.0, "rgba(255, 230, 0, 0)"],
    [0.25, "rgba(255, 200, 0, 0.25)"],
    [0.6, "rgba(255, 100, 0, 0.6)"],
    [1.0, "rgba(210, 0, 0, 0.9)"],
]


def _bare(fig: go.Figure, height: int) -> go.Figure:
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 24, "b": 0})
    return fig


def mosaic(tiles: np.ndarray, cols: int, scale: int = 1, gap: int = 1) -> np.ndarray:
    """N tiles (N x h x w or N x h x w x 3, values in [0, 1]) on a grid, each upscaled `scale`
    times (nearest), separated by `gap` pixels of NaN (drawn as background)."""
    n, h, w = tiles.shape[:3]
    extra = tiles.shape[3:]
    rows = math.ceil(n / cols)
    hs, ws = h * scale, w * scale
    out = np.full((rows * (hs + gap) - gap, cols * (ws + gap) - gap, *extra), np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        big = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
        out[r * (hs + gap) : r * (hs + gap) + hs, c * (ws + gap) : c * (ws + gap) + ws] = big
    return out


@styled
def tile_grid_figure(
    tiles: np.ndarray, title: str, cols: int = 16, tallest: int = 520
) -> go.Figure:
    """Filters as a grid of tiles (RGB, or gray), each already scaled to [0, 1]."""
    cols = min(cols, len(tiles))
    scale = max(1, 24 // tiles.shape[1])
    grid = mosaic(tiles, cols, scale)
    if grid.ndim == 3:  # RGB: gaps white
        image = np.nan_to_num(grid, nan=1.0)
        trace: go.BaseTraceType = go.Image(z=(image * 255).astype(np.uint8), hoverinfo="skip")
    else:
        trace = go.Heatmap(z=grid, colorscale="Gray", zmin=0, zmax=1, showscale=False)
    fig = go.Figure(trace)
    fig.update_layout(title={"text": title, "font": {"size": 14}})
    rows = grid.shape[0] / grid.shape[1] * 700
    return _bare(fig, int(min(tallest, max(120, rows + 40))))


@styled
def feature_grid_figure(
    maps: np.ndarray, channels: Sequence[int], title: str, cols: int = 8
) -> go.Figure:
    """k feature maps side by side, each scaled to its own [min, max] (the grid shows where
    each channel responds; the strength is in the caption's means)."""
    cols = min(cols, len(maps))
    low = maps.min(axis=(1, 2), keepdims=True)
    span = np.ptp(maps, axis=(1, 2), keepdims=True)
    scaled = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)
    h = maps.shape[1]
    scale = max(1, 28 // h)
    grid = mosaic(scaled, cols, scale, gap=max(1, scale))
    fig = go.Figure(go.Heatmap(z=grid, colorscale="Viridis", zmin=0, zmax=1, showscale=False))
    step_y, step_x = h * scale + max(1, scale), maps.shape[2] * scale + max(1, scale)
    # One layout update for all the labels: add_annotation validates the whole layout again
    # at every call, so one by one the labels cost more than the grid.
    labels = [
        {"x": (i % cols) * step_x, "y": (i // cols) * step_y, "text": f"#{c}", "showarrow": False,
         "xanchor": "left", "yanchor": "top", "font": {"color": "white", "size": 10},
         "bgcolor": "rgba(0,0,0,0.5)"}
        for i, c in enumerate(channels)
    ]  # fmt: skip
    fig.update_layout(title={"text": title, "font": {"size": 14}}, annotations=labels)
    rows = grid.shape[0] / grid.shape[1] * 700
    return _bare(fig, int(min(600, max(140, rows + 40))))


@styled
def single_map_figure(values: np.ndarray, title: str) -> go.Figure:
    """One feature map as a heatmap with its values on hover."""
    fig = go.Figure(go.Heatmap(z=values, colorscale="Viridis", colorbar={"thickness": 10}))
    fig.update_layout(title={"text": title, "font": {"size": 14}})
    return _bare(fig, 300)


@styled
def overlay_figure(image: np.ndarray, heat: np.ndarray, title: str, height: int = 300) -> go.Figure:
    """One method's heat map (H x W in [0, 1]) over the image, its name as the title (left,
    clear of the toolbar): one figure per method, so the page lays them out in a wrapping grid
    and no title runs into the next."""
    fig = go.Figure(go.Image(z=image, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=heat, colorscale=HEAT, zmin=0, zmax=1, showscale=False,
            hovertemplate="row %{y}, col %{x}: %{z:.2f} of the top<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(title={"text": title, "font": {"size": 16}, "x": 0, "xanchor": "left"})
    fig = _bare(fig, height)
    fig.update_layout(margin={"l": 0, "r": 0, "t": 34, "b": 0})
    return fig


@styled
def sanity_grid_figure(
    steps: Sequence[str],
    pictures: dict[str, Sequence[np.ndarray]],
    correlations: dict[str, Sequence[float | None]],
    width: int = 680,
) -> go.Figure:
    """Adebayo et al.'s figure: a row per method, a column per cumulative randomization step
    (the original first), each map (values in [0, 1]) with its Spearman rho under it. The
    height fits square cells in about `width` pixels."""
    names = list(pictures)
    rows, cols = max(1, len(names)), max(1, len(steps))
    cell = max(48, min(130, (width - 90) // cols))
    under, top = 34, 40  # the rho under each row, the step names above the first
    height = rows * (cell + under) + top
    titles = [("original" if s == "original" else f"+ {s}") for s in steps]
    fig = make_subplots(
        rows, cols, column_titles=titles, horizontal_spacing=0.012,
        vertical_spacing=under / (height - top - under) if rows > 1 else 0,
    )  # fmt: skip
    for r, name in enumerate(names, start=1):
        for c, (heat, rho) in enumerate(zip(pictures[name], correlations[name], strict=True), 1):
            fig.add_trace(
                go.Heatmap(
                    z=heat, colorscale=INFERNO, zmin=0, zmax=1, showscale=False,
                    hovertemplate=f"{name}, {titles[c - 1]}: %{{z:.2f}}<extra></extra>",
                ),
                r, c,
            )  # fmt: skip
            text = "blank map" if rho is None else f"rho {rho:.2f}"
            n = (r - 1) * cols + c
            fig.update_xaxes(title={"text": text, "standoff": 4, "font": {"size": 13}},
                             row=r, col=c)  # fmt: skip
            fig.update_yaxes(scaleanchor=f"x{'' if n == 1 else n}", row=r, col=c)
        fig.update_yaxes(title={"text": name.replace(" ", "<br>"), "font": {"size": 13}},
                         row=r, col=1)  # fmt: skip
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="",
                     constrain="domain")  # fmt: skip
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="",
                     autorange="reversed", constrain="domain")  # fmt: skip
    fig.update_annotations(font={"size": 13})
    fig.update_layout(height=height, margin={"l": 10, "r": 0, "t": top, "b": under})
    return fig


@styled
def top_classes_figure(top: Sequence[tuple[int, str, float]], target: int) -> go.Figure:
    """The five most probable classes; the explained one highlighted."""
    names = [name if name == str(i) else f"{name} ({i})" for i, name, _ in top][::-1]
    probs = [p for *_, p in top][::-1]
    colors = ["#d62728" if i == target else "#1f77b4" for i, *_ in top][::-1]
    fig = go.Figure(
        go.Bar(
            x=probs, y=names, orientation="h", marker_color=colors,
            text=[f"{p:.1%}" for p in probs], textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    fig.update_yaxes(type="category")  # class names such as "7" are names, not numbers
    fig.update_layout(height=230, margin={"l": 0, "r": 10, "t": 10, "b": 0})
    return fig
