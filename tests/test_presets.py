"""cnnviz.presets: a URL's text becomes a widget's value only within the widget's own bounds
(the Limit, the options), and a shared link never carries this tab's job keys."""

from __future__ import annotations

import pytest

from cnnviz import layer_limits, limits, model_limits, presets
from cnnviz.augment import limits as augment_limits
from cnnviz.errors import BadPreset, CnnvizError
from cnnviz.explain.attribution import METHODS


@pytest.mark.parametrize(
    "limit",
    [model_limits.INPUT_SIDE, augment_limits.DRAWS, augment_limits.SEED, layer_limits.PADDING],
)
def test_a_number_is_taken_exactly_within_the_limits_bounds(limit: limits.Limit) -> None:
    for value in (limit.low, (limit.low + limit.high) // 2, limit.high):
        assert presets.parse_number("n", str(value), limit) == value
        assert presets.parse_number("n", presets.encode(value), limit) == limit.check(value)
    for outside in (limit.low - 1, limit.high + 1):
        with pytest.raises(BadPreset, match=f"n='{outside}'"):
            presets.parse_number("n", str(outside), limit)
        with pytest.raises(CnnvizError):  # the widget's own check refuses it too: same bounds
            limit.check(outside)


@pytest.mark.parametrize(
    ("text", "why"),
    [("abc", "not a number"), ("", "not a number"), ("2.5", "whole number"),
     ("nan", "whole number"), ("inf", "whole number"), ("1e9", "outside the range 1 to 2,048")],
)  # fmt: skip
def test_garbage_numbers_name_the_parameter_and_the_text(text: str, why: str) -> None:
    with pytest.raises(BadPreset) as err:
        presets.parse_number("size", text, model_limits.INPUT_SIDE)
    assert f"size={text!r}" in str(err.value) and why in str(err.value)
    assert "default" in str(err.value)


def test_a_real_number_follows_its_span() -> None:
    assert presets.parse_number("p", "0.35", augment_limits.PROBABILITY) == 0.35
    assert presets.parse_number("p", "1", augment_limits.PROBABILITY) == 1.0
    with pytest.raises(BadPreset, match="outside the range 0 to 1"):
        presets.parse_number("p", "1.5", augment_limits.PROBABILITY)


def test_flags() -> None:
    for text in ("1", "true", "Yes", "ON"):
        assert presets.parse_flag("bn", text) is True
    for text in ("0", "false", "no", "off"):
        assert presets.parse_flag("bn", text) is False
    with pytest.raises(BadPreset, match="bn='maybe'"):
        presets.parse_flag("bn", "maybe")
    assert presets.parse_flag("bn", presets.encode(True)) is True
    assert presets.parse_flag("bn", presets.encode(False)) is False


def test_choices_match_the_options_by_their_url_name() -> None:
    depths = [11, 13, 16, 19]
    assert presets.parse_choice("depth", "19", depths) == 19
    with pytest.raises(BadPreset, match=r"depth='17' is not one of the options \(11, 13, 16, 19\)"):
        presets.parse_choice("depth", "17", depths)
    photos = ["Astronaut", "Cat (Chelsea)", "Handwritten digit"]
    assert [presets.slug(p) for p in photos] == ["astronaut", "cat", "handwritten-digit"]
    assert presets.parse_choice("image", "CAT", photos, presets.slug) == "Cat (Chelsea)"
    for option in photos:  # every option survives the trip through its URL name
        assert presets.parse_choice("image", presets.slug(option), photos, presets.slug) == option


def test_several_choices() -> None:
    methods = list(METHODS)
    assert presets.parse_choices("methods", "saliency,gradcam", methods) == ["saliency", "gradcam"]
    assert presets.parse_choices("methods", "", methods) == []
    with pytest.raises(BadPreset, match="methods='saliency,bogus' names 'bogus'"):
        presets.parse_choices("methods", "saliency,bogus", methods)


def test_pairs() -> None:
    assert presets.parse_pair("unit", "4,7") == (4, 7)
    assert presets.parse_pair("unit", presets.encode((4, 7))) == (4, 7)
    for text in ("4", "4,7,1", "a,b", ""):
        with pytest.raises(BadPreset, match="two whole numbers"):
            presets.parse_pair("unit", text)


def test_a_shared_link_keeps_the_view_and_drops_the_job_keys() -> None:
    params = {"depth": "19", "unit": "4,7", "jobs": "s3cret", "finetune_job": "j1", "x_job": "2"}
    assert presets.share_query(params) == "depth=19&unit=4,7"
    url = presets.share_url("http://lab:8501/vgg?old=1", params)
    assert url == "http://lab:8501/vgg?depth=19&unit=4,7"
    assert presets.share_url("http://lab:8501/", {"jobs": "s3cret"}) == "http://lab:8501/"
