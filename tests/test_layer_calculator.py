"""The layer calculator (one layer's arithmetic, its problems and the nearest settings that fit)
against the lecture's AlexNet rows and real torch modules."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch
from formula_check import assert_consistent, worked_length
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnviz.analysis import analyze
from cnnviz.layer_calculator import compared, depth_reduction, layer_arithmetic
from cnnviz.layer_fit import (
    LayerSpec,
    layer_problems,
    refused_by_pytorch,
    spec_output,
    suggest_fits,
)
from cnnviz.layer_table import layer_rows
from cnnviz.notation import compact
from cnnviz.plots.layer_calculator import (
    INPUT,
    PADDING,
    TAP,
    UNSEEN,
    depth_reduction_figure,
    kernel_positions_figure,
    layer_costs_figure,
    padded_grid,
)

CONV1 = LayerSpec()  # AlexNet CONV1: 227x227x3, 96 11x11 filters, stride 4, pad 0


def conv(h: int, c: int, k: int, s: int, p: int, f: int) -> LayerSpec:
    return LayerSpec(height=h, width=h, channels=c, kernel=k, stride=s, padding=p, filters=f)


def pool(h: int, c: int, k: int = 3, s: int = 2) -> LayerSpec:
    return LayerSpec(layer_type="max pool", height=h, width=h, channels=c, kernel=k, stride=s)


# The lecture's AlexNet table (lecture-facts section 5): spec, output, parameters.
ALEXNET_ROWS = [
    (CONV1, (55, 55, 96), 34_944),
    (pool(55, 96), (27, 27, 96), 0),
    (conv(27, 96, 5, 1, 2, 256), (27, 27, 256), 614_656),
    (pool(27, 256), (13, 13, 256), 0),
    (conv(13, 256, 3, 1, 1, 384), (13, 13, 384), 885_120),
    (conv(13, 384, 3, 1, 1, 384), (13, 13, 384), 1_327_488),
    (conv(13, 384, 3, 1, 1, 256), (13, 13, 256), 884_992),
    (pool(13, 256), (6, 6, 256), 0),
]


@pytest.mark.parametrize(("spec", "output", "params"), ALEXNET_ROWS)
def test_alexnet_rows_of_the_lecture(spec, output, params):
    result = layer_arithmetic(spec)
    assert result.fits and not result.suggestions
    assert result.output == output
    assert result.params == params


def test_conv1_worked_formulas_as_on_the_slide():
    result = layer_arithmetic(CONV1)
    assert result.volume == "55x55x96"
    assert result.worked_height == "(227 - 11 + 2*0)/4 + 1 = 55"
    assert result.worked_params == "11*11*3*96 + 96 = 34,944"
    assert result.worked_macs == "55*55*96 * 11*11*3 = 105,415,200"
    assert result.macs == 105_415_200


def test_pool1_worked_formula_and_no_parameters():
    result = layer_arithmetic(pool(55, 96))
    assert result.worked_height == "(55 - 3 + 2*0)/2 + 1 = 27"
    assert (result.params, result.macs) == (0, 0)
    assert result.worked_params.startswith("0: pooling has no parameters")


# --- A second method: real torch modules (shape, parameter count, FLOP counter, gradients).


def torch_module(spec: LayerSpec) -> nn.Module:
    if spec.layer_type == "convolution":
        if spec.ceil_mode:
            raise TypeError("nn.Conv2d has no ceil_mode")
        return nn.Conv2d(
            spec.channels,
            spec.filters,
            spec.kernel,
            spec.stride,
            spec.padding,
            spec.dilation,
            spec.groups,
        )
    if spec.layer_type == "max pool":
        return nn.MaxPool2d(
            spec.kernel, spec.stride, spec.padding, spec.dilation, ceil_mode=spec.ceil_mode
        )
    if spec.dilation != 1:
        raise TypeError("nn.AvgPool2d has no dilation")
    return nn.AvgPool2d(spec.kernel, spec.stride, spec.padding, ceil_mode=spec.ceil_mode)


def run_torch(spec: LayerSpec) -> tuple[nn.Module, torch.Tensor, torch.Tensor, int] | None:
    """(module, input, output, FLOPs), or None where PyTorch raises."""
    try:
        module = torch_module(spec)
        x = torch.rand(1, spec.channels, spec.height, spec.width, requires_grad=True)
        with FlopCounterMode(display=False) as counter:
            y = module(x)
        return module, x, y, counter.get_total_flops()
    except (RuntimeError, ValueError, TypeError):
        return None


def assert_unseen(result, touched: torch.Tensor) -> None:
    """Unseen rows and columns as the gradient shows them. The gradient is a row-by-column
    product: where no row is touched at all (every tap in the padding) it says nothing about
    the columns, so then only the rows (or columns) that are wholly unseen are checked."""
    spec = result.spec
    rows = tuple(i for i in range(spec.height) if not touched[i].any())
    cols = tuple(j for j in range(spec.width) if not touched[:, j].any())
    if touched.any():
        assert (result.unseen_rows, result.unseen_columns) == (rows, cols), spec
    else:
        everything = (tuple(range(spec.height)), tuple(range(spec.width)))
        assert everything[0] == result.unseen_rows or everything[1] == result.unseen_columns


def random_spec(rng: random.Random) -> LayerSpec:
    layer_type = rng.choice(["convolution", "convolution", "max pool", "average pool"])
    groups = rng.choice([1, 1, 2, 3])
    return LayerSpec(
        layer_type=layer_type,
        height=rng.randint(1, 30),
        width=rng.randint(1, 30),
        channels=rng.randint(1, 4) * (groups if rng.random() < 0.8 else 1),
        kernel=rng.randint(1, 7),
        stride=rng.randint(1, 5),
        padding=rng.randint(0, 4),
        dilation=rng.choice([1, 1, 1, 2, 3]),
        filters=rng.randint(1, 4) * (groups if rng.random() < 0.8 else 1),
        groups=groups,
        ceil_mode=rng.random() < (0.5 if layer_type != "convolution" else 0.05),
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_settings_match_torch(seed):
    rng = random.Random(seed)
    checked = refused = 0
    for _ in range(100):
        spec = random_spec(rng)
        result = layer_arithmetic(spec)
        ran = run_torch(spec)
        assert (ran is None) == refused_by_pytorch(spec), spec
        if ran is None:
            assert result.output is None and result.problems, spec
            assert (result.params_text, result.macs_text) == ("—", "—")
            refused += 1
            continue
        module, x, y, flops = ran
        h, w, c = result.output
        assert tuple(y.shape) == (1, c, h, w), spec
        # Every worked formula evaluates, as written, to what it states, and ends on torch's.
        assert (worked_length(result.worked_height), worked_length(result.worked_width)) == (h, w)
        for _, text in result.worked_rows()[2:]:
            if "=" in text:
                assert_consistent(text)
        assert result.params == sum(p.numel() for p in module.parameters()), spec
        if spec.is_conv:
            assert 2 * result.macs == flops, spec  # the FLOP counter counts 2 per MAC
        # Input positions no kernel tap touches get no gradient from a conv of ones.
        if spec.is_conv and spec.groups == 1:
            weight = torch.ones(1, spec.channels, spec.kernel, spec.kernel)
            out = nn.functional.conv2d(x, weight, None, spec.stride, spec.padding, spec.dilation)
            (grad,) = torch.autograd.grad(out.sum(), x)
            touched = grad[0].abs().sum(0) > 0
            assert_unseen(result, touched)
        if spec.layer_type == "average pool":  # every tap of an average pool gets a gradient
            (grad,) = torch.autograd.grad(y.sum(), x)
            touched = grad[0].abs().sum(0) > 0
            assert_unseen(result, touched)
        checked += 1
    assert checked > 40 and refused > 5  # both kinds of settings were exercised


def test_suggestions_always_fit_and_give_their_output():
    rng = random.Random(7)
    flagged = 0
    for _ in range(150):
        spec = random_spec(rng)
        if rng.random() < 0.2:
            spec = replace(spec, stride=rng.choice([0, -1]), padding=rng.choice([-2, 0, 1]))
        suggestions = suggest_fits(spec)
        if not layer_problems(spec):
            assert suggestions == []
            continue
        flagged += 1
        assert suggestions, spec
        for s in suggestions:
            assert layer_problems(s.spec) == [], (spec, s)
            assert s.output == spec_output(s.spec)
            assert run_torch(s.spec) is not None, s
    assert flagged > 50


# --- Every flagged case, its message and its suggestions.


def test_non_integer_output_is_floored_and_says_how_many_rows_are_lost():
    result = layer_arithmetic(replace(CONV1, stride=5))
    assert result.output == (44, 44, 96)
    assert len(result.problems) == 1
    assert "(227 - 11 + 2*0)/5 + 1 = 44.20" in result.problems[0]
    assert "floors it to 44" in result.problems[0]
    assert "the last input row and column are never seen" in result.problems[0]
    assert result.unseen_rows == (226,)
    assert "floored to 44" in result.worked_height


def test_224_input_suggests_227_the_size_alexnet_really_needs():
    result = layer_arithmetic(replace(CONV1, height=224, width=224))
    assert "the last input row and column are never seen" in result.problems[0]
    changes = {s.change: s.volume for s in result.suggestions}
    assert changes["input size 224 → 227"] == "55x55x96"
    assert changes["input size 224 → 223"] == "54x54x96"
    assert changes["stride 4 → 3"] == "72x72x96"
    # (224 - 11 + 2p) is odd for every p: no padding makes stride 4 fit.
    assert not any(c.startswith("padding") for c in changes)


def test_stride_3_on_conv1_fits():
    # (227 - 11)/3 = 72: stride 3 gives a whole 73x73 output (stride 5 does not fit).
    assert layer_arithmetic(replace(CONV1, stride=3)).fits
    assert layer_arithmetic(replace(CONV1, stride=3)).volume == "73x73x96"


def test_rows_and_columns_are_reported_separately_when_they_differ():
    result = layer_arithmetic(replace(CONV1, height=224, width=200))
    assert [p.split(" is not")[0] for p in result.problems] == ["Output height", "Output width"]
    assert "last input row is never seen" in result.problems[0]
    assert "last input column is never seen" in result.problems[1]


def test_only_padding_dropped_is_still_flagged():
    result = layer_arithmetic(conv(8, 1, 3, 2, 1, 1))  # (8 - 3 + 2)/2 = 3.5
    assert result.output == (4, 4, 1)
    assert "only padding is dropped" in result.problems[0]
    assert result.unseen_rows == ()


def test_kernel_larger_than_padded_input():
    result = layer_arithmetic(replace(CONV1, height=5, width=5))
    assert result.output is None and result.volume == "—"
    assert "larger than the padded input height and width (5 + 2*0 = 5)" in result.problems[0]
    assert "no room for the kernel" in result.worked_height
    assert {s.change: s.volume for s in result.suggestions}["input size 5 → 11"] == "1x1x96"


def test_pool_padding_over_half_the_kernel_is_refused():
    spec = LayerSpec(layer_type="max pool", height=9, width=9, kernel=3, stride=1, padding=2)
    result = layer_arithmetic(spec)
    assert result.output is None
    assert "more than half the kernel (3//2 = 1)" in result.problems[0]
    assert run_torch(spec) is None
    assert result.suggestions[0].change == "padding 2 → 1"


def test_conv_padding_over_half_the_kernel_is_flagged_but_computed():
    result = layer_arithmetic(conv(9, 1, 3, 1, 2, 1))
    assert result.output == (11, 11, 1)
    assert "PyTorch allows it for convolutions" in result.problems[0]
    assert result.suggestions[0].change == "padding 2 → 1"


def test_channels_not_divisible_by_groups():
    result = layer_arithmetic(replace(CONV1, groups=2))
    assert result.output is None
    assert "input depth 3 is not divisible by groups 2" in result.problems[0]
    changes = [s.change for s in result.suggestions]
    assert "groups 2 → 1" in changes and "groups 2 → 3" in changes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stride": 0}, "stride is 0: it must be at least 1"),
        ({"kernel": -3}, "kernel size is -3: it must be at least 1"),
        ({"height": 0}, "input height is 0"),
        ({"filters": 0}, "number of filters is 0"),
        ({"padding": -1}, "padding is -1: it must be 0 or more"),
    ],
)
def test_zero_and_negative_values(change, message):
    result = layer_arithmetic(replace(CONV1, **change))
    assert result.output is None
    assert any(message in p for p in result.problems)
    assert result.suggestions
    assert all(not layer_problems(s.spec) for s in result.suggestions)
    # Every fix moves the bad value into range, and says so: 'stride 0 → 1'.
    ((knob, value),) = change.items()
    assert all(getattr(s.spec, knob) >= (0 if knob == "padding" else 1) for s in result.suggestions)
    assert f"{message.split(' is ')[0]} {value} → " in result.suggestions[0].change


def test_two_problems_at_once_get_two_changes():
    spec = replace(CONV1, stride=0, groups=2)
    problems = layer_problems(spec)
    assert len(problems) == 2  # the bad stride and the groups
    first = suggest_fits(spec)[0]
    assert first.change == "stride 0 → 1, groups 2 → 1"
    assert first.volume == "217x217x96"


def test_average_pool_has_no_dilation():
    spec = LayerSpec(layer_type="average pool", height=9, width=9, kernel=3, stride=1, dilation=2)
    assert refused_by_pytorch(spec) and run_torch(spec) is None
    assert "no dilation" in layer_problems(spec)[0]


def test_stride_over_kernel_notes_the_skipped_input():
    result = layer_arithmetic(conv(56, 64, 1, 2, 0, 128))  # ResNet's 1x1 stride-2 shortcut
    assert any("skip input" in n for n in result.notes)
    assert len(result.unseen_rows) == 28


# --- 1x1 convolutions reduce depth.


def test_depth_reduction_on_the_lecture_numbers():
    r = depth_reduction(28, 28, 256, 64, 3, 192)
    assert r.direct.macs == 346_816_512  # the naive module's 3x3 term
    assert r.reduce.macs == 12_845_056
    assert r.after.macs == 86_704_128  # the bottleneck module's 3x3 term
    assert r.reduce.volume == "28x28x64" and r.after.volume == "28x28x192"
    direct = nn.Conv2d(256, 192, 3, padding=1)
    bottleneck = nn.Sequential(nn.Conv2d(256, 64, 1), nn.Conv2d(64, 192, 3, padding=1))
    assert r.direct.params == sum(p.numel() for p in direct.parameters())
    assert r.bottleneck_params == sum(p.numel() for p in bottleneck.parameters())
    assert r.bottleneck_macs == 12_845_056 + 86_704_128 == 99_549_184


def test_depth_reduction_56x56x64_to_32():
    r = depth_reduction(56, 56, 64, 32, 5, 32)
    assert r.reduce.volume == "56x56x32"
    assert r.reduce.worked_params == "1*1*64*32 + 32 = 2,080"
    assert r.bottleneck_macs < r.direct.macs


# --- The figure's grid.


def test_padded_grid_marks_padding_unseen_cells_and_taps():
    # (9 - 3 + 2*1)/3 + 1 = 3.67: windows start at padded 0, 3, 6 and end at 8; padded 9 is
    # input row 8, never seen; padded 10 is padding.
    result = layer_arithmetic(conv(9, 1, 3, 3, 1, 1))
    assert result.unseen_rows == (8,) and result.unseen_columns == (8,)
    grid = padded_grid(result, row=0, column=1)
    assert grid[0][0] == PADDING and grid[10][10] == PADDING and grid[4][4] == INPUT
    assert {(y, x) for y in range(11) for x in range(11) if grid[y][x] == TAP} == {
        (y, x) for y in range(3) for x in range(3, 6)
    }
    unseen = {(y, x) for y in range(11) for x in range(11) if grid[y][x] == UNSEEN}
    assert unseen == {(9, x) for x in range(1, 10)} | {(y, 9) for y in range(1, 10)}


def test_kernel_positions_draws_one_window_per_output_column():
    fig = kernel_positions_figure(layer_arithmetic(conv(27, 1, 3, 2, 0, 1)), column=4)  # 13 outputs
    assert len(fig.layout.shapes) == 13
    chosen = [s for s in fig.layout.shapes if s.line.width == 3]
    assert len(chosen) == 1 and (chosen[0].x0, chosen[0].x1) == (7.5, 10.5)
    assert (len(fig.data[0].z), len(fig.data[0].z[0])) == (27, 27)


def test_kernel_positions_shows_only_the_part_around_a_large_input():
    fig = kernel_positions_figure(layer_arithmetic(CONV1), column=54)  # the last window, at 216
    cells = fig.data[0]
    assert cells.x[0] <= 216 and cells.x[-1] == 226 and len(cells.x) < 60
    chosen = [s for s in fig.layout.shapes if s.line.width == 3]
    assert len(chosen) == 1 and chosen[0].x0 == 54 * 4 - 0.5
    assert "shown: rows 0-" in fig.layout.annotations[0].text
    huge = kernel_positions_figure(layer_arithmetic(conv(1000, 3, 3, 1, 1, 8)), column=500)
    assert len(huge.to_json()) < 100_000  # not a million cells
    assert 500 in huge.data[1].x


def test_refused_settings_get_a_message_instead_of_a_grid():
    refused = kernel_positions_figure(layer_arithmetic(replace(CONV1, groups=2)))
    assert "refuses" in refused.layout.annotations[0].text


def test_ceil_mode_pool_with_a_window_wider_than_the_input_is_accepted():
    """torch: a max pool 1 pixel (less than the stride) wider than the padded input gives 1."""
    spec = LayerSpec("max pool", 2, 2, 5, kernel=3, stride=2, padding=0, ceil_mode=True)
    assert run_torch(spec) is not None and not refused_by_pytorch(spec)
    assert layer_arithmetic(spec).output == (1, 1, 5)
    wider = replace(spec, kernel=4)  # 2 wider: the stride, no window can start
    assert run_torch(wider) is None and refused_by_pytorch(wider)
    assert "even ceil mode has no window" in layer_problems(wider)[0]


def test_ceil_mode_last_window_must_start_inside_the_input():
    spec = LayerSpec("max pool", 207, 207, 1, kernel=1, stride=4, padding=0, ceil_mode=True)
    result = layer_arithmetic(spec)
    assert result.output == (52, 52, 1) and result.worked_height.endswith("drops it, so 52")


def test_conv_in_ceil_mode_is_refused_not_computed():
    spec = replace(LayerSpec(), ceil_mode=True)
    result = layer_arithmetic(spec)
    assert refused_by_pytorch(spec) and result.output is None
    assert "A convolution has no ceil mode" in result.problems[0]
    assert (result.params_text, result.macs_text) == ("—", "—")
    assert all(not s.spec.ceil_mode for s in result.suggestions)


@pytest.mark.parametrize(
    ("new", "old", "words"),
    [
        (29, 100, "71% fewer than 100"),
        (113, 100, "13% more than 100"),  # not '-13% fewer'
        (97_360, 100, "973.6x as many as 100"),  # not '97260% more'
        (100, 100, "about as many as 100"),
        (1, 1_000, "1,000x fewer than 1,000"),
    ],
)
def test_compared_reads_well_for_any_ratio(new, old, words):
    assert compared(new, old) == words
    assert compared(new, old, against="naive") == words.rsplit(" ", 1)[0] + " naive"


def test_depth_reduction_shows_the_parameter_total():
    rows = dict(depth_reduction(28, 28, 256, 64, 3, 192).worked_rows())
    reduce, conv = 256 * 64 + 64, 9 * 64 * 192 + 192
    assert rows["1x1 reduce + conv, parameters"] == f"{reduce:,} + {conv:,} = {reduce + conv:,}"


def test_cost_charts_label_their_axes_like_the_metrics():
    costs = layer_costs_figure(layer_rows(analyze("vgg16")))
    macs_axis = costs.layout.yaxis2  # VGG-16's largest conv: 1.85 G MACs
    assert list(macs_axis.ticktext) == [compact(v) for v in macs_axis.tickvals]
    assert "2.00 G" in macs_axis.ticktext
    bars = depth_reduction_figure(depth_reduction(28, 28, 256, 64, 3, 192))
    assert list(bars.layout.yaxis.ticktext) == [compact(v) for v in bars.layout.yaxis.tickvals]
