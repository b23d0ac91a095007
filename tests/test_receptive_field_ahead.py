"""Effective fields computed ahead of time: a lookup gives exactly what the run would have."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz import images, registry, shared_model
from cnnviz.receptive_field import ahead, effective, receptive_fields_of


@pytest.fixture(autouse=True)
def _fresh() -> None:
    ahead.clear()
    yield
    ahead.clear()


def centre(name: str, layer: str) -> tuple[int, int]:
    rows, cols = receptive_fields_of(name, registry.get(name).default_input)[layer].grid
    return rows // 2, cols // 2


@pytest.mark.parametrize(("name", "layers"), [("lenet5", None), ("resnet18", ["layer1", "fc"])])
def test_a_field_computed_ahead_is_the_one_the_page_would_compute(name, layers) -> None:
    c, h, w = registry.get(name).default_input
    # The page's input: the default photo fitted to the default size.
    image = images.to_input(images.fit(images.photo("Astronaut"), h, w), c)
    fields = receptive_fields_of(name, (c, h, w))
    chosen = layers or [next(iter(fields)), list(fields)[-1]]
    shared_model.clear()
    expected = {layer: effective.effective_field_of(name, layer, centre(name, layer), image)
                for layer in chosen}  # fmt: skip
    assert ahead.compute(name, chosen) == len(chosen)
    assert ahead.stored() == len(chosen)
    shared_model.clear()
    for layer in chosen:
        got = effective.effective_field_of(name, layer, centre(name, layer), image)
        np.testing.assert_array_equal(got, expected[layer])
    assert shared_model.cached() == []  # every one a lookup: no model was built to answer


def test_a_lookup_needs_the_same_input_unit_and_weights() -> None:
    ahead.compute("lenet5", ["c1"])
    image = ahead.default_input("lenet5")
    unit = centre("lenet5", "c1")
    assert ahead.lookup(ahead.key("lenet5", False, "c1", unit, image)) is not None
    assert ahead.lookup(ahead.key("lenet5", True, "c1", unit, image)) is None
    assert ahead.lookup(ahead.key("lenet5", False, "c1", (0, 0), image)) is None
    assert ahead.lookup(ahead.key("lenet5", False, "c1", unit, image + 1e-3)) is None
    # A copy: a caller that changes it changes nobody else's.
    ahead.lookup(ahead.key("lenet5", False, "c1", unit, image))[:] = -1
    assert (ahead.lookup(ahead.key("lenet5", False, "c1", unit, image)) >= 0).all()


def test_the_plan_covers_every_layer_of_the_default_model() -> None:
    name, layers, pretrained = ahead.plan()[0]
    assert name == "resnet18" and not pretrained
    assert layers == list(receptive_fields_of(name, registry.get(name).default_input))
    assert torch.is_tensor(ahead.default_input("lenet5"))
