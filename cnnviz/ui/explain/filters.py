"""The Explain page's Filters and Feature maps tabs: a convolution's filter per input channel
beside the map it produces on the image, and a layer's strongest channels."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
import torch

from cnnviz.explain import feature_maps, filters, models
from cnnviz.notation import hwc
from cnnviz.plots import explain as plots


@st.cache_data(max_entries=256, show_spinner=False)
def top_maps(key: str, xid: str, layer: str, k: int, _model: Any, _x: Any):
    return feature_maps.top_channels(_model, _x, layer, k)


@st.cache_data(max_entries=256, show_spinner=False)
def first_filters(key: str, _model: Any) -> filters.FilterTiles:
    return filters.first_layer_tiles(_model)


@st.cache_data(max_entries=512, show_spinner=False)
def channel_map(key: str, xid: str, layer: str, index: int, _model: Any, _x: Any) -> np.ndarray:
    return feature_maps.activations(_model, _x, layer)[index].numpy()


def filter_title(tiles: filters.FilterTiles) -> str:
    out, depth, kh, kw = tiles.shape
    kind = "RGB" if tiles.rgb else "gray"
    return f"{tiles.layer}: {out} filters of {kh}x{kw}x{depth} ({kind}, each scaled on its own)"


@st.cache_data(max_entries=64, show_spinner=False)
def conv_layers(key: str, _model: Any) -> dict[str, tuple[int, ...]]:
    """Every convolution and its weight's shape (out x in x kH x kW)."""
    return {n: tuple(filters.weight(_model, n).shape) for n in filters.conv_layers(_model)}


def filter_channels(model: models.Explained, layer: str, index: int, first: bool):
    """One filter, per input channel (R, G, B or gray for the first layer; the previous
    layer's maps for a deeper one, the first 64 of them)."""
    one = filters.filter_per_channel(model, layer, index)
    n = one.tiles.shape[0]
    if first:
        names = ", ".join(["R", "G", "B"] if n == 3 else ["gray"])
        return plots.tile_grid_figure(one.tiles, f"Filter {index} per input channel ({names})",
                               cols=n, tallest=300)  # fmt: skip
    title = f"Filter {index}: its {n} input channels (previous layer's maps)"
    return plots.tile_grid_figure(one.tiles, title, cols=min(n, 16), tallest=300)


def filter_view(model: models.Explained, xid: str, x: torch.Tensor) -> None:
    """Pick a convolution and one of its filters: its weights per input channel next to the
    map it produces on the image."""
    convs = conv_layers(model.key, model)
    names = list(convs)
    left, right = st.columns([1, 2])
    layer = left.selectbox(
        "Convolution", names, key=f"explain_conv_{model.key}",
        format_func=lambda n: f"{n} ({convs[n][0]} of {hwc(*convs[n][2:], convs[n][1])})",
    )  # fmt: skip
    index = right.slider("Filter", 0, convs[layer][0] - 1, 0, key=f"explain_filter_{model.key}")
    one, feature = st.columns(2)
    one.plotly_chart(filter_channels(model, layer, index, layer == names[0]), width="stretch",
                     key="explain_filter_channels")  # fmt: skip
    feature.plotly_chart(channel_figure(model, xid, x, layer, index), width="stretch",
                         key="explain_filter_map")  # fmt: skip


def channel_figure(model: models.Explained, xid: str, x: torch.Tensor, layer: str, index: int):
    values = channel_map(model.key, xid, layer, index, model, x)
    return plots.single_map_figure(values, f"Its feature map: {layer} channel {index}")


def means_caption(fm: feature_maps.FeatureMaps) -> str:
    shown = ", ".join(f"#{c}: {m:.2f}" for c, m in zip(fm.channels[:8], fm.means[:8], strict=True))
    more = " ..." if len(fm.channels) > 8 else ""
    c, h, w = fm.shape
    return (
        f"The layer's output is {h}x{w}x{c}. Mean activations, strongest first: {shown}{more}. "
        "Each map is scaled to its own range (bright: where the channel responds most)."
    )
