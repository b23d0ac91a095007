"""Learned filters as pictures: the first layer's as RGB (or gray) tiles, each normalized on
its own so that its pattern shows whatever its scale; a deeper filter as one gray tile per
input channel (a deeper filter is not a picture: it weighs the previous layer's maps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnviz.errors import UnknownLayer
from cnnviz.explain.feature_maps import module
from cnnviz.explain.models import Explained


def conv_layers(model: Explained) -> list[str]:
    """The Conv2d layers, first to last (definition order)."""
    with model.borrow() as net:
        return [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]


def weight(model: Explained, layer: str) -> torch.Tensor:
    """A copy of a conv layer's weight, out x in x kH x kW."""
    with model.borrow() as net:
        m = module(net, layer)
        if not isinstance(m, nn.Conv2d):
            raise UnknownLayer(f"{layer!r} is not a convolution: it has no filters to show.")
        return m.weight.detach().clone()


def normalize_each(w: torch.Tensor) -> torch.Tensor:
    """Each filter (first axis) min-max scaled to [0, 1] on its own; a constant filter -> 0.5."""
    flat = w.reshape(w.shape[0], -1)
    low = flat.min(dim=1).values.view(-1, *([1] * (w.ndim - 1)))
    high = flat.max(dim=1).values.view(-1, *([1] * (w.ndim - 1)))
    span = high - low
    return torch.where(span > 0, (w - low) / span.clamp_min(1e-12), torch.full_like(w, 0.5))


@dataclass(frozen=True)
class FilterTiles:
    layer: str
    shape: tuple[int, int, int, int]  # out x in x kH x kW
    tiles: np.ndarray  # N x kH x kW x 3 (first layer, RGB) or N x kH x kW (gray)
    rgb: bool


def first_layer_tiles(model: Explained) -> FilterTiles:
    """The first convolution's filters: N x k x k x 3 RGB in [0, 1] (gray for 1 channel)."""
    layer = conv_layers(model)[0]
    w = weight(model, layer)
    tiles = normalize_each(w)
    rgb = w.shape[1] == 3
    array = tiles.permute(0, 2, 3, 1).numpy() if rgb else tiles[:, 0].numpy()
    return FilterTiles(layer, tuple(w.shape), array, rgb)  # type: ignore[arg-type]


def filter_per_channel(model: Explained, layer: str, index: int, limit: int = 64) -> FilterTiles:
    """One filter of `layer` as a gray tile per input channel (the first `limit` channels),
    normalized together so the channels it weighs most stand out."""
    w = weight(model, layer)
    if not 0 <= index < w.shape[0]:
        raise UnknownLayer(f"{layer} has filters 0 to {w.shape[0] - 1}, not {index}.")
    tiles = normalize_each(w[index : index + 1])[0][:limit]
    return FilterTiles(layer, tuple(w.shape), tiles.numpy(), False)  # type: ignore[arg-type]
