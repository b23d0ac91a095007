"""AppTests of the 3x3 stacking and receptive-field pages, and the images they show."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import images, registry
from cnnviz.weights import weights_file


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


# --- 3x3 stacking ------------------------------------------------------------------------------


def test_stacking_page_shows_the_lecture_numbers_and_follows_c(open_page: str) -> None:
    at = open_page("pages/vgg_stacking.py")
    assert metric(at, "3 stacked 3x3: weights") == "110,592"  # 27 * 64^2
    assert metric(at, "One 7x7: weights") == "200,704"  # 49 * 64^2
    table = at.dataframe[0].value
    assert list(table["RF, stacked"]) == ["3x3", "5x5", "7x7", "9x9"]
    assert list(table["RF, one"]) == ["3x3", "5x5", "7x7", "9x9"]
    assert list(table["ReLUs, stacked"]) == [1, 2, 3, 4]
    at.number_input(key="vgg_stacking_channels").set_value(128).run()
    assert not at.exception
    assert metric(at, "3 stacked 3x3: weights") == f"{27 * 128**2:,}"
    assert metric(at, "One 7x7: weights") == f"{49 * 128**2:,}"
    assert metric(at, "Saved by stacking") == "45%"
    assert at.dataframe[0].value["weights, one"].iloc[3] == f"{81 * 128**2:,} (81C²)"


# --- Receptive-field explorer ------------------------------------------------------------------


def test_explorer_defaults_to_resnet18_layer3(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    assert at.selectbox(key="receptive_field_model").value == "resnet18"
    assert metric(at, "Receptive field (px)") == "211x211"
    assert metric(at, "Jump, effective stride (px)") == "16"
    assert metric(at, "Start of unit (0, 0) (px)") == "-105, -105"
    assert metric(at, "Feature map (units)") == "14x14"
    # The center unit (7, 7): -105 + 7*16 = 7, 7 + 211 - 1 = 217.
    assert "Unit (7, 7) sees rows 7..217, cols 7..217" in chart_titles(at)
    # No weights on disk: the page says which file goes where.
    assert any("resnet18-f37072fd.pth" in i.value for i in at.info)
    assert len([m for m in at.metric if m.label.startswith("Gradient")]) == 1


def test_explorer_layer_and_unit_changes(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    at.selectbox(key="receptive_field_layer_resnet18").set_value("layer4").run()
    assert not at.exception
    assert metric(at, "Receptive field (px)") == "435x435"
    assert metric(at, "Jump, effective stride (px)") == "32"
    at.slider(key="receptive_field_grid_resnet18_layer4_7x7_i").set_value(0).run()
    at.slider(key="receptive_field_grid_resnet18_layer4_7x7_j").set_value(6).run()
    assert not at.exception
    assert "Unit (0, 6) sees rows -217..217, cols -25..409" in chart_titles(at)


def test_explorer_click_on_the_grid_moves_the_sliders(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    grid = "receptive_field_grid_resnet18_layer3_14x14"
    # What Streamlit stores for a click on the point at column 2, row 0.
    at.session_state[grid] = {"selection": {"points": [{"x": 2, "y": 0}]}}
    at.run()
    assert not at.exception
    assert (at.slider(key=f"{grid}_i").value, at.slider(key=f"{grid}_j").value) == (0, 2)
    assert "Unit (0, 2) sees rows -105..105, cols -73..137" in chart_titles(at)
    # The old click must not pull the sliders back.
    at.slider(key=f"{grid}_i").set_value(13).run()
    assert at.slider(key=f"{grid}_i").value == 13
    assert "Unit (13, 2) sees rows 103..313, cols -73..137" in chart_titles(at)


@pytest.mark.slow  # builds VGG-16 on the CPU for its effective field
def test_explorer_model_change_to_vgg16(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    at.selectbox(key="receptive_field_model").set_value("vgg16").run()
    at.selectbox(key="receptive_field_layer_vgg16").set_value("features.30").run()
    assert not at.exception
    assert metric(at, "Receptive field (px)") == "212x212"  # published pool5
    assert metric(at, "Start of unit (0, 0) (px)") == "-90, -90"
    at.selectbox(key="receptive_field_layer_vgg16").set_value("classifier.0").run()
    assert metric(at, "Receptive field (px)") == "224x224"
    assert any("global layer" in i.value for i in at.info)


def growth_chart(at: AppTest) -> dict:
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(c for c in charts if c["layout"]["title"]["text"].startswith("How the field"))


def test_explorer_growth_chart_never_goes_down(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    traces = {t["name"]: t for t in growth_chart(at)["data"]}
    main = traces["receptive field (px), main path"]["y"]
    assert main == sorted(main) and max(main) == 435
    # The downsample shortcuts (side branches) and avgpool/fc (the whole input), apart.
    assert traces["side branch: its own field (px)"]["y"] == [43, 43, 99, 99, 211, 211]
    assert traces["global: sees the whole input"]["y"] == [224, 224]
    # Its label sits on the input-size line: annotations on a log axis take log10 values.
    (label,) = [a for a in growth_chart(at)["layout"]["annotations"] if "whole input" in a["text"]]
    assert label["y"] == pytest.approx(np.log10(224))
    assert any("its field is the input itself, not a growth" in c.value for c in at.caption)


def test_explorer_uneven_adaptive_pool_units(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    at.selectbox(key="receptive_field_model").set_value("alexnet").run()
    at.number_input(key="receptive_field_h_alexnet").set_value(160).run()
    at.selectbox(key="receptive_field_layer_alexnet").set_value("avgpool").run()
    assert not at.exception
    assert any("unequal size" in i.value and "195 to 227 x 195" in i.value for i in at.info)
    assert metric(at, "Receptive field (px)") == "up to 227x195"
    # Unit (3, 3): avgpool row 3 pools pool5 row floor(3*4/6) = 2 only, which sees rows
    # -66 + 2*32 .. 128 + 2*32; columns are a plain 6 -> 6 copy: -66 + 3*32 .. 128 + 3*32.
    assert "Unit (3, 3) sees rows -2..192, cols 30..224" in chart_titles(at)


def test_explorer_non_square_input_and_too_small(open_page: str, torch_home: Path) -> None:
    at = open_page("pages/receptive_field.py")
    at.number_input(key="receptive_field_w_resnet18").set_value(320).run()
    assert not at.exception
    assert metric(at, "Feature map (units)") == "14x20"
    at.selectbox(key="receptive_field_model").set_value("alexnet_lecture").run()
    at.number_input(key="receptive_field_h_alexnet_lecture").set_value(40).run()
    assert not at.exception
    assert at.error and "too small" in at.error[0].value


def test_explorer_shows_the_pretrained_field_when_weights_are_on_disk(
    open_page: str, torch_home: Path
) -> None:
    torch.manual_seed(0)
    path = weights_file("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(registry.build("resnet18").state_dict(), path)
    at = open_page("pages/receptive_field.py")
    assert not at.info or not any("not on this server" in i.value for i in at.info)
    assert "Pretrained (torchvision, ImageNet)" in chart_titles(at)
    assert len([m for m in at.metric if m.label.startswith("Gradient")]) == 2


# --- Images ------------------------------------------------------------------------------------


def test_upload_decoding_accepts_images_and_rejects_the_rest() -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((5, 7, 3), 200, np.uint8)).save(buffer, format="PNG")
    assert images.decode_upload(buffer.getvalue()).shape == (5, 7, 3)
    gray = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(gray, format="JPEG")
    assert images.decode_upload(gray.getvalue()).shape == (4, 4, 3)
    with pytest.raises(images.NotAnImage, match="not an image"):
        images.decode_upload(b"%PDF-1.4 definitely not a picture")


def test_photos_fit_and_become_network_inputs() -> None:
    for name in images.PHOTOS:
        picture = images.fit(images.photo(name), 100, 150)
        assert picture.shape == (100, 150, 3) and picture.dtype == np.uint8
    x = images.to_input(images.fit(images.photo("Astronaut"), 32, 32), 3)
    assert x.shape == (1, 3, 32, 32) and abs(float(x.mean())) < 3
    one = images.to_input(np.zeros((8, 8, 3), np.uint8), 1)
    assert one.shape == (1, 1, 8, 8)
    wide = images.to_input(images.fit(images.photo("Coffee"), 28, 28), 256)
    assert wide.shape == (1, 256, 28, 28) and torch.equal(wide[0, 0], wide[0, 255])
