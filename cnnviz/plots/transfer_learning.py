"""The transfer-learning page's figures: the dataset (class counts, a sample grid), the lecture's
"freeze these / train this" drawing and 2x2 table, the live curves, and the results (per-class
accuracy, confusion matrix, top-k prediction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from cnnviz.notation import counted
from cnnviz.plots.style import styled

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
FROZEN_COLOR = "#c7cdd4"
TRAINED_COLOR = "#2ca02c"
HEAD_COLOR = "#d62728"
HIGHLIGHT = "#fde68a"
SIZES = ("small", "large")
DOMAINS = (True, False)  # similar to ImageNet, then different
# A loss this many times the median of the others squashes them flat on a linear axis: the
# loss axis turns logarithmic (a diverging epoch at 36 beside the rest under 1 stays readable).
LOSS_OUTLIER_RATIO = 20.0


def _tight(fig: go.Figure, height: int, **layout: Any) -> go.Figure:
    layout.setdefault("margin", {"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_layout(height=height, **layout)
    return fig


@styled
def class_counts_figure(counts: Mapping[str, int]) -> go.Figure:
    """Images per class as bars, the count written on each bar."""
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            text=[f"{n:,}" for n in counts.values()],
            textposition="outside",
            cliponaxis=False,
            marker_color=TRAIN_COLOR,
            hovertemplate="%{x}: %{y:,} images<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(title="images", rangemode="tozero")
    return _tight(fig, 300, title="Images per class")


def sample_mosaic(
    images: torch.Tensor, labels: torch.Tensor, n_classes: int, per_class: int, seed: int = 0
) -> tuple[np.ndarray, list[list[int]]]:
    """H x W x 3 uint8 mosaic: one row per class, up to per_class random images of it (seeded),
    a 2-px white gap between tiles; and which dataset index sits in each tile (row by row)."""
    side = int(images.shape[-1])
    gap = 2
    tile = side + gap
    mosaic = np.full((n_classes * tile - gap, per_class * tile - gap, 3), 255, dtype=np.uint8)
    generator = torch.Generator().manual_seed(seed)
    chosen: list[list[int]] = []
    for row in range(n_classes):
        members = torch.nonzero(labels == row).flatten()
        pick = members[torch.randperm(members.numel(), generator=generator)[:per_class]]
        pick = torch.sort(pick).values.tolist()
        chosen.append(pick)
        for col, index in enumerate(pick):
            y, x = row * tile, col * tile
            mosaic[y : y + side, x : x + side] = images[index].permute(1, 2, 0).numpy()
    return mosaic, chosen


@styled
def sample_grid_figure(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str],
    per_class: int = 8,
    seed: int = 0,
) -> go.Figure:
    """A few images of every class, one row per class, the class name at the row's left."""
    mosaic, _ = sample_mosaic(images, labels, len(classes), per_class, seed)
    side = int(images.shape[-1])
    fig = go.Figure(go.Image(z=mosaic, hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    rows = [i * (side + 2) + side / 2 for i in range(len(classes))]
    fig.update_yaxes(tickvals=rows, ticktext=list(classes), showgrid=False)
    # One row of tiles about 28 px high whatever the image side: 10 classes stay on screen.
    height = max(160, min(28 * len(classes) + 60, 520))
    return _tight(fig, height, title="Samples per class")


@styled
def strategy_table_figure(
    cells: Mapping[tuple[str, bool], str], chosen: tuple[str, bool], n_images: int
) -> go.Figure:
    """The lecture's 2x2 table: dataset size (columns) x similar to ImageNet (rows), each cell
    the recommended strategy; the cell of this dataset and the student's choice highlighted."""
    fig = go.Figure()
    for col, size in enumerate(SIZES):
        for row, similar in enumerate(DOMAINS):
            here = (size, similar) == chosen
            y0 = 1 - row  # similar on top
            fig.add_shape(
                type="rect",
                x0=col,
                x1=col + 1,
                y0=y0,
                y1=y0 + 1,
                line={"color": "#444", "width": 3 if here else 1},
                fillcolor=HIGHLIGHT if here else "white",
                layer="below",
            )
            fig.add_annotation(
                x=col + 0.5,
                y=y0 + 0.5,
                text=f"<b>{cells[size, similar]}</b>" if here else cells[size, similar],
                showarrow=False,
                font={"size": 14},
            )
    size_words = {"small": "small dataset", "large": "large dataset"}
    fig.update_xaxes(
        range=[-0.02, 2.02],
        tickvals=[0.5, 1.5],
        ticktext=[
            f"{size_words[s]}<br>(yours: {n_images:,} images)" if s == chosen[0] else size_words[s]
            for s in SIZES
        ],
        side="top",
        showgrid=False,
        zeroline=False,
        fixedrange=True,
    )
    fig.update_yaxes(
        range=[-0.02, 2.02],
        tickvals=[1.5, 0.5],
        ticktext=["similar to<br>ImageNet", "different<br>from ImageNet"],
        showgrid=False,
        zeroline=False,
        fixedrange=True,
    )
    fig.update_layout(plot_bgcolor="white")
    return _tight(fig, 260, margin={"l": 10, "r": 10, "t": 60, "b": 10})


def trained_blocks(n_blocks: int, strategy: str, last_blocks: int) -> list[bool]:
    """Which of the backbone's blocks a strategy trains (the new head is always trained)."""
    if strategy == "full":
        return [True] * n_blocks
    if strategy == "last":
        last = min(max(last_blocks, 0), n_blocks)
        return [False] * (n_blocks - last) + [True] * last
    return [False] * n_blocks


@styled
def freeze_figure(blocks: Sequence[str], trained: Sequence[bool], backbone: str) -> go.Figure:
    """The lecture's figure: the backbone's blocks from the image (bottom) to the new head (top),
    frozen ones gray, trained ones green, with "Freeze these" and "Train this" beside them."""
    names = ["image", *blocks, "new head (linear)"]
    kinds = ["input", *("trained" if t else "frozen" for t in trained), "head"]
    fill = {"input": "white", "frozen": FROZEN_COLOR, "trained": TRAINED_COLOR, "head": HEAD_COLOR}
    font = {"input": "#333", "frozen": "#333", "trained": "white", "head": "white"}
    fig = go.Figure()
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        fig.add_shape(
            type="rect",
            x0=0,
            x1=1,
            y0=i + 0.08,
            y1=i + 0.92,
            fillcolor=fill[kind],
            line={"color": "#555", "width": 1},
        )
        label = name if kind in ("input", "head") else f"{name} ({kind})"
        fig.add_annotation(
            x=0.5, y=i + 0.5, text=label, showarrow=False, font={"color": font[kind], "size": 12}
        )
    # A bracket beside each run of frozen or trained layers (the head counts as trained).
    runs: list[tuple[str, int, int]] = []
    for i, kind in enumerate(kinds[1:], start=1):
        group = "frozen" if kind == "frozen" else "trained"
        if runs and runs[-1][0] == group:
            runs[-1] = (group, runs[-1][1], i)
        else:
            runs.append((group, i, i))
    for group, first, last in runs:
        many = last > first
        text = ("Freeze these" if many else "Freeze this") if group == "frozen" else None
        if text is None:
            text = "Train these" if many else "Train this"
        color = "#555" if group == "frozen" else TRAINED_COLOR
        fig.add_shape(
            type="path",
            path=f"M 1.05 {first + 0.1} L 1.1 {first + 0.1} L 1.1 {last + 0.9} L 1.05 {last + 0.9}",
            line={"color": color, "width": 2},
        )
        fig.add_annotation(
            x=1.13,
            y=(first + last + 1) / 2,
            text=f"<b>{text}</b>",
            showarrow=False,
            xanchor="left",
            font={"color": color, "size": 14},
        )
    fig.update_xaxes(visible=False, range=[-0.02, 1.7], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-0.1, len(names) + 0.1], fixedrange=True)
    fig.update_layout(plot_bgcolor="white", showlegend=False)
    return _tight(fig, max(220, 26 * len(names) + 50), title=f"{backbone}: what trains")


_EPOCH_KEYS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


def curve_points(metrics: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list, list]]:
    """(x, y) per curve from a job's metrics history: epoch points (entries without "batch")
    for train/val loss and accuracy, batch points of the training loss at fractional epochs."""
    curves: dict[str, tuple[list, list]] = {}
    for entry in metrics:
        if "batch" in entry:
            pairs = [("batch_loss", entry.get("train_loss"))]
        else:
            pairs = [(k, entry.get(k)) for k in _EPOCH_KEYS]
        for name, value in pairs:
            if value is None or "epoch" not in entry:
                continue
            xs, ys = curves.setdefault(name, ([], []))
            xs.append(entry["epoch"])
            ys.append(value)
    return curves


_CURVES = {
    "batch_loss": ("train loss (per batch)", TRAIN_COLOR, 1, "lines", 0.35),
    "train_loss": ("train loss", TRAIN_COLOR, 1, "lines+markers", 1.0),
    "val_loss": ("validation loss", VAL_COLOR, 1, "lines+markers", 1.0),
    "train_accuracy": ("train accuracy", TRAIN_COLOR, 2, "lines+markers", 1.0),
    "val_accuracy": ("validation accuracy", VAL_COLOR, 2, "lines+markers", 1.0),
}


def loss_axis(losses: Sequence[float]) -> dict[str, Any]:
    """The loss axis: linear from zero, or logarithmic (its range spanning every loss) when
    the largest loss is over LOSS_OUTLIER_RATIO times the median of the others, which a
    linear axis would flatten."""
    positive = sorted(float(v) for v in losses if v is not None and v > 0)
    others = positive[:-1]
    if not others or positive[-1] <= LOSS_OUTLIER_RATIO * others[len(others) // 2]:
        return {"rangemode": "tozero", "type": "linear"}
    low, high = float(np.log10(positive[0])), float(np.log10(positive[-1]))
    pad = 0.05 * (high - low)
    # Labeled ticks at 1, 2 and 5 of every decade (plotly's own: tiny unlabeled-looking 2s, 5s)
    ticks = [
        m * 10.0**k
        for k in range(int(np.floor(low - pad)), int(np.ceil(high + pad)) + 1)
        for m in (1, 2, 5)
        if low - pad <= np.log10(m * 10.0**k) <= high + pad
    ]
    return {
        "type": "log",
        "range": [low - pad, high + pad],
        "tickvals": ticks,
        "ticktext": [f"{t:g}" for t in ticks],
        "automargin": True,
    }


@styled
def curves_figure(metrics: Sequence[Mapping[str, Any]], epochs: int | None = None) -> go.Figure:
    """Loss (left) and accuracy (right) against the epoch, training and validation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    points = curve_points(metrics)
    for name, (label, color, col, mode, opacity) in _CURVES.items():
        if name not in points:
            continue
        xs, ys = points[name]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=label,
                mode=mode,
                opacity=opacity,
                line={"color": color, "dash": "dot" if name.startswith("val") else "solid"},
                hovertemplate=f"{label}: %{{y:.3f}} at epoch %{{x:.2f}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    right = max(epochs or 1, max((max(xs) for xs, _ in points.values()), default=1))
    fig.update_xaxes(title="epoch", range=[0, right * 1.02])
    losses = [y for name, (_, ys) in points.items() if name.endswith("loss") for y in ys]
    axis = loss_axis(losses)
    fig.update_yaxes(**axis, row=1, col=1)
    if axis["type"] == "log":  # said where the eye looks first: the subplot's title
        fig.layout.annotations[0].text = "Loss (log scale)"
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    return _tight(fig, 340, legend={"orientation": "h", "y": -0.25})


@styled
def per_class_accuracy_figure(per_class: Mapping[str, float]) -> go.Figure:
    """Validation accuracy of every class."""
    fig = go.Figure(
        go.Bar(
            x=list(per_class),
            y=list(per_class.values()),
            text=[f"{a:.0%}" for a in per_class.values()],
            textposition="outside",
            cliponaxis=False,
            marker_color=VAL_COLOR,
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title="validation accuracy")
    return _tight(fig, 320, title="Accuracy per class")


@styled
def confusion_figure(
    confusion: Sequence[Sequence[int]],
    classes: Sequence[str],
    chosen: tuple[int, int] | None = None,
) -> go.Figure:
    """The confusion matrix: rows the true class, columns the predicted one, counts written in
    the cells, the `chosen` (true, predicted) cell outlined. An invisible marker sits on every
    cell so that clicking one selects it (plotly selects points, not heatmap cells); its
    customdata is (true, predicted, count)."""
    z = [list(row) for row in confusion]
    n = len(classes)
    labels = list(classes)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            colorscale="Blues",
            text=[[str(v) for v in row] for row in z],
            texttemplate="%{text}",
            hoverinfo="skip",  # the markers answer: a click must land on them, not the cell
            showscale=False,
        )
    )
    cells = [(i, j) for i in range(n) for j in range(n)]
    fig.add_trace(
        go.Scatter(
            x=[labels[j] for _, j in cells],
            y=[labels[i] for i, _ in cells],
            customdata=[(i, j, z[i][j]) for i, j in cells],
            text=[
                f"true {labels[i]}, predicted {labels[j]}: {counted(z[i][j], 'image')}"
                for i, j in cells
            ],
            mode="markers",
            marker={"size": 24, "opacity": 0, "symbol": "square"},
            hovertemplate="%{text}; click to see them<extra></extra>",
            showlegend=False,
        )
    )
    if chosen is not None:  # category axes: cell k spans k - 0.5 to k + 0.5
        i, j = chosen
        fig.add_shape(
            type="rect",
            x0=j - 0.5,
            x1=j + 0.5,
            y0=i - 0.5,
            y1=i + 0.5,
            line={"color": HEAD_COLOR, "width": 3},
        )
    fig.update_xaxes(type="category", title="predicted", side="top")
    fig.update_yaxes(type="category", title="true", autorange="reversed")
    side = max(260, min(40 * n + 120, 560))
    return _tight(fig, side, clickmode="event+select", dragmode=False)


@styled
def topk_figure(top: Sequence[tuple[str, float]]) -> go.Figure:
    """The top-k classes of one prediction, the most probable at the top."""
    names = [name for name, _ in top]
    probs = [p for _, p in top]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=names,
            orientation="h",
            text=[f"{p:.1%}" for p in probs],
            textposition="outside",
            cliponaxis=False,
            marker_color=TRAIN_COLOR,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title="probability")
    fig.update_yaxes(type="category", autorange="reversed")
    return _tight(fig, max(180, 36 * len(top) + 80), title="Top classes")
