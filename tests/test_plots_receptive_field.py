"""cnnviz.plots.receptive_field: what the unit grid, the field on the image and the effective
field draw, checked against the inputs they were given."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.io as pio
import pytest
from PIL import Image

from cnnviz import images
from cnnviz.plots import receptive_field as plots
from cnnviz.receptive_field import receptive_fields_of


def decoded(uri: str, kind: str = "jpeg") -> np.ndarray:
    """The pixels of a data URI image."""
    head, data = uri.split(",", 1)
    assert head == f"data:image/{kind};base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


def mean_error(got: np.ndarray, want: np.ndarray) -> float:
    """Mean absolute difference in levels of 255 (a JPEG photo at quality 90: about 3)."""
    assert got.shape == want.shape
    return float(np.abs(got.astype(np.int16) - want.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def fields() -> dict:
    return receptive_fields_of("resnet18", (3, 224, 224))


@pytest.mark.parametrize("n", [1, 7, 14, 32, 33, 56, 112, 224, 225])
def test_click_targets_reach_every_unit(n: int) -> None:
    targets = plots.click_targets(n)
    assert len(targets) <= plots.CLICK_SIDE
    assert list(targets) == sorted(set(targets)) and targets[0] >= 0 and targets[-1] < n
    if n <= plots.CLICK_SIDE:
        assert list(targets) == list(range(n))  # one per unit: a click picks that unit
    # Every unit is at most half a block from a target: a click lands within a block.
    step = -(-n // plots.CLICK_SIDE)
    distance = np.abs(np.arange(n)[:, None] - targets[None, :]).min(axis=1)
    assert distance.max() <= step // 2


@pytest.mark.parametrize(("layer", "unit"), [("layer3", (2, 5)), ("conv1", (100, 3))])
def test_unit_grid_lights_the_chosen_unit_and_targets_the_grid(fields, layer, unit) -> None:
    field = fields[layer]
    rows, cols = field.grid
    heat, targets, chosen = plots.unit_grid_figure(field, unit).data
    lit = np.asarray(heat.z)
    assert lit.shape == (rows, cols) and lit.sum() == 1 and lit[unit] == 1
    ti, tj = plots.click_targets(rows), plots.click_targets(cols)
    pairs = set(zip(np.asarray(targets.y).tolist(), np.asarray(targets.x).tolist(), strict=True))
    assert pairs == {(int(i), int(j)) for i in ti for j in tj}
    assert (list(chosen.y), list(chosen.x)) == ([unit[0]], [unit[1]])


def test_unit_grid_payload_does_not_grow_with_the_units(fields) -> None:
    """VGG's first layers have 224x224 units: as 50,176 markers with a color each it was
    779 kB of JSON; now one byte a unit (base64) and at most CLICK_SIDE² targets."""
    vgg = receptive_fields_of("vgg16", (3, 224, 224))["features.0"]
    assert vgg.grid == (224, 224)
    big = len(pio.to_json(plots.unit_grid_figure(vgg, (0, 0)), validate=False))
    small = len(pio.to_json(plots.unit_grid_figure(fields["layer3"], (0, 0)), validate=False))
    assert big < 100_000 and small < 20_000


def test_field_on_image_sends_the_picture_itself(fields) -> None:
    picture = images.fit(images.photo("Coffee"), 224, 224)
    fig = plots.field_on_image_figure(picture, fields["layer3"], (7, 7))
    assert mean_error(decoded(fig.data[0].source), picture) < 4  # a photo: JPEG, close
    assert mean_error(decoded(fig.data[0].source), picture[::-1]) > 20  # not any picture


def test_effective_field_draws_the_gradient_over_the_grayed_image(fields) -> None:
    picture = images.fit(images.photo("Astronaut"), 64, 48)
    erf = np.random.default_rng(0).random((64, 48)) * 3
    fig = plots.effective_field_figure(picture, erf, fields["layer3"], (7, 7), "t")
    assert mean_error(decoded(fig.data[0].source), picture.mean(axis=2).astype(np.uint8)) < 4
    # Whole percent of the strongest pixel's gradient, one byte each.
    z = np.asarray(fig.data[1].z)
    assert z.dtype == np.uint8 and fig.data[1].zmax == 100
    assert np.array_equal(z, np.round(erf / erf.max() * 100).astype(int))
    assert z.max() == 100 and "% of" in fig.data[1].hovertemplate


def test_effective_field_sends_only_the_box_where_the_gradient_is_not_zero(fields) -> None:
    picture = images.fit(images.photo("Astronaut"), 64, 48)
    erf = np.zeros((64, 48))
    erf[10:17, 20:25] = np.random.default_rng(1).random((7, 5)) + 0.2  # conv1's 7x7-ish field
    erf[12, 21] = 2.0
    heat = plots.effective_field_figure(picture, erf, fields["conv1"], (3, 5), "t").data[1]
    z = np.asarray(heat.z)
    assert (heat.x0, heat.y0, z.shape) == (20, 10, (7, 5))  # placed where it lies on the image
    assert np.array_equal(z, np.round(erf[10:17, 20:25] / 2.0 * 100).astype(int))
    assert z[12 - 10, 21 - 20] == 100
    nothing = plots.effective_field_figure(
        picture, np.zeros((64, 48)), fields["conv1"], (3, 5), "t"
    )
    flat = np.asarray(nothing.data[1].z)
    assert flat.shape == (64, 48) and not flat.any()  # no gradient at all: all of it, zero


@pytest.mark.parametrize("figure", ["grid", "image", "growth", "erf"])
def test_margins_are_fixed_so_the_browser_lays_out_once(fields, figure) -> None:
    """No axis measures its labels (automargin would push the margins and draw again)."""
    field, picture = fields["layer3"], images.fit(images.photo("Coffee"), 224, 224)
    fig = {
        "grid": lambda: plots.unit_grid_figure(field, (2, 5)),
        "image": lambda: plots.field_on_image_figure(picture, field, (2, 5)),
        "growth": lambda: plots.field_growth_figure(list(fields.values()), "layer3"),
        "erf": lambda: plots.effective_field_figure(
            picture, np.ones((224, 224)), field, (7, 7), "t"
        ),
    }[figure]()
    full = fig.to_dict()["layout"]
    assert full["xaxis"]["automargin"] is False and full["yaxis"]["automargin"] is False
    assert min(full["margin"][side] for side in "lb") >= 45  # room for tick labels
