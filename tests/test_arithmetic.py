"""The worked formulas other pages and the quiz rely on: as written, they evaluate to what they
state, and what they state is what PyTorch computes (random settings against real layers)."""

from __future__ import annotations

import random

import pytest
import torch
from formula_check import assert_consistent, evaluate, worked_length
from torch import nn

from cnnviz.arithmetic import (
    output_length,
    worked_conv_macs,
    worked_conv_params,
    worked_output_length,
)


def torch_length(kind: str, n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int | None:
    """PyTorch's output length on a 1 x n tensor (None where the layer raises)."""
    if kind == "conv":
        layer: nn.Module = nn.Conv2d(1, 1, (1, k), (1, s), (0, p), (1, d), bias=False)
    elif kind == "max":
        layer = nn.MaxPool2d((1, k), (1, s), (0, p), (1, d), ceil_mode=ceil)
    else:
        layer = nn.AvgPool2d((1, k), (1, s), (0, p), ceil_mode=ceil)
    try:
        with torch.no_grad():
            return layer(torch.zeros(1, 1, 1, n)).shape[-1]
    except RuntimeError:
        return None


def random_settings(count: int, seed: int) -> list[tuple[str, int, int, int, int, int, bool]]:
    """(kind, n, kernel, stride, padding, dilation, ceil mode): small sizes so that windows
    hang over edges often; pools keep PyTorch's padding <= kernel // 2."""
    rng = random.Random(seed)
    settings = []
    while len(settings) < count:
        kind = rng.choice(("conv", "max", "avg"))
        n, k, s = rng.randint(1, 40), rng.randint(1, 9), rng.randint(1, 6)
        d = 1 if kind == "avg" else rng.choice((1, 1, 2, 3, 4))
        p = rng.randint(0, k // 2) if kind != "conv" else rng.randint(0, 5)
        ceil = kind != "conv" and rng.random() < 0.6
        settings.append((kind, n, k, s, p, d, ceil))
    return settings


SETTINGS = random_settings(400, seed=6)


def test_existing_worked_functions_are_unchanged():
    assert worked_output_length(227, 11, 4, 0) == "(227 - 11 + 2*0)/4 + 1 = 55"
    assert worked_conv_params((11, 11), 3, 96) == "11*11*3*96 + 96 = 34,944"


def test_dilated_kernel_is_parenthesized():
    """Issue 6: '(40 - 4*(9 - 1) + 1 + 2*0)/3 + 1' evaluated to 4 as written, not 3.33."""
    text = worked_output_length(40, 9, 3, 0, 4)
    assert text == "(40 - (4*(9 - 1) + 1) + 2*0)/3 + 1 = 3.33, floored to 3"
    assert worked_length(text) == 3


def test_ceil_mode_rounds_up_and_drops_a_window_starting_past_the_input():
    assert worked_output_length(112, 3, 2, 0, ceil_mode=True) == (
        "(112 - 3 + 2*0)/2 + 1 = 55.50, ceil mode rounds up to 56"
    )
    text = worked_output_length(207, 1, 4, 0, ceil_mode=True)
    assert "ceil mode rounds up to 53" in text and text.endswith("PyTorch drops it, so 52")
    assert worked_length(text) == 52 == torch_length("max", 207, 1, 4, 0, 1, True)


def test_ceil_mode_keeps_a_window_wider_than_the_padded_input():
    """A 3-wide max pool at stride 2 on 2 pixels: no room when flooring, one output in ceil
    mode (the window is 1 pixel, less than the stride, wider than the input)."""
    assert output_length(2, 3, 2) == 0 and torch_length("max", 2, 3, 2, 0, 1, False) is None
    assert output_length(2, 3, 2, ceil_mode=True) == 1 == torch_length("max", 2, 3, 2, 0, 1, True)
    assert worked_length(worked_output_length(2, 3, 2, ceil_mode=True)) == 1
    assert output_length(2, 4, 2, ceil_mode=True) == 0  # 2 wider: the stride, PyTorch raises
    assert torch_length("max", 2, 4, 2, 0, 1, True) is None


@pytest.mark.parametrize("setting", SETTINGS, ids=[str(i) for i in range(len(SETTINGS))])
def test_random_worked_length_evaluates_as_written_and_matches_torch(setting):
    kind, n, k, s, p, d, ceil = setting
    expected = torch_length(kind, n, k, s, p, d, ceil)
    text = worked_output_length(n, k, s, p, d, ceil)
    assert output_length(n, k, s, p, d, ceil) == (expected or 0), text
    if expected is None:
        assert "no room for the kernel" in text
        assert_consistent(text)
    else:
        assert worked_length(text) == expected, text
        assert ("ceil mode" in text) == (ceil and (n + 2 * p - d * (k - 1) - 1) % s != 0)


def test_random_settings_cover_the_interesting_cases():
    """The seeded sample holds dropped last windows, windows wider than the input kept by ceil
    mode, refusals, flooring and dilation: each case above is really exercised."""
    texts = [worked_output_length(n, k, s, p, d, c) for _, n, k, s, p, d, c in SETTINGS]
    assert sum("drops it" in t for t in texts) >= 3
    assert sum("no room" in t for t in texts) >= 10
    assert sum("floored" in t for t in texts) >= 50
    assert sum("*(" in t for t in texts) >= 50  # dilated
    wider = [x for x in SETTINGS if x[6] and x[2] + (x[5] - 1) * (x[2] - 1) > x[1] + 2 * x[4]]
    assert any(torch_length(*x) == 1 for x in wider)


@pytest.mark.parametrize("seed", range(3))
def test_random_conv_params_and_macs_evaluate_as_written_and_match_torch(seed):
    rng = random.Random(seed)
    for _ in range(40):
        groups = rng.choice((1, 1, 2, 3))
        c_in, c_out = groups * rng.randint(1, 8), groups * rng.randint(1, 8)
        k, h, w = rng.randint(1, 7), rng.randint(1, 30), rng.randint(1, 30)
        bias = rng.random() < 0.5
        conv = nn.Conv2d(c_in, c_out, k, groups=groups, bias=bias)
        params = worked_conv_params((k, k), c_in, c_out, groups, bias)
        assert_consistent(params)
        assert evaluate(params.split(" = ")[0]) == sum(t.numel() for t in conv.parameters())
        macs = worked_conv_macs((h, w), c_out, k, c_in, groups)
        assert_consistent(macs)
        assert evaluate(macs.split(" = ")[0]) == conv.weight.numel() * h * w
