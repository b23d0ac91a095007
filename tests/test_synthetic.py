"""The synthetic backbone: the fractal corpus, a seeded pretraining that gives the same bytes
twice, and the shipped file (its checksum, its size, and that it beats random weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision

from cnnviz import synthetic
from cnnviz.data import BUILTIN
from cnnviz.synthetic import asset, fractals
from cnnviz.synthetic.__main__ import main as build_main
from cnnviz.train import FinetuneConfig, backbones, finetune


def test_every_map_is_a_contraction_in_the_sigma_band() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 4):
        maps = fractals.sample_system(rng, n)
        s = np.linalg.svd(maps[:, :, :2], compute_uv=False)  # n x 2, descending
        assert (s < 1).all()
        low, high = fractals._sigma_band(n)
        assert low <= float((s[:, 0] + 2 * s[:, 1]).sum()) <= high


def test_chaos_game_stays_on_the_attractor() -> None:
    """A contractive IFS keeps the walk bounded: |x| <= max|b| / (1 - max s1)."""
    rng = np.random.default_rng(1)
    maps = fractals.sample_system(rng, 3)
    points = fractals.chaos_game(maps, rng)
    s1 = np.linalg.svd(maps[:, :, :2], compute_uv=False)[:, 0].max()
    bound = np.linalg.norm(maps[:, :, 2], axis=1).max() / (1 - s1) + 2  # start in [-1, 1]^2
    assert np.isfinite(points).all()
    assert np.linalg.norm(points, axis=1).max() <= bound


def test_classes_cover_enough_of_the_grid_and_render_seeded() -> None:
    classes = fractals.sample_classes(3, np.random.default_rng(2), min_fill=0.12)
    for c in classes:
        assert fractals.fill_rate(fractals.chaos_game(c.maps, np.random.default_rng(3))) >= 0.1
    a = fractals.render_instance(classes[0], np.random.default_rng(4), 32, low_resolution=0.5)
    b = fractals.render_instance(classes[0], np.random.default_rng(4), 32, low_resolution=0.5)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert a.std() > 0  # a shape on a background, not a flat image


def test_the_same_recipe_gives_the_same_bytes(tmp_path) -> None:
    """`python -m cnnviz.synthetic` twice with one (tiny) recipe: identical files."""
    tiny = ["--classes", "3", "--images-per-class", "4", "--side", "16", "--epochs", "1"]
    tiny += ["--batch-size", "4"]
    for run in ("a", "b"):
        assert build_main(["--out", str(tmp_path / run), *tiny]) == 0
    cards = [json.loads((tmp_path / run / asset.RECIPE_PATH.name).read_text()) for run in "ab"]
    assert cards[0]["sha256"] == cards[1]["sha256"]
    assert cards[0]["images"] == 12 and cards[0]["recipe"]["side"] == 16
    files = [(tmp_path / run / asset.WEIGHTS_PATH.name).read_bytes() for run in "ab"]
    assert files[0] == files[1]
    state = torch.load(tmp_path / "a" / asset.WEIGHTS_PATH.name, weights_only=True)
    assert state["conv1.weight"].dtype == torch.float16
    assert not any(k.startswith("fc.") for k in state)


needs_asset = pytest.mark.skipif(
    not synthetic.available(), reason="assets/resnet18_synthetic.pt not built (make assets)"
)


@needs_asset
def test_the_shipped_file_is_the_one_its_card_describes() -> None:
    card = synthetic.card()
    assert asset.sha256(asset.WEIGHTS_PATH) == card["sha256"]
    assert asset.WEIGHTS_PATH.stat().st_size == card["bytes"] < 25 * 2**20
    recipe = card["recipe"]
    assert card["images"] == recipe["classes"] * recipe["images_per_class"]


@needs_asset
def test_the_shipped_file_fills_every_layer_of_resnet18_but_the_head() -> None:
    state = synthetic.load_state()
    own = torchvision.models.resnet18().state_dict()
    assert set(own) - set(state) == {"fc.weight", "fc.bias"}
    assert all(state[k].shape == own[k].shape for k in state)
    model = backbones.build(backbones.spec("resnet18"), "synthetic", 4)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert model.fc.out_features == 4


# The shipped backbone must beat random initialization on textures by this much (linear probe,
# seed 0, 32 px, the page's CPU default): a broken or truncated asset falls to random's level.
MARGIN = 0.15


@needs_asset
def test_the_shipped_file_beats_random_weights_on_textures() -> None:
    data = BUILTIN["textures"](32)
    accuracy = {}
    for weights in ("none", "synthetic"):
        config = FinetuneConfig(
            weights=weights, strategy="linear", epochs=15, image_size=32, seed=0, device="cpu"
        )
        accuracy[weights] = finetune(data, config, report=lambda **_: None).val_accuracy
    assert accuracy["synthetic"] >= accuracy["none"] + MARGIN, accuracy


def test_synthetic_weights_only_for_resnet18() -> None:
    from cnnviz.errors import UnknownModel

    with pytest.raises(UnknownModel, match="resnet18"):
        FinetuneConfig(backbone="alexnet", weights="synthetic", image_size=64)
