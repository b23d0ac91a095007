"""Filters and feature maps against torch: the tiles are the layer's weights scaled per filter,
the top-k channels are those of the layer's output computed directly, and the hooks are gone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.errors import UnknownLayer
from cnnviz.explain import feature_maps, filters
from tests.explain_cases import assert_same, default_net, digit_input, resnet, shared_resnet, state


def test_first_layer_filters_are_scaled_per_filter():
    model, _, _ = digit_input()
    tiles = filters.first_layer_tiles(model)
    assert tiles.layer == "c1" and tiles.shape == (6, 1, 5, 5) and not tiles.rgb
    w = default_net().c1.weight.detach()[:, 0]
    for tile, kernel in zip(tiles.tiles, w, strict=True):
        assert tile.min() == 0 and tile.max() == 1
        scaled = (kernel - kernel.min()) / (kernel.max() - kernel.min())
        np.testing.assert_allclose(tile, scaled.numpy(), rtol=1e-6)


def test_rgb_filters_and_a_deeper_filter_per_input_channel():
    model, _ = resnet()
    net = shared_resnet()
    before = state(net)
    tiles = filters.first_layer_tiles(model)
    assert tiles.rgb and tiles.tiles.shape == (64, 7, 7, 3)
    deep = filters.filter_per_channel(model, "layer1.0.conv1", 5)
    assert deep.tiles.shape == (64, 3, 3)
    assert deep.tiles.min() == 0 and deep.tiles.max() == 1
    assert_same(before, state(net))
    with pytest.raises(UnknownLayer):
        filters.filter_per_channel(model, "layer1.0.bn1", 0)


def test_top_channels_are_the_layers_strongest_by_mean():
    model, x, _ = digit_input()
    before = state(default_net())
    fm = feature_maps.top_channels(model, x, "c3", k=4)
    assert_same(before, state(default_net()))
    with torch.no_grad():
        out = default_net()[:4](x)[0]  # c1 tanh1 s2 c3
    means = out.mean(dim=(1, 2))
    assert fm.shape == (16, 10, 10)
    assert fm.channels == torch.argsort(means, descending=True)[:4].tolist()
    np.testing.assert_allclose(fm.maps, out[fm.channels].numpy(), rtol=1e-6)
    assert fm.means == sorted(fm.means, reverse=True)


def test_unknown_layer_names_some_real_ones():
    model, x, _ = digit_input()
    with pytest.raises(UnknownLayer, match="c1, tanh1"):
        feature_maps.top_channels(model, x, "conv9")
    assert_same(state(default_net()), state(default_net()))
