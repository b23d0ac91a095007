"""Links that open a page preset (cnnviz.ui.presets), page by page through AppTest: the URL's
parameters set the widgets, a widget changed writes the URL, and a parameter the page cannot use
gives a notice naming it and the default, never an error. The tab's job keys stay in the URL
and never reach the shared link."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import inception_ops, registry

JOBS = {"jobs": "tab-key", "explain_job": "j1"}  # older versions' job keys: presets keep them


def view(at) -> dict:
    """The URL's view parameters: the old job keys aside (a page with jobs drops them, see
    cnnviz.ui.jobs.current_job; tests/test_jobs_ui.py checks that)."""
    return {k: v for k, v in at.query_params.items() if k not in JOBS}


def open_with(app_path: str, page: str, params: dict[str, str]) -> AppTest:
    """A fresh session that opens `page` from a link carrying `params`."""
    at = AppTest.from_file(app_path, default_timeout=120)
    at.run()
    at.switch_page(page)
    at.query_params.update(params | JOBS)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def value(at: AppTest, kind: str, key: Any) -> Any:
    """A widget's value: kind is the AppTest accessor; "tabs" reads the open tab's label,
    "slider#" the n-th slider (the unit sliders' keys name the layer's grid)."""
    if kind == "tabs":
        return at.session_state[key]
    if kind == "slider#":
        return at.slider[key].value
    return getattr(at, kind)(key=key).value


def set_value(at: AppTest, kind: str, key: Any, new: Any) -> None:
    if kind == "button":
        at.button(key=key).click().run()
    elif kind == "slider#":
        at.slider[key].set_value(new).run()
    else:
        getattr(at, kind)(key=key).set_value(new).run()
    assert not at.exception, [e.value for e in at.exception]


# page, link parameters, the widgets they set, one widget changed and the parameters it writes
ROUND_TRIPS = [
    (
        "pages/lenet.py",
        {"variant": "paper", "size": "36", "c": "3", "c3": "0"},
        {("radio", "lenet_variant"): "paper", ("number_input", "lenet_hw"): 36,
         ("number_input", "lenet_c"): 3, ("toggle", "lenet_c3_paper"): False},
        ("number_input", "lenet_hw", 40),
        {"variant": "paper", "size": "40", "c": "3", "c3": "0"},
    ),
    (
        "pages/alexnet.py",
        {"variant": "paper", "size": "300", "lrn": "0"},
        {("radio", "alexnet_variant"): "alexnet_paper",
         ("number_input", "alexnet_alexnet_paper_hw"): 300, ("toggle", "alexnet_lrn"): False},
        ("radio", "alexnet_variant", "alexnet"),
        # A new variant's input starts from its own default; LRN's switch, hidden for
        # torchvision's AlexNet, keeps its parameter (unused) until it shows again.
        {"variant": "torchvision", "lrn": "0"},
    ),
    (
        "pages/vgg.py",
        {"depth": "19", "size": "200", "tab": "table", "every": "1", "bn": "1"},
        {("radio", "vgg_depth"): 19, ("number_input", "vgg_hw"): 200,
         ("tabs", "vgg_view"): "Layer table", ("toggle", "vgg_all"): True,
         ("toggle", "vgg_bn"): True},
        ("radio", "vgg_depth", 13),
        {"depth": "13", "size": "200", "tab": "table", "every": "1", "bn": "1"},
    ),
    (
        "pages/googlenet.py",
        {"c": "480", "hw": "14", "c3": "208", "reduce": "96", "size": "299"},
        {("number_input", "googlenet_inc_c"): 480, ("number_input", "googlenet_inc_hw"): 14,
         ("number_input", "googlenet_inc_c3"): 208, ("number_input", "googlenet_inc_reduce"): 96,
         ("number_input", "googlenet_hw"): 299},
        ("number_input", "googlenet_inc_c3", 192),  # back to the default: it leaves the URL
        {"c": "480", "hw": "14", "reduce": "96", "size": "299"},
    ),
    (
        "pages/resnet.py",
        {"block_c": "512", "block_hw": "28", "depth": "152", "size": "256"},
        {("number_input", "resnet_block_c"): 512, ("number_input", "resnet_block_hw"): 28,
         ("radio", "resnet_depth"): 152, ("number_input", "resnet_hw"): 256},
        ("radio", "resnet_depth", 18),
        {"block_c": "512", "block_hw": "28", "depth": "18", "size": "256"},
    ),
    (
        "pages/layer_calculator.py",
        {"tab": "model", "model": "vgg16", "model_h": "64", "layer": "features.3",
         "kernel": "3", "padding": "1", "type": "max", "ceil": "1", "1x1_k": "5"},
        {("tabs", "layer_calculator_tabs"): "A whole model",
         ("selectbox", "layer_calculator_model_name"): "vgg16",
         ("number_input", "layer_calculator_model_h"): 64,
         ("number_input", "layer_calculator_model_c"): 3,
         ("selectbox", "layer_calculator_model_layer"): "features.3",
         ("number_input", "layer_calculator_kernel"): 3,
         ("number_input", "layer_calculator_padding"): 1,
         ("radio", "layer_calculator_type"): "max pool",
         ("toggle", "layer_calculator_ceil"): True,
         ("selectbox", "layer_calculator_1x1_k"): 5},
        ("number_input", "layer_calculator_stride", 2),
        {"tab": "model", "model": "vgg16", "model_h": "64", "layer": "features.3",
         "kernel": "3", "padding": "1", "type": "max", "ceil": "1", "1x1_k": "5", "stride": "2"},
    ),
    (
        "pages/inception_ops.py",
        {"c": "480", "h": "14", "w": "14", "c3x3": "208", "modules": "9"},
        {("number_input", "inception_ops_c"): 480, ("number_input", "inception_ops_h"): 14,
         ("number_input", "inception_ops_c3x3"): 208, ("slider", "inception_ops_modules"): 9},
        ("slider", "inception_ops_modules", 3),
        {"c": "480", "h": "14", "w": "14", "c3x3": "208", "modules": "3"},
    ),
    (
        "pages/vgg_stacking.py",
        {"c": "128"},
        {("number_input", "vgg_stacking_channels"): 128},
        ("number_input", "vgg_stacking_channels", 256),
        {"c": "256"},
    ),
    (
        "pages/receptive_field.py",
        {"model": "resnet50", "layer": "layer3", "unit": "4,7", "image": "cat"},
        {("selectbox", "receptive_field_model"): "resnet50",
         ("selectbox", "receptive_field_layer_resnet50"): "layer3",
         ("slider#", 0): 4, ("slider#", 1): 7,
         ("selectbox", "receptive_field_image"): "Cat (Chelsea)"},
        ("slider#", 0, 5),
        {"model": "resnet50", "layer": "layer3", "unit": "5,7", "image": "cat"},
    ),
    (
        "pages/augmentation.py",
        {"image": "handwritten-digit", "digit": "3", "n": "12", "seed": "42"},
        {("selectbox", "augmentation_image"): "Handwritten digit",
         ("selectbox", "augmentation_digit"): 3, ("number_input", "augmentation_n"): 12,
         ("number_input", "augmentation_seed"): 42},
        ("button", "augmentation_again", None),  # "draw again" moves the seed on
        {"image": "handwritten-digit", "digit": "3", "n": "12", "seed": "43"},
    ),
    (
        "pages/explain.py",
        {"digit": "12", "methods": "saliency,gradcam"},
        {("radio", "explain_source"): "default", ("number_input", "explain_digit"): 12,
         ("multiselect", "explain_methods"): ["saliency", "gradcam"]},
        ("multiselect", "explain_methods", ["occlusion"]),
        {"digit": "12", "methods": "occlusion"},
    ),
    (
        "pages/explain.py",
        {"net": "imagenet", "model": "vgg16"},  # no weights here: the page says so and stops
        {("radio", "explain_source"): "imagenet", ("selectbox", "explain_net"): "vgg16"},
        ("selectbox", "explain_net", "resnet18"),
        {"net": "imagenet"},
    ),
    (
        "pages/transfer_learning.py",
        {"data": "lfw", "size": "24", "backbone": "alexnet", "strategy": "full", "epochs": "2",
         "similar": "0"},
        {("radio", "transfer_learning_source"): "lfw",
         ("number_input", "transfer_learning_image_size"): 24,
         ("selectbox", "transfer_learning_backbone"): "alexnet",
         ("radio", "transfer_learning_strategy"): "full",
         ("number_input", "transfer_learning_epochs"): 2,
         ("toggle", "transfer_learning_similar"): False},
        ("selectbox", "transfer_learning_backbone", "resnet18"),
        {"data": "lfw", "size": "24", "strategy": "full", "epochs": "2", "similar": "0"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("page", "params", "widgets", "change", "written"),
    ROUND_TRIPS,
    ids=[f"{c[0].split('/')[1][:-3]}-{'&'.join(c[1])}" for c in ROUND_TRIPS],
)
def test_a_link_sets_the_widgets_and_the_widgets_write_the_link(
    app_path: str, page: str, params: dict, widgets: dict, change: tuple, written: dict
) -> None:
    at = open_with(app_path, page, params)
    assert {w: value(at, *w) for w in widgets} == widgets
    assert not at.warning or all("link's" not in w.value for w in at.warning)
    assert view(at) == params  # the URL is the view already: nothing moved
    kind, key, new = change
    set_value(at, kind, key, new)
    assert view(at) == written


# page, parameters the page cannot use, the widgets then at their defaults
INVALID = [
    (
        "pages/lenet.py",
        {"variant": "1999", "size": "0", "c3": "maybe"},
        {("radio", "lenet_variant"): "modern", ("number_input", "lenet_hw"): 32,
         ("toggle", "lenet_c3_modern"): False},
    ),
    (
        "pages/alexnet.py",
        {"variant": "zfnet", "lrn": "2", "size": "2049"},
        {("radio", "alexnet_variant"): "alexnet_lecture", ("toggle", "alexnet_lrn"): True,
         ("number_input", "alexnet_alexnet_lecture_hw"): 227},
    ),
    (
        "pages/vgg.py",
        {"depth": "17", "size": "abc", "tab": "nope", "bn": "maybe"},
        {("radio", "vgg_depth"): 16, ("number_input", "vgg_hw"): 224,
         ("tabs", "vgg_view"): "Architecture", ("toggle", "vgg_bn"): False},
    ),
    (
        "pages/googlenet.py",
        {"c": "0", "hw": "-5", "reduce": "1.5"},
        {("number_input", "googlenet_inc_c"): 256, ("number_input", "googlenet_inc_hw"): 28,
         ("number_input", "googlenet_inc_reduce"): 64},
    ),
    (
        "pages/resnet.py",
        {"block_c": "2", "depth": "200", "size": "99999"},
        {("number_input", "resnet_block_c"): 256, ("radio", "resnet_depth"): 50,
         ("number_input", "resnet_hw"): 224},
    ),
    (
        "pages/layer_calculator.py",
        {"kernel": "33", "type": "conv3d", "model": "lenet7", "tab": "xyz"},
        {("number_input", "layer_calculator_kernel"): 11,
         ("radio", "layer_calculator_type"): "convolution",
         ("selectbox", "layer_calculator_model_name"): "alexnet_lecture",
         ("tabs", "layer_calculator_tabs"): "One layer"},
    ),
    (
        "pages/inception_ops.py",
        {"modules": "10", "c3x3": "abc"},
        {("slider", "inception_ops_modules"): 5,
         ("number_input", "inception_ops_c3x3"):
             inception_ops.lecture_widths("inception_bottleneck")["c3x3"]},
    ),
    (
        "pages/vgg_stacking.py",
        {"c": "5000"},
        {("number_input", "vgg_stacking_channels"): 64},
    ),
    (
        "pages/receptive_field.py",
        {"model": "resnet9", "h": "513", "unit": "1,2,3"},
        {("selectbox", "receptive_field_model"): "resnet18",
         ("number_input", "receptive_field_h_resnet18"): registry.get("resnet18").default_input[1]},
    ),
    (
        "pages/augmentation.py",
        {"digit": "10", "n": "25", "seed": "-1"},
        {("selectbox", "augmentation_digit"): 6, ("number_input", "augmentation_n"): 6,
         ("number_input", "augmentation_seed"): 0},
    ),
    (
        "pages/explain.py",
        {"net": "trained", "digit": "999", "methods": "saliency,bogus"},
        {("radio", "explain_source"): "default", ("number_input", "explain_digit"): 0,
         ("multiselect", "explain_methods"): ["saliency", "integrated_gradients", "gradcam"]},
    ),
    (
        "pages/transfer_learning.py",
        {"data": "cifar", "size": "1000", "backbone": "resnet999", "strategy": "half",
         "epochs": "0"},
        {("radio", "transfer_learning_source"): "digits",
         ("number_input", "transfer_learning_image_size"): 32,
         ("selectbox", "transfer_learning_backbone"): "resnet18",
         ("radio", "transfer_learning_strategy"): "linear",
         ("number_input", "transfer_learning_epochs"): 3},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("page", "params", "widgets"), INVALID, ids=[c[0].split("/")[1][:-3] for c in INVALID]
)
def test_a_parameter_the_page_cannot_use_gives_a_notice_and_the_default(
    app_path: str, page: str, params: dict, widgets: dict
) -> None:
    # The digit's picker shows only for the handwritten digit: a valid parameter opens it.
    context = {"image": "handwritten-digit"} if page == "pages/augmentation.py" else {}
    at = open_with(app_path, page, params | context)  # no exception, no st.error
    assert {w: value(at, *w) for w in widgets} == widgets
    notices = [w.value.replace("\\", "") for w in at.warning if "link's" in w.value]
    for param, text in params.items():  # one notice each, naming the parameter and its value
        assert sum(f"{param}={text!r}" in n for n in notices) == 1, (param, notices)
    assert len(notices) == len(params)
    assert not [e for e in at.error if "link" in e.value]
    assert view(at) == context  # the defaults leave the URL
    at.run()  # the next run has nothing left to complain about
    assert not [w for w in at.warning if "link's" in w.value]


def test_the_unit_of_a_link_is_checked_against_the_layers_grid(app_path: str) -> None:
    at = open_with(app_path, "pages/receptive_field.py", {"layer": "layer3", "unit": "14,0"})
    (notice,) = [w.value for w in at.warning if "link's" in w.value]
    assert "unit='14,0' is outside the 14x14 feature map" in notice  # ResNet-18 at 224: 14x14
    assert [s.value for s in at.slider] == [7, 7]  # the center, the page's default


def test_the_copy_link_box_shows_the_view_without_the_job_keys(app_path: str) -> None:
    at = open_with(app_path, "pages/vgg.py", {"depth": "19", "tab": "table"})
    (link,) = [c.value for c in at.sidebar.code]
    assert link.endswith("?depth=19&tab=table")
    assert "jobs" not in link and "tab-key" not in link and "explain_job" not in link


def test_home_lists_the_weight_files_and_keeps_the_job_keys(app_path: str) -> None:
    at = AppTest.from_file(app_path, default_timeout=120)
    at.query_params.update(JOBS)
    at.run()
    assert not at.exception
    (panel,) = [e for e in at.expander if e.label.startswith("Pretrained weights")]
    assert "python -m cnnviz fetch-weights --all" in [c.value for c in panel.code]
    assert at.query_params == JOBS


@pytest.mark.parametrize(("page", "params", "widgets", "change", "written"), ROUND_TRIPS[:3])
def test_a_widget_drawn_afresh_shows_what_the_page_uses(
    app_path: str, page: str, params: dict, widgets: dict, change: tuple, written: dict
) -> None:
    """What the page sends as a number input's default is its current value: a browser that
    draws the widget afresh (a section shown again, a reconnect) shows that, not the minimum."""
    at = open_with(app_path, page, params)
    set_value(at, *change)
    at.run()
    numbers = [w for w in at.number_input if w.key]
    assert numbers
    for widget in numbers:
        assert widget.proto.default == widget.value, widget.key
