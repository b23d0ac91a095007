"""The catalog and the pipeline builder: every transform builds and runs on uint8 at its
defaults and at both ends of every bound; the library refuses values outside them."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from cnnviz.augment import CATALOG, Step, build, limits, make_step, spec, validate
from cnnviz.errors import OutOfBounds, UnknownTransform

# Large enough for the widest blur (elastic sigma 20 blurs with a 161-pixel kernel).
IMAGE = torch.randint(
    0, 256, (3, 88, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
)
NAMES = list(CATALOG)
THE_ISSUES_LIST = {
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomResizedCrop",
    "RandomAffine", "RandomPerspective", "ElasticTransform", "ColorJitter", "RandomGrayscale",
    "GaussianBlur", "GaussianNoise", "RandomErasing", "AutoAugment", "RandAugment",
    "TrivialAugmentWide", "AugMix",
}  # fmt: skip


def test_the_catalog_offers_every_transform_the_issue_names():
    assert {s.cls for s in CATALOG.values()} == THE_ISSUES_LIST


def extremes(name: str) -> list[dict]:
    """The defaults, then every parameter at its low end and at its high end in turn."""
    out = [{}]
    for p in spec(name).params:
        if p.kind == "choice":
            out += [{p.name: o} for o in p.options]
        elif p.kind == "range":
            out += [{p.name: (p.limit.low, p.limit.low)}, {p.name: (p.limit.low, p.limit.high)}]
            out += [{p.name: (p.limit.high, p.limit.high)}]
        elif p.name == "kernel_size":
            out += [{p.name: p.limit.low}, {p.name: p.limit.high}]  # both odd
        else:
            out += [{p.name: p.limit.low}, {p.name: p.limit.high}]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_transform_builds_and_runs_on_uint8_within_its_bounds(name):
    for values in extremes(name):
        pipeline = build([make_step(name, values)])
        torch.manual_seed(1)
        out = pipeline(IMAGE)
        assert isinstance(pipeline.transforms[0], getattr(v2, spec(name).cls)), values
        assert out.dtype == torch.uint8 and out.shape[0] == 3, values
        if name != "Random resized crop":  # the only one that changes the size
            assert out.shape == IMAGE.shape, values
        else:
            side = make_step(name, values).value_dict()["size"]
            assert out.shape == (3, side, side)


@pytest.mark.parametrize("name", [n for n in NAMES if spec(n).params])
def test_values_outside_the_bounds_are_refused_by_the_library(name):
    for p in spec(name).params:
        if p.kind == "choice":
            bad = ["nonsense"]
        elif p.kind == "range":
            step = getattr(p.limit, "step", 1)
            bad = [(p.limit.low - step, p.limit.high), (p.limit.low, p.limit.high + step)]
        else:
            step = getattr(p.limit, "step", 1)
            bad = [p.limit.low - step, p.limit.high + step, float("nan"), "3", True]
        for value in bad:
            with pytest.raises(OutOfBounds):
                make_step(name, {p.name: value})


def test_reversed_ranges_even_kernels_and_unknown_settings_are_refused():
    with pytest.raises(OutOfBounds, match="low end must come first"):
        make_step("Random resized crop", {"scale": (0.9, 0.2)})
    with pytest.raises(OutOfBounds, match="odd side") as err:
        make_step("Gaussian blur", {"kernel_size": 8})
    assert "7 or 9" in err.value.hint
    with pytest.raises(OutOfBounds, match="no setting angle"):
        make_step("Rotation", {"angle": 10})
    with pytest.raises(UnknownTransform, match="Rotatoin"):
        make_step("Rotatoin")


def test_a_step_built_by_hand_is_checked_again_and_the_step_count_is_bounded():
    with pytest.raises(OutOfBounds, match="maximum angle"):
        build([Step("Rotation", (("degrees", 720),))])
    too_many = [make_step("Horizontal flip")] * (limits.PIPELINE_STEPS.high + 1)
    with pytest.raises(OutOfBounds, match="number of steps"):
        validate(too_many)
    (identity,) = build([]).transforms  # no step: the image as it is
    assert isinstance(identity, v2.Identity)


def test_slider_floats_are_rounded_to_their_step():
    step = make_step("Horizontal flip", {"p": 0.1 + 0.2})  # 0.30000000000000004
    assert step.value_dict()["p"] == 0.3


def test_the_values_reach_torchvision():
    t = build([make_step("Rotation", {"degrees": 45})]).transforms[0]
    assert t.degrees == [-45.0, 45.0]
    t = build([make_step("Color jitter", {"brightness": 0.2, "hue": 0.0})]).transforms[0]
    assert t.brightness == pytest.approx((0.8, 1.2)) and t.hue is None
    t = build([make_step("AutoAugment", {"policy": "svhn"})]).transforms[0]
    assert t.policy == v2.AutoAugmentPolicy.SVHN
