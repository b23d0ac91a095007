"""Figures of whole networks: the layer-by-layer drawing, where parameters and MACs sit,
the ILSVRC winners, the residual block and the Inception module."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.analysis import Analysis, Layer
from cnnviz.notation import volume
from cnnviz.plots.style import styled

KIND_COLORS = {
    "input": "#bbbbbb",
    "conv": "#1f77b4",
    "pool": "#d62728",
    "fc": "#2ca02c",
    "block": "#9467bd",
    "norm": "#ff7f0e",
    "activation": "#8c564b",
    "other": "#7f7f7f",
}
KIND_NAMES = {
    "input": "input",
    "conv": "convolution",
    "pool": "pooling",
    "fc": "fully connected",
    "block": "block / module",
    "norm": "normalization",
    "activation": "activation",
    "other": "other",
}


def rgba(hex_color: str, alpha: float, shade: float = 1.0) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b = (min(255, int(v * shade)) for v in (r, g, b))
    return f"rgba({r},{g},{b},{alpha})"


def _box_geometry(shape: tuple[int, ...], max_hw: int, max_c: int, max_f: int):
    """Width (depth = channels), height (spatial size) and the oblique offset of one box."""
    if len(shape) == 3:
        c, h, _w = shape
        height = 0.8 + 6.0 * math.sqrt(h / max_hw)
        width = 0.25 + 1.6 * math.log2(c + 1) / math.log2(max_c + 1)
        return width, height, 0.35 * height
    features = math.prod(shape)
    height = 1.0 + 5.0 * math.log10(features + 1) / math.log10(max_f + 1)
    return 0.3, height, 0.0


# Labels a lecture hall can read: 15 px names and 14 px volumes, horizontal, near-black. They
# are laid out for the narrowest plot the app shows (a projector at 1024 px with the sidebar
# open), so they cannot overlap on a wider screen either.
NAME_FONT_PX = 15
VOLUME_FONT_PX = 14
LINE_PX = 19
NARROWEST_PLOT_PX = 620
CHAR_EM = 0.6  # a generous average glyph width of the sans-serif font, in em
BOX_AREA_PX = 300
SHORTCUT_COLORS = {"identity": "#2ca02c", "projection": "#9467bd"}
_SIMPLE_NAME = re.compile(r"^(conv|maxpool|pool|norm|fc)(\d+)$")
_INCEPTION = re.compile(r"^inception(\d[a-z])$")
_RESNET_BLOCK = re.compile(r"^layer(\d+)\.\d+$")


@dataclass(frozen=True)
class DrawnUnit:
    """One box of the drawing: the lecture's name for it and the module it stands for."""

    label: str  # the lecture's name: CONV1, NORM1, FC6, inception<br>(3a), conv2_x
    path: str  # the PyTorch dotted path (shown on hover)
    type: str
    kind: str
    shape: tuple[int, ...]
    params: int
    macs: int
    shortcut: str | None = None  # ResNet blocks: "identity" or "projection"


def lecture_label(name: str, kind: str) -> str | None:
    """The lecture's name for a module whose PyTorch name already says it, else None."""
    if m := _SIMPLE_NAME.match(name):
        word = "POOL" if m[1] == "maxpool" else m[1].upper()
        return f"{word}{m[2]}"
    if m := _INCEPTION.match(name):
        return f"inception<br>({m[1]})"  # two short lines: nine modules sit side by side
    if m := _RESNET_BLOCK.match(name):
        return f"conv{int(m[1]) + 1}_x"  # the ResNet paper's stage names
    if name == "avgpool":
        return "AVG POOL"
    if name == "maxpool":
        return "POOL1"
    if name == "fc" or (kind == "fc" and name == "output"):
        return "FC" if name == "fc" else "OUTPUT"
    if re.fullmatch(r"[csf]\d", name):  # LeNet-5: C1, S2, C3, S4, C5, F6
        return name.upper()
    return None


def _counted_labels(layers: list[Layer], stages: bool) -> list[str]:
    """CONVn, POOLn, NORMn and FCn by counting, for torchvision's features.N / classifier.N.

    VGG is named by stage like the Caffe model the lecture's figures come from (CONV1-1 ...
    CONV5-3); the first FC layer after five conv stages (or five convs) is FC6 in both.
    """
    labels = []
    convs = pools = norms = fcs = stage_convs = 0
    for layer in layers:
        if layer.kind == "conv":
            convs += 1
            stage_convs += 1
            labels.append(f"CONV{pools + 1}-{stage_convs}" if stages else f"CONV{convs}")
        elif layer.kind == "pool":
            if layer.type.startswith("Adaptive"):
                labels.append("AVG POOL")
                continue
            pools += 1
            stage_convs = 0
            labels.append(f"POOL{pools}")
        elif layer.kind == "norm":
            norms += 1
            labels.append(f"NORM{norms}")
        elif layer.kind == "fc":
            fcs += 1
            labels.append(f"FC{(pools if stages else convs) + fcs}")
        else:
            labels.append(layer.name.upper())
    return labels


def drawn_units(analysis: Analysis) -> list[DrawnUnit]:
    """The drawing's boxes, in order, with the lecture's names and ResNet's shortcut kinds."""
    layers = analysis.diagram_layers()
    named = [lecture_label(u.name, u.kind) for u in layers]
    if any(label is None for label in named):
        named = _counted_labels(layers, stages=analysis.model.startswith("vgg"))
    projections = {
        b.name.removesuffix(".downsample")
        for b in analysis.blocks
        if b.name.endswith(".downsample")
    }
    units = []
    for layer, label in zip(layers, named, strict=True):
        shortcut = None
        if layer.type in ("BasicBlock", "Bottleneck"):
            shortcut = "projection" if layer.name in projections else "identity"
        # GoogLeNet's stem is a conv + batch norm module (BasicConv2d): a convolution.
        kind = "conv" if layer.type == "BasicConv2d" else layer.kind
        units.append(
            DrawnUnit(
                label=str(label),
                path=layer.name,
                type=layer.type,
                kind=kind,
                shape=layer.output_shape,
                params=layer.params,
                macs=layer.macs,
                shortcut=shortcut,
            )
        )
    return units


def _text_px(text: str, font_px: int) -> float:
    return max(len(line) for line in text.split("<br>")) * CHAR_EM * font_px + 8


def label_rows(spans: list[tuple[float, float, str]], px_per_unit: float, font_px: int) -> list:
    """A row for each label (center x, data units) so that no two labels of a row overlap.

    Greedy, left to right: each label takes the first row whose last label ends before it.
    """
    ends: list[float] = []
    rows = []
    for center, _width, text in spans:
        half = _text_px(text, font_px) / 2
        left, right = center * px_per_unit - half, center * px_per_unit + half
        row = next((r for r, end in enumerate(ends) if end <= left), len(ends))
        if row == len(ends):
            ends.append(right)
        else:
            ends[row] = right
        rows.append(row)
    return rows


def row_offsets(texts: list[str], rows: list[int]) -> list[int]:
    """Each label's distance in px from the boxes: rows stack, a two-line row is twice as tall."""
    lines = [1] * (max(rows, default=0) + 1)
    for text, row in zip(texts, rows, strict=True):
        lines[row] = max(lines[row], text.count("<br>") + 1)
    starts = [sum(lines[:r]) * LINE_PX for r in range(len(lines))]
    return [starts[row] for row in rows] + [sum(lines) * LINE_PX]


def _merged(items: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Neighbours with the same label (a ResNet stage's blocks) as one label over their span."""
    merged: list[list] = []
    for left, right, text in items:
        if merged and merged[-1][2] == text:
            merged[-1][1] = right
        else:
            merged.append([left, right, text])
    return [((a + b) / 2, b - a, t) for a, b, t in merged]


def _shortcut_arc(x0: float, x1: float, y: float, rise: float) -> tuple[list, list]:
    """A quadratic curve from x0 to x1 that rises `rise` above y (a skip connection)."""
    ts = [i / 12 for i in range(13)]
    xs = [(1 - t) ** 2 * x0 + 2 * (1 - t) * t * (x0 + x1) / 2 + t**2 * x1 for t in ts]
    ys = [y + 2 * (1 - t) * t * 2 * rise for t in ts]
    return [*xs, None], [*ys, None]


@styled
def architecture_figure(analysis: Analysis) -> go.Figure:
    """The network drawn as a row of boxes: height ~ spatial size, width ~ log(depth).

    Below the boxes, the lecture's names (a ResNet stage's blocks share one, conv2_x); above,
    each new output volume; ResNet's skip connections arc over their blocks. Hovering a box
    gives its PyTorch dotted path and numbers.
    """
    units = [DrawnUnit("INPUT", "input", "input", "input", tuple(analysis.input), 0, 0)]
    units += drawn_units(analysis)
    spatial = [u.shape for u in units if len(u.shape) == 3]
    max_hw = max((s[1] for s in spatial), default=1)
    max_c = max((s[0] for s in spatial), default=1)
    max_f = max((math.prod(u.shape) for u in units if len(u.shape) != 3), default=10)

    faces: dict[tuple[str, str], tuple[list, list]] = {}
    hover_x, hover_text, names, volumes, arcs = [], [], [], [], []
    bottom = top = 0.0
    x = 0.0
    previous_volume = ""
    for unit in units:
        w, h, d = _box_geometry(unit.shape, max_hw, max_c, max_f)
        y0 = -h / 2
        bottom, top = min(bottom, y0), max(top, y0 + h + d * 0.6)
        polys = {
            "front": [(x, y0), (x + w, y0), (x + w, y0 + h), (x, y0 + h)],
            "top": [
                (x, y0 + h),
                (x + d, y0 + h + d * 0.6),
                (x + w + d, y0 + h + d * 0.6),
                (x + w, y0 + h),
            ],
            "side": [
                (x + w, y0),
                (x + w + d, y0 + d * 0.6),
                (x + w + d, y0 + h + d * 0.6),
                (x + w, y0 + h),
            ],
        }
        for face, pts in polys.items():
            xs, ys = faces.setdefault((unit.kind, face), ([], []))
            xs += [p[0] for p in pts] + [pts[0][0], None]
            ys += [p[1] for p in pts] + [pts[0][1], None]
        hover_x.append(x + (w + d) / 2)
        hover_text.append(
            f"<b>{unit.label}</b>: {unit.path} ({unit.type})<br>output {volume(unit.shape)}"
            f"<br>params {unit.params:,}<br>MACs {unit.macs:,}"
            + (f"<br>{unit.shortcut} shortcut" if unit.shortcut else "")
        )
        names.append((x, x + w + d, unit.label))
        if volume(unit.shape) != previous_volume:
            volumes.append((x + (w + d) / 2, w + d, volume(unit.shape)))
            previous_volume = volume(unit.shape)
        if unit.shortcut:
            arcs.append((unit.shortcut, x - 0.35, x + w + d))
        x += w + d + (1.1 if d == 0 else 0.7)  # thin FC bars need room for labels
    # Room at both ends for the first and last labels, which are wider than their boxes.
    width = x - 0.1
    px_per_unit = NARROWEST_PLOT_PX / width
    ends = [names[0][2], names[-1][2], volumes[0][2], volumes[-1][2]]
    pad = max(_text_px(t, NAME_FONT_PX) for t in ends) / 2 / px_per_unit
    x_range = (hover_x[0] - pad, max(hover_x[-1] + pad, x - 0.4))
    px_per_unit = NARROWEST_PLOT_PX / (x_range[1] - x_range[0])

    fig = go.Figure()
    shades = {"front": (0.85, 1.0), "top": (0.55, 1.25), "side": (0.7, 0.75)}
    shown = set()
    for (kind, face), (xs, ys) in faces.items():
        alpha, shade = shades[face]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                fill="toself",
                mode="lines",
                line={"color": rgba(KIND_COLORS[kind], 1.0, 0.6), "width": 1},
                fillcolor=rgba(KIND_COLORS[kind], alpha, shade),
                name=KIND_NAMES[kind],
                legendgroup=kind,
                showlegend=kind not in shown and face == "front",
                hoverinfo="skip",
            )
        )
        if face == "front":
            shown.add(kind)
    arc_top = top
    for shortcut in ("identity", "projection"):
        xs, ys = [], []
        for kind, x0, x1 in arcs:
            if kind == shortcut:
                ax, ay = _shortcut_arc(x0, x1, top + 0.15, 0.9)
                xs += ax
                ys += ay
        if xs:
            arc_top = top + 1.2
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={
                        "color": SHORTCUT_COLORS[shortcut],
                        "width": 2,
                        "dash": "solid" if shortcut == "identity" else "dash",
                    },
                    name=f"{shortcut} shortcut"
                    + (" (1x1 conv, stride 2)" if shortcut == "projection" else ""),
                    hoverinfo="skip",
                )
            )
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=[0] * len(hover_x),
            mode="markers",
            marker={"size": 22, "opacity": 0},
            hovertext=hover_text,
            hoverinfo="text",
            showlegend=False,
        )
    )
    # Collected and set once: each fig.add_annotation re-validates the whole layout.
    annotations: list[dict] = []
    shapes: list[dict] = []
    name_spans = _merged(names)
    group_sizes = [len(list(g)) for _, g in itertools.groupby(text for *_, text in names)]
    name_rows = label_rows(name_spans, px_per_unit, NAME_FONT_PX)
    *name_offsets, below = row_offsets([t for *_, t in name_spans], name_rows)
    for (center, span, text), offset, size in zip(
        name_spans, name_offsets, group_sizes, strict=True
    ):
        annotations.append(
            {
                "x": center,
                "y": bottom,
                "yshift": -6 - offset,
                "text": text,
                "showarrow": False,
                "yanchor": "top",
                "font": {"size": NAME_FONT_PX, "color": "#111111"},
            }
        )
        if size > 1:  # a stage of several blocks: a bracket under them
            shapes.append(
                {
                    "type": "line",
                    "x0": center - span / 2 + 0.1,
                    "x1": center + span / 2 - 0.1,
                    "y0": bottom - 0.15,
                    "y1": bottom - 0.15,
                    "line": {"color": "#444", "width": 2},
                }
            )
    volume_rows = label_rows(volumes, px_per_unit, VOLUME_FONT_PX)
    for (center, _span, text), row in zip(volumes, volume_rows, strict=True):
        annotations.append(
            {
                "x": center,
                "y": arc_top,
                "yshift": 4 + row * LINE_PX,
                "text": text,
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": VOLUME_FONT_PX, "color": "#333333"},
            }
        )
    below += 10
    # The legend sits over the volume labels; with ResNet's two shortcut entries it takes two
    # rows at 1024 px.
    labels_px = 12 + (max(volume_rows, default=0) + 1) * LINE_PX
    above = labels_px + (2 if arcs else 1) * 30
    fig.update_layout(
        annotations=annotations,
        shapes=shapes,
        height=BOX_AREA_PX + below + above,
        margin={"l": 10, "r": 10, "t": above, "b": below},
        xaxis={"visible": False, "range": list(x_range), "fixedrange": True},
        yaxis={"visible": False, "range": [bottom - 0.3, arc_top], "fixedrange": True},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1 + labels_px / BOX_AREA_PX,
            "font": {"size": 14},
        },
        plot_bgcolor="white",
        font={"color": "#111"},
    )
    return fig


def _group_kind(kind: str) -> str:
    return kind if kind in ("conv", "fc") else "other"


@styled
def share_by_kind_figure(analysis: Analysis) -> go.Figure:
    """100%-stacked bars: which kind of layer holds the parameters and does the MACs."""
    totals: dict[str, list[float]] = {"conv": [0, 0], "fc": [0, 0], "other": [0, 0]}
    for layer in analysis.leaves:
        t = totals[_group_kind(layer.kind)]
        t[0] += layer.params
        t[1] += layer.macs
    p_all = max(1, sum(t[0] for t in totals.values()))
    m_all = max(1, sum(t[1] for t in totals.values()))
    fig = go.Figure()
    for kind, (params, macs) in totals.items():
        if params == 0 and macs == 0:
            continue
        shares = [100 * params / p_all, 100 * macs / m_all]
        fig.add_trace(
            go.Bar(
                y=["parameters", "MACs"],
                x=shares,
                orientation="h",
                name=KIND_NAMES[kind],
                marker_color=KIND_COLORS[kind],
                text=[f"{s:.1f}%" for s in shares],
                textposition="inside",
                customdata=[f"{params:,.0f} params", f"{macs:,.0f} MACs"],
                hovertemplate="%{customdata}: %{x:.1f}%<extra>" + KIND_NAMES[kind] + "</extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=200,
        margin={"l": 10, "r": 10, "t": 30, "b": 30},
        xaxis={"title": "share of the network (%)", "range": [0, 100]},
        legend={"orientation": "h", "y": 1.25},
    )
    return fig


@styled
def per_layer_figure(analysis: Analysis) -> go.Figure:
    """Parameters and MACs of every drawn layer (log scale), side by side."""
    units = [u for u in analysis.diagram_layers() if u.params or u.macs]
    names = [u.name for u in units]
    colors = [KIND_COLORS[u.kind] for u in units]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("parameters", "MACs"),
    )
    for row, values in ((1, [u.params for u in units]), (2, [u.macs for u in units])):
        total = max(1, sum(values))
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                marker_color=colors,
                showlegend=False,
                customdata=[100 * v / total for v in values],
                hovertemplate="%{x}: %{y:,}<br>%{customdata:.1f}% of the total<extra></extra>",
            ),
            row=row,
            col=1,
        )
    fig.update_yaxes(type="log")
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
