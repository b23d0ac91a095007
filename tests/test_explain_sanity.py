"""Cascading randomization (Adebayo et al. 2018): step 0 is the trained map itself, gradient
maps change as the network is destroyed, and the shared model is never the one randomized."""

from __future__ import annotations

import numpy as np

from cnnviz.explain import sanity
from tests.explain_cases import assert_same, default_net, digit_input, shared_resnet, state


def test_cascading_randomization_changes_saliency_and_gradcam_maps():
    model, x, label = digit_input()
    before = state(default_net())
    steps = []
    result = sanity.cascading_randomization(
        model, x, ["saliency", "gradcam"], target=label,
        report=lambda **kw: steps.append(kw.get("message")),
    )  # fmt: skip
    assert_same(before, state(default_net()))  # the shared model was not the one randomized
    # From the output back: LeNet-5's weighted layers, output first.
    assert result.steps == ["original", "output", "f6", "c5", "c3", "c1"]
    assert result.target == label
    for method, values in result.correlations.items():
        assert values[0] == 1.0
        assert len(values) == len(result.steps)
        final = values[-1]
        assert final is None or final < 0.9, (method, values)  # the map changed
    assert "Randomizing output" in steps and steps[-1] == "Done"


def test_resnet_blocks_go_from_the_head_to_the_stem():
    names = [name for name, _ in sanity.blocks(shared_resnet())]
    assert names[:3] == ["fc", "layer4.1", "layer4.0"]
    assert names[-2:] == ["bn1", "conv1"]
    assert len(names) == 11  # fc, 8 basic blocks, bn1, conv1


def test_rank_correlation_is_spearmans():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert sanity.rank_correlation(a, a**3) == 1.0  # same order, other values
    assert sanity.rank_correlation(a, -a) == 1.0  # magnitudes are compared
    assert sanity.rank_correlation(a, a[::-1]) == -1.0
    assert sanity.rank_correlation(a, np.zeros(4)) is None  # a constant map has no ranking
