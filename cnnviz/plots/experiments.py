"""Figures of the live experiments (cnnviz.experiments): live training curves while a job runs,
and each experiment's result chart once it is done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots.style import styled

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
LABELS = {
    "val_accuracy": "validation accuracy",
    "train_accuracy": "training accuracy",
    "train_loss": "training loss",
}
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _percent(fig: go.Figure, **where: Any) -> None:
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", **where)


@styled
def curves_figure(rows: Sequence[dict[str, Any]], y: str, *, title: str = "") -> go.Figure:
    """One line per run of `y` against the epoch, from a job's metrics history (rows with a
    "run" and an "epoch"; other rows are left out): the live view while an experiment runs."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if "epoch" in row and "run" in row and row.get(y) is not None:
            runs.setdefault(row["run"], []).append(row)
    fig = go.Figure()
    for i, (run, points) in enumerate(runs.items()):
        fig.add_trace(
            go.Scatter(
                x=[p["epoch"] for p in points],
                y=[p[y] for p in points],
                name=run,
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(
        title=title or f"{LABELS.get(y, y).capitalize()} per epoch",
        xaxis_title="epoch",
        yaxis_title=LABELS.get(y, y),
        margin=_MARGIN,
        height=360,
        legend={"orientation": "h", "y": -0.2},
    )
    if "accuracy" in y:
        _percent(fig)
    return fig


@styled
def per_class_figure(runs: Sequence[dict[str, Any]]) -> go.Figure:
    """Rotation: validation accuracy of each digit, one bar per rotation range."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        per_class = run["per_class_accuracy"]
        fig.add_trace(
            go.Bar(
                x=list(per_class),
                y=list(per_class.values()),
                name=f"up to {run['max_degrees']} degrees",
                marker_color=PALETTE[i % len(PALETTE)],
            )
        )
    fig.update_layout(
        title="Validation accuracy per digit",
        barmode="group",
        xaxis_title="digit",
        xaxis_type="category",
        yaxis_title="accuracy",
        margin=_MARGIN,
        height=380,
        legend={"orientation": "h", "y": -0.2},
    )
    _percent(fig, range=[0, 1])
    return fig


@styled
def confusion_figure(confusion: list[list[int]], *, title: str) -> go.Figure:
    """A confusion matrix (rows: true digit, columns: predicted) with every count written in
    its cell and the 6 -> 9 and 9 -> 6 cells framed in red."""
    digits = [str(d) for d in range(len(confusion))]
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=digits,
            y=digits,
            colorscale="Blues",
            showscale=False,
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    for true, predicted in ((6, 9), (9, 6)):
        fig.add_shape(
            type="rect",
            x0=predicted - 0.5,
            x1=predicted + 0.5,
            y0=true - 0.5,
            y1=true + 0.5,
            line={"color": "#d62728", "width": 3},
        )
    fig.update_layout(
        title=title,
        xaxis={"title": "predicted", "type": "category", "constrain": "domain"},
        yaxis={
            "title": "true",
            "type": "category",
            "autorange": "reversed",
            "scaleanchor": "x",
            "constrain": "domain",
        },
        margin=_MARGIN,
        height=420,
    )
    return fig


@styled
def noise_figure(
    runs: Sequence[dict[str, Any]], spread: dict[str, dict[str, float]] | None = None
) -> go.Figure:
    """Noise: training and validation accuracy against the magnitude, one panel per kind; with
    the document's `spread`, error bars from the seeds' min to max around the mean."""
    kinds = list(dict.fromkeys(run["kind"] for run in runs))
    # Two short lines each: three panels share about 700 px at 1024 px wide, and a one-line
    # "Gaussian noise on hidden units (std)" ran into its neighbours.
    titles = {
        "input": "Gaussian noise<br>on the inputs (std)",
        "hidden": "Gaussian noise<br>on hidden units (std)",
        "dropout": "Dropout<br>(probability)",
    }
    fig = make_subplots(
        rows=1, cols=len(kinds), subplot_titles=[titles.get(k, k) for k in kinds], shared_yaxes=True
    )
    for col, kind in enumerate(kinds, start=1):
        mine = [run for run in runs if run["kind"] == kind]
        # Categories, not a number axis: the magnitudes span 0 to 10, and 0 has no logarithm.
        x = [f"{run['magnitude']:g}" for run in mine]
        for metric, color, dash in (
            ("train_accuracy", PALETTE[0], "dash"),
            ("val_accuracy", PALETTE[1], "solid"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[run[metric] for run in mine],
                    error_y=_seed_bars(mine, metric, spread),
                    name=LABELS[metric],
                    legendgroup=metric,
                    showlegend=col == 1,
                    mode="lines+markers",
                    line={"color": color, "dash": dash},
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(type="category", title_text="magnitude", row=1, col=col)
    fig.update_layout(
        margin={**_MARGIN, "t": 70},
        height=400,
        legend={"orientation": "h", "y": -0.25},
        title=None,
    )
    _percent(fig, range=[0, 1.05])
    return fig


@styled
def augment_figure(runs: Sequence[dict[str, Any]]) -> go.Figure:
    """Augmentation vs none: training accuracy (dashed) and validation accuracy (solid) per
    epoch, one color per setting, on a 0-100 % axis: the gap between a color's two lines is
    the overfitting that augmentation shrinks."""
    fig = go.Figure()
    for run in runs:
        history = run["history"]
        setting = "augmented" if run["augment"] else "not augmented"
        color = PALETTE[1] if run["augment"] else PALETTE[0]
        for metric, dash in (("train_accuracy", "dash"), ("val_accuracy", "solid")):
            if not all(metric in h for h in history):
                continue  # a document saved before training accuracy was recorded
            fig.add_trace(
                go.Scatter(
                    x=[h["epoch"] for h in history],
                    y=[h[metric] for h in history],
                    name=f"{setting}: {'training' if metric == 'train_accuracy' else 'validation'}",
                    mode="lines",
                    line={"color": color, "width": 3, "dash": dash},
                )
            )
    fig.update_layout(
        title="Training (dashed) and validation (solid) accuracy per epoch",
        xaxis_title="epoch",
        yaxis_title="accuracy",
        margin=_MARGIN,
        height=400,
        legend={"orientation": "h", "y": -0.2},
    )
    _percent(fig, range=[0, 1.02])
    return fig


@styled
def degradation_figure(runs: Sequence[dict[str, Any]]) -> go.Figure:
    """Degradation (He et al., Fig. 1 and 4): training loss per epoch, plain networks on the
    left and residual ones on the right, one line per depth, on the same y axis."""
    kinds = ["plain", "residual"]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["Plain networks", "Residual networks"], shared_yaxes=True
    )
    depths = sorted({run["depth"] for run in runs})
    for run in runs:
        col = kinds.index(run["kind"]) + 1
        history = run["history"]
        shade = PALETTE[depths.index(run["depth"]) % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=[h["epoch"] for h in history],
                y=[h["train_loss"] for h in history],
                name=f"{run['depth']} layers",
                legendgroup=str(run["depth"]),
                showlegend=col == 1,
                mode="lines+markers",
                line={"color": shade, "width": 3},
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(title_text="training loss", rangemode="tozero", row=1, col=1)
    fig.update_layout(margin=_MARGIN, height=380, legend={"orientation": "h", "y": -0.25})
    return fig


def _seed_bars(
    runs: Sequence[dict[str, Any]], metric: str, spread: dict[str, dict[str, float]] | None
) -> dict[str, Any] | None:
    """Noise: asymmetric error bars from each setting's mean down to the seeds' min and up to
    their max (None without a spread)."""
    if not spread:
        return None
    short = "train" if metric == "train_accuracy" else "val"
    stats = [spread[f"{run['kind']} {run['magnitude']:g}"] for run in runs]
    return {
        "type": "data",
        "symmetric": False,
        "array": [s[f"{short}_max"] - s[f"{short}_mean"] for s in stats],
        "arrayminus": [s[f"{short}_mean"] - s[f"{short}_min"] for s in stats],
        "thickness": 1.5,
        "width": 4,
    }


@styled
def six_nine_figure(spread: dict[str, dict[str, float]], *, seeds: int = 1) -> go.Figure:
    """Rotation: the share of validation 6s and 9s taken for the other one against the
    rotation range on a degree axis (so the ranges' spacing shows where the confusion
    starts); with several seeds the mean and error bars from the seeds' min to max."""
    degrees = [int(d) for d in spread]
    stats = list(spread.values())
    mean = [s["six_nine_mean"] for s in stats]
    several = seeds > 1
    fig = go.Figure(
        go.Scatter(
            x=degrees,
            y=mean,
            mode="lines+markers",
            name="6 <-> 9 confusion",
            line={"color": PALETTE[3], "width": 3},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [s["six_nine_max"] - m for s, m in zip(stats, mean, strict=True)],
                "arrayminus": [m - s["six_nine_min"] for s, m in zip(stats, mean, strict=True)],
                "visible": several,
            },
            hovertemplate="up to %{x} degrees: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="6s and 9s taken for the other one"
        + (f" (mean, min to max of {seeds} seeds)" if several else ""),
        # Ticks every 30 degrees, level: the ranges' own values (150, 165, 180) would collide.
        xaxis={
            "title": "trained with rotations up to (degrees)",
            "tick0": 0,
            "dtick": 30,
            "tickangle": 0,
        },
        yaxis_title="share of validation 6s and 9s",
        margin=_MARGIN,
        height=380,
        showlegend=False,
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig
