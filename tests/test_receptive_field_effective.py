"""The effective receptive field (Luo et al. 2016) against the theoretical field it lies in."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz import registry
from cnnviz.receptive_field import ReceptiveField, UnknownLayer, layer_field
from cnnviz.receptive_field.effective import effective_receptive_field


def clipped(field: ReceptiveField, i: int, j: int, h: int, w: int) -> tuple[int, int, int, int]:
    top, left, bottom, right = field.region(i, j)
    return max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)


def test_effective_field_lies_inside_the_theoretical_one() -> None:
    torch.manual_seed(0)
    model = registry.build("resnet18").eval()
    image = torch.randn(1, 3, 224, 224)
    field = layer_field("resnet18", "layer3")
    erf = effective_receptive_field(model, "layer3", (7, 3), image)
    assert erf.shape == (224, 224) and (erf >= 0).all()
    rows, cols = np.nonzero(erf)
    top, left, bottom, right = clipped(field, 7, 3, 224, 224)
    assert (rows.min(), cols.min(), rows.max(), cols.max()) == (top, left, bottom, right)
    # Luo et al.: the gradient concentrates near the center; the outer half of the
    # theoretical field holds little of it.
    cy, cx = (top + bottom) / 2, (left + right) / 2
    radius = field.rf[0] / 4
    yy, xx = np.mgrid[:224, :224]
    inner = erf[(abs(yy - cy) <= radius) & (abs(xx - cx) <= radius)].sum()
    assert inner / erf.sum() > 0.5
    # The caller's model is untouched (no hook left, no gradients asked for).
    assert not model._forward_hooks and not any(m._forward_hooks for m in model.modules())


def test_effective_field_of_one_channel_and_of_a_global_layer() -> None:
    torch.manual_seed(0)
    model = registry.build("resnet18").eval()
    image = torch.randn(1, 3, 64, 64)
    one = effective_receptive_field(model, "layer2.0.conv1", (5, 3, 4), image)
    field = layer_field("resnet18", "layer2.0.conv1", (3, 64, 64))
    rows, cols = np.nonzero(one)
    assert (rows.min(), cols.min(), rows.max(), cols.max()) == clipped(field, 3, 4, 64, 64)
    with pytest.raises(ValueError, match="global"):
        effective_receptive_field(model, "fc", (1, 0), image)
    whole = effective_receptive_field(model, "fc", (0, 0), image)
    assert whole.shape == (64, 64) and (whole > 0).mean() > 0.9


def test_effective_field_rejects_bad_layer_and_unit() -> None:
    model = registry.build("lenet5").eval()
    image = torch.zeros(1, 1, 32, 32)
    with pytest.raises(UnknownLayer):
        effective_receptive_field(model, "c9", (0, 0), image)
    with pytest.raises(ValueError, match="outside"):
        effective_receptive_field(model, "c1", (28, 0), image)
