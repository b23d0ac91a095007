"""VGG's 3x3 stacking against the lecture's numbers (lecture section 6)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnviz.stacking import stacked_3x3, stacking_table


def test_stacking_table_matches_the_lecture() -> None:
    rows = stacking_table(64)
    assert [r.kernel for r in rows] == [3, 5, 7, 9]
    assert [r.stacked_rf for r in rows] == [3, 5, 7, 9]
    assert all(r.single_rf == r.kernel for r in rows)
    three = rows[2]
    assert three.stacked_params == 27 * 64**2 == 110_592
    assert three.single_params == 49 * 64**2 == 200_704
    assert (three.stacked_nonlinearities, three.single_nonlinearities) == (3, 1)
    assert rows[0].stacked_params == rows[0].single_params  # n = 1: the same layer
    for r in rows:
        assert r.stacked_params == r.n * 9 * 64**2
        assert r.single_params == (2 * r.n + 1) ** 2 * 64**2


def test_stacked_3x3_is_what_it_says() -> None:
    stack = stacked_3x3(3, 8)
    convs = [m for m in stack if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert math.prod(stack(torch.zeros(1, 8, 9, 9)).shape) == 8 * 9 * 9
    with pytest.raises(ValueError):
        stacking_table(0)
