"""Cascading randomization (Adebayo et al. 2018): step 0 compares the trained map with a rerun
(exactly 1 with a seed, SmoothGrad included), gradient maps change as the network is destroyed,
the same seed gives the same run, the shared model and the global RNG are left as found, and
the verdicts and their text follow the numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from cnnviz.explain import sanity
from cnnviz.explain.attribution import METHODS, Params
from tests.explain_cases import assert_same, default_net, digit_input, shared_resnet, state


def test_cascading_randomization_changes_saliency_and_gradcam_maps():
    model, x, label = digit_input()
    before = state(default_net())
    steps = []
    rng = torch.get_rng_state()
    result = sanity.cascading_randomization(
        model, x, ["saliency", "gradcam", "smoothgrad"], Params(samples=4), target=label,
        report=lambda **kw: steps.append(kw.get("message")),
    )  # fmt: skip
    assert_same(before, state(default_net()))  # the shared model was not the one randomized
    assert torch.equal(rng, torch.get_rng_state())  # every draw from the run's own generator
    # From the output back: LeNet-5's weighted layers, output first.
    assert result.steps == ["original", "output", "f6", "c5", "c3", "c1"]
    assert result.target == label
    for method, values in result.correlations.items():
        assert values[0] == 1.0  # computed: the untouched copy draws the very same map
        assert len(values) == len(result.steps)
        pictures = result.pictures[method]
        assert len(pictures) == len(result.steps) and pictures[0].shape == (32, 32)
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


def test_the_same_seed_gives_the_same_run_and_another_seed_other_weights():
    model, x, label = digit_input()
    methods = ["smoothgrad", "saliency"]
    one = sanity.cascading_randomization(model, x, methods, Params(samples=4, seed=5), label)
    two = sanity.cascading_randomization(model, x, methods, Params(samples=4, seed=5), label)
    other = sanity.cascading_randomization(model, x, methods, Params(samples=4, seed=6), label)
    assert one.correlations == two.correlations and one.seed == 5
    for m in methods:
        for a, b in zip(one.pictures[m], two.pictures[m], strict=True):
            assert np.array_equal(a, b)
    assert one.correlations["saliency"][1:] != other.correlations["saliency"][1:]


def test_randomize_draws_like_reset_parameters_from_its_generator():
    """A convolution re-initialized from a generator: torch's own reset_parameters under
    torch.manual_seed draws the same Kaiming-uniform weights (its bias: another order)."""
    conv = torch.nn.Conv2d(3, 8, 5)
    sanity.randomize(conv, torch.Generator().manual_seed(11))
    ref = torch.nn.Conv2d(3, 8, 5)
    torch.manual_seed(11)
    ref.reset_parameters()
    assert torch.equal(conv.weight, ref.weight)
    bound = 1 / (3 * 5 * 5) ** 0.5
    assert conv.bias.abs().max() <= bound


def made(finals: dict[str, float | None]) -> sanity.SanityResult:
    return sanity.SanityResult(
        ["original", "fc", "conv1"], {m: [1.0, 0.6, v] for m, v in finals.items()}, 3, seed=7
    )


def test_verdicts_pass_below_0_2_in_magnitude_and_a_blank_map_passes():
    found = sanity.verdicts(
        made({"saliency": 0.31, "gradcam": -0.05, "occlusion": None, "smoothgrad": -0.25,
              "guided_backprop": 0.2})
    )  # fmt: skip
    assert {m: v.passes for m, v in found.items()} == {
        "saliency": False, "gradcam": True, "occlusion": True, "smoothgrad": False,
        "guided_backprop": False,
    }  # fmt: skip
    assert found["saliency"].final == 0.31 and found["occlusion"].final is None


def test_verdict_text_names_who_passes_and_who_stays_similar():
    text = sanity.verdict_text(made({"saliency": 0.31, "gradcam": -0.05}), METHODS)
    passed, similar = paragraphs(text)
    assert "Grad-CAM (rho -0.05)" in passed and "seed 7" in passed
    assert "Saliency (rho 0.31)" in similar
    assert "every method" not in text
    text = sanity.verdict_text(made({"gradcam": 0.01, "occlusion": None}), METHODS)
    assert "Stay similar" not in text and "Occlusion (its map went blank)" in text
    text = sanity.verdict_text(made({"saliency": 0.9}), METHODS)
    assert "**Pass**" not in text and "Saliency (rho 0.90)" in text


def paragraphs(text: str) -> tuple[str, str]:
    parts = text.split("\n\n")
    passed = next((p for p in parts if p.startswith("**Pass**")), "")
    similar = next((p for p in parts if p.startswith("**Stay similar**")), "")
    return passed, similar


@pytest.mark.parametrize("seed", [0, 1])
def test_on_the_default_lenet_the_text_agrees_with_the_correlations(seed):
    model, x, label = digit_input()
    methods = ["saliency", "guided_backprop", "gradcam"]  # the page's default
    result = sanity.cascading_randomization(model, x, methods, Params(seed=seed), label)
    passed, similar = paragraphs(sanity.verdict_text(result, METHODS))
    for m in methods:
        final = result.correlations[m][-1]
        shown = "its map went blank" if final is None else f"rho {final:.2f}"
        said = f"{METHODS[m]} ({shown})"
        where = passed if final is None or abs(final) < 0.2 else similar
        assert said in where, (m, final, passed, similar)
    assert sum(len(re.findall(r"\(rho |\(its map", p)) for p in (passed, similar)) == 3
