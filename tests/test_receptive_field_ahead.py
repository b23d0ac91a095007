"""Effective fields computed ahead of time: a lookup gives exactly what the run would have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch

from cnnviz import images, registry, shared_model
from cnnviz.receptive_field import (
    ahead,
    effective,
    precomputed,
    receptive_fields_of,
    telling_layer,
)
from cnnviz.receptive_field.effective import central_share


@pytest.fixture(autouse=True)
def _fresh() -> None:
    precomputed.clear()
    yield
    precomputed.clear()


def center(name: str, layer: str) -> tuple[int, int]:
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
    expected = {layer: effective.effective_field_of(name, layer, center(name, layer), image)
                for layer in chosen}  # fmt: skip
    assert ahead.compute(name, chosen) == len(chosen)
    for layer in chosen:  # stored under the key the page looks up
        k = precomputed.key(name, False, layer, center(name, layer), image)
        np.testing.assert_array_equal(precomputed.lookup(k), expected[layer])
    shared_model.clear()
    for layer in chosen:
        got = effective.effective_field_of(name, layer, center(name, layer), image)
        np.testing.assert_array_equal(got, expected[layer])
    assert shared_model.cached() == []  # every one a lookup: no model was built to answer


def test_a_lookup_needs_the_same_input_unit_and_weights() -> None:
    ahead.compute("lenet5", ["c1"])
    image = ahead.default_input(registry.get("lenet5"))
    unit = center("lenet5", "c1")
    assert precomputed.lookup(precomputed.key("lenet5", False, "c1", unit, image)) is not None
    assert precomputed.lookup(precomputed.key("lenet5", True, "c1", unit, image)) is None
    assert precomputed.lookup(precomputed.key("lenet5", False, "c1", (0, 0), image)) is None
    assert precomputed.lookup(precomputed.key("lenet5", False, "c1", unit, image + 1e-3)) is None
    # A copy: a caller that changes it changes nobody else's.
    precomputed.lookup(precomputed.key("lenet5", False, "c1", unit, image))[:] = -1
    assert (precomputed.lookup(precomputed.key("lenet5", False, "c1", unit, image)) >= 0).all()


def test_the_plan_covers_every_layer_of_the_default_model() -> None:
    name, layers, pretrained = ahead.plan()[0]
    assert name == "resnet18" and not pretrained
    assert layers == list(receptive_fields_of(name, registry.get(name).default_input))
    assert torch.is_tensor(ahead.default_input(registry.get("lenet5")))


def test_the_plan_adds_the_first_view_of_the_cheap_models_only() -> None:
    rest = ahead.plan()[1:]
    if rest and rest[0][0] == ahead.DEFAULT_MODEL:  # pretrained weights on disk
        rest = rest[1:]
    assert rest == [(name, None, False) for name in ahead.CHEAP_MODELS]
    assert ahead.DEFAULT_MODEL not in ahead.CHEAP_MODELS
    assert set(ahead.CHEAP_MODELS) <= set(registry.names())


@pytest.mark.parametrize("name", ["lenet5", "alexnet_lecture"])
def test_a_model_switch_to_a_cheap_model_is_a_lookup(
    name: str, open_page, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the page shows for the model's first view comes from the store, and equals the
    real computation (the oracle: a fresh model's backward pass)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no pretrained column
    size = registry.get(name).default_input
    fields = receptive_fields_of(name, size)
    layer = telling_layer(fields, size)
    shared_model.clear()
    image = ahead.default_input(registry.get(name))
    real = effective.effective_field_of(name, layer, center(name, layer), image)
    shared_model.clear()
    assert ahead.compute(name) == 1
    st.cache_data.clear()  # the page's own cache of gradients
    at = open_page("pages/receptive_field.py")  # resnet18's view, computed here
    shared_model.clear()

    def refused(*args, **kwargs):
        raise AssertionError("the page ran a backward pass")

    monkeypatch.setattr(effective, "effective_receptive_field", refused)
    at.selectbox(key="receptive_field_model").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=f"receptive_field_layer_{name}").value == layer
    share = next(m.value for m in at.metric if m.label.startswith("Gradient in the central"))
    assert share == f"{central_share(real, fields[layer].region(*center(name, layer))):.0%}"
    assert shared_model.cached() == []  # no model was built to answer
