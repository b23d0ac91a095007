"""AppTests of the layer calculator and Inception ops pages: widgets change the shown numbers."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow


def metrics(at: AppTest) -> dict[str, str]:
    """Metric label -> value (the first of each label: the tab order is one layer, model, 1x1)."""
    shown: dict[str, str] = {}
    for m in at.metric:
        shown.setdefault(m.label, m.value)
    return shown


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def shown_text(value: str) -> str:
    """Markdown source as the browser shows it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", value)


@pytest.fixture
def calculator(open_page) -> AppTest:
    return open_page("pages/layer_calculator.py")


def test_calculator_defaults_are_alexnet_conv1(calculator):
    shown = metrics(calculator)
    assert shown["Output volume (H x W x C)"] == "55x55x96"
    assert shown["Parameters"] == "34,944"
    assert shown["MACs"] == "105,415,200"
    text = markdown(calculator)
    assert "`(227 - 11 + 2*0)/4 + 1 = 55`" in text
    assert "`11*11*3*96 + 96 = 34,944`" in text
    assert "`55*55*96 * 11*11*3 = 105,415,200`" in text
    assert not calculator.warning and not calculator.error


def test_stride_5_flags_the_non_integer_output_and_suggests_fits(calculator):
    calculator.number_input(key="layer_calculator_stride").set_value(5).run()
    assert not calculator.exception
    assert metrics(calculator)["Output volume (H x W x C)"] == "44x44x96"
    (warning,) = calculator.warning
    assert "not integers: (227 - 11 + 2*0)/5 + 1 = 44.20" in shown_text(warning.value)
    assert "the last input row and column are never seen" in shown_text(warning.value)
    assert "- stride 5 → 4: output 55x55x96" in markdown(calculator)


def test_stride_3_fits(calculator):
    calculator.number_input(key="layer_calculator_stride").set_value(3).run()
    assert metrics(calculator)["Output volume (H x W x C)"] == "73x73x96"
    assert not calculator.warning


def test_groups_that_do_not_divide_are_an_error_not_an_exception(calculator):
    calculator.number_input(key="layer_calculator_groups").set_value(2).run()
    assert not calculator.exception
    assert "not divisible by groups 2" in calculator.error[0].value
    shown = metrics(calculator)
    assert shown["Output volume (H x W x C)"] == "—"
    assert shown["Parameters"] == "—" and shown["MACs"] == "—"  # not a misleading 0
    assert "- groups 2 → 1: output 55x55x96" in markdown(calculator)


def test_ceil_mode_switch_for_pools(calculator):
    """A 3x3 max pool at stride 2 on 112 (GoogLeNet's maxpool1): 55 floored, 56 in ceil mode,
    and the switch is off limits for a convolution."""
    at = calculator
    assert at.toggle(key="layer_calculator_ceil").disabled
    at.radio(key="layer_calculator_type").set_value("max pool")
    for key, value in (("h", 112), ("w", 112), ("c", 64), ("kernel", 3), ("stride", 2)):
        at.number_input(key=f"layer_calculator_{key}").set_value(value)
    at.run()
    assert metrics(at)["Output volume (H x W x C)"] == "55x55x64"
    at.toggle(key="layer_calculator_ceil").set_value(True).run()
    assert not at.exception and not at.error
    assert metrics(at)["Output volume (H x W x C)"] == "56x56x64"
    assert "`(112 - 3 + 2*0)/2 + 1 = 55.50, ceil mode rounds up to 56`" in markdown(at)


def test_max_pool_of_alexnet(calculator):
    calculator.radio(key="layer_calculator_type").set_value("max pool").run()
    for key, value in (
        ("layer_calculator_h", 55),
        ("layer_calculator_w", 55),
        ("layer_calculator_c", 96),
    ):
        calculator.number_input(key=key).set_value(value)
    calculator.number_input(key="layer_calculator_kernel").set_value(3)
    calculator.number_input(key="layer_calculator_stride").set_value(2).run()
    shown = metrics(calculator)
    assert (shown["Output volume (H x W x C)"], shown["Parameters"]) == ("27x27x96", "0")
    assert "`(55 - 3 + 2*0)/2 + 1 = 27`" in markdown(calculator)


def test_kernel_position_slider(calculator):
    calculator.slider(key="layer_calculator_position").set_value(54).run()
    assert not calculator.exception
    calculator.number_input(key="layer_calculator_h").set_value(
        5
    ).run()  # no room: the slider goes away
    assert not calculator.exception and calculator.error


def test_whole_model_table_and_layer_explanation(calculator):
    at = calculator
    table = at.dataframe[0].value  # the only table on the page
    assert len(table) == 23 and table["params"].sum() == 62_378_344  # alexnet_lecture
    at.selectbox(key="layer_calculator_model_layer").set_value("conv2").run()
    assert "`5*5*96*256 + 256 = 614,656`" in markdown(at)
    assert "`27*27*256 * 5*5*96 = 447,897,600`" in markdown(at)
    at.selectbox(key="layer_calculator_model_name").set_value("vgg16").run()
    assert not at.exception
    assert any(m.value == "138,357,544" for m in at.metric)
    assert at.number_input(key="layer_calculator_model_h").value == 224
    assert at.selectbox(key="layer_calculator_model_layer").value == "features.0"


def test_model_input_too_small_is_a_clear_error(calculator):
    calculator.number_input(key="layer_calculator_model_h").set_value(30).run()
    assert not calculator.exception
    (error,) = calculator.error
    assert "too small" in error.value and "Use a larger input" in error.value


def test_one_by_one_reduction(calculator):
    at = calculator
    assert any(m.value == "99,549,184" for m in at.metric)  # 12,845,056 + 86,704,128
    at.number_input(key="layer_calculator_1x1_to").set_value(32).run()
    assert "`28x28x256` → 1x1 conv, 32 filters → `28x28x32`" in markdown(at)
    assert any(m.value == f"{28 * 28 * 32 * 256 + 28 * 28 * 192 * 9 * 32:,}" for m in at.metric)
    reduce, conv = 1 * 1 * 256 * 32 + 32, 3 * 3 * 32 * 192 + 192
    assert f"`{reduce:,} + {conv:,} = {reduce + conv:,}`" in markdown(at)  # the parameter total


def test_one_by_one_that_costs_more_says_more(calculator):
    """Reducing 16 channels to 200 first costs more: '... more' or 'x as many', never '-13%'."""
    at = calculator
    at.number_input(key="layer_calculator_1x1_depth").set_value(16)
    at.number_input(key="layer_calculator_1x1_to").set_value(200).run()
    deltas = [str(m.proto.delta) for m in at.metric if m.label.endswith("with the 1x1 first")]
    assert deltas and all(re.search(r"(\d+% more|\d\.\dx as many) ", d) for d in deltas), deltas
    assert not any("-" in d for d in deltas)


def test_model_output_metric_is_h_w_c(calculator):
    """The naive Inception module's output is PyTorch's (672, 28, 28): shown as the lecture's
    28x28x672, not as 672x28x28."""
    calculator.selectbox(key="layer_calculator_model_name").set_value("inception_naive").run()
    assert not calculator.exception
    outputs = [m.value for m in calculator.metric if m.label == "Output"]
    assert outputs == ["28x28x672"]


def test_inception_page_on_the_lecture_numbers(open_page):
    at = open_page("pages/inception_ops.py")
    values = [m.value for m in at.metric]
    assert values == ["854,196,224", "28x28x672", "271,351,808", "28x28x480"]
    code = "\n".join(c.value for c in at.code)
    assert "[1x1 conv, 128]   28*28*128*1*1*256 = 25,690,112" in code
    assert "Total: 271,351,808 ops" in code
    assert len(at.success) == 2 and not at.error
    assert at.success[0].value == (
        "The real module (inception_naive) gives 854,196,224 MACs, depth 672: the same."
    )
    table = at.dataframe[0].value
    assert len(table) == 9 and set(table["agree"]) == {"✓"}
    assert list(table["engine layer"])[3:5] == ["branch3x3.reduce.conv", "branch5x5.reduce.conv"]
    assert "271,351,808 + 86,704,128 = 358,055,936" in markdown(at)
    assert "Depth after each naive module: 672, 1088, 1504, 1920, 2336." in at.caption[-1].value


def test_inception_page_follows_the_widths(open_page):
    at = open_page("pages/inception_ops.py")
    at.number_input(key="inception_ops_c3x3_reduce").set_value(128).run()
    assert not at.exception
    bottleneck = 271_351_808 - 12_845_056 - 86_704_128 + 2 * 12_845_056 + 2 * 86_704_128
    assert [m.value for m in at.metric][2] == f"{bottleneck:,}"
    assert len(at.success) == 2 and not at.error
    assert set(at.dataframe[0].value["agree"]) == {"✓"}
    at.number_input(key="inception_ops_c").set_value(480).run()
    assert [m.value for m in at.metric][1] == "28x28x896"  # 128 + 192 + 96 + 480


def test_inception_bottleneck_that_costs_more_says_so(open_page):
    """Reductions wider than the input make the 'bottleneck' dearer: 'more', never '-13% fewer'."""
    at = open_page("pages/inception_ops.py")
    at.number_input(key="inception_ops_c3x3_reduce").set_value(600).run()
    assert not at.exception
    delta = str(at.metric[2].proto.delta)
    assert re.fullmatch(r"\d+% more|\d+\.\dx as many", delta), delta
    text = markdown(at)
    assert re.search(r"MACs, (\d+% more than|\d+\.\dx as many as) 854,196,224 without them", text)
    assert "-" not in delta and "% fewer" not in text
