"""The experiments' layers against torch itself: Gaussian noise and dropout (identity in eval,
the stated statistics in train), LeNet-5 with noise (the registry's parameters, nothing more),
the residual block's skip (zero weights -> the input passes unchanged), batched rotation."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from cnnviz import registry
from cnnviz.analysis import analyze
from cnnviz.experiments.affine import affine_batch
from cnnviz.experiments.layers import (
    Block,
    Dropout,
    GaussianNoise,
    depth_net,
    noisy_lenet,
    seed,
)


def generator(s: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(s)


def test_gaussian_noise_is_identity_in_eval_and_has_its_std_in_train() -> None:
    x = torch.rand(64, 8, 16, 16)
    layer = seed(GaussianNoise(0.5), generator())
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    noise = layer(x) - x
    assert noise.std().item() == pytest.approx(0.5, rel=0.01)  # 131,072 draws
    assert noise.mean().item() == pytest.approx(0.0, abs=0.01)
    assert torch.equal(seed(GaussianNoise(0.0), generator()).train()(x), x)


def test_noise_draws_come_from_the_generator_not_the_global_rng() -> None:
    x = torch.zeros(4, 10)
    a = seed(GaussianNoise(1.0), generator(7))(x)
    torch.manual_seed(123)  # the global RNG moved: the layer's draws must not
    b = seed(GaussianNoise(1.0), generator(7))(x)
    assert torch.equal(a, b)
    assert torch.equal(a, torch.randn(4, 10, generator=generator(7)))


def test_dropout_matches_nn_dropout_statistics() -> None:
    x = torch.ones(200, 500)
    layer = seed(Dropout(0.3), generator())
    assert torch.equal(layer.eval()(x), nn.Dropout(0.3).eval()(x))
    out = layer.train()(x)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.7))  # nn.Dropout's scaling
    assert (out == 0).float().mean().item() == pytest.approx(0.3, abs=0.005)
    with pytest.raises(ValueError):
        Dropout(1.0)


@pytest.mark.parametrize("kind", ["input", "hidden", "dropout"])
def test_noisy_lenet_is_the_registry_lenet_plus_parameter_free_noise(kind: str) -> None:
    model = noisy_lenet(kind, 0.5)
    lenet = registry.build("lenet5", input_size=(1, 32, 32))
    assert sum(p.numel() for p in model.parameters()) == analyze("lenet5").total_params
    noise = [m for m in model.modules() if isinstance(m, GaussianNoise | Dropout)]
    assert len(noise) == (1 if kind == "input" else 2)
    # In eval mode the noise is off: the same weights give the registry network's output.
    model.load_state_dict(lenet.state_dict())
    x = torch.rand(3, 1, 32, 32)
    assert torch.allclose(model.eval()(x), lenet.eval()(x))


@pytest.mark.parametrize("batch_norm", [True, False])
def test_residual_skip_is_an_identity(batch_norm: bool) -> None:
    """Zero every conv weight of the blocks: F(x) = 0, so a residual net is its stem and head
    alone, whatever its depth, while the plain one loses its signal."""
    x = torch.rand(5, 1, 32, 32)
    for kind in ("residual", "plain"):
        net = depth_net(kind, 32, width=8, batch_norm=batch_norm).eval()
        for module in net.modules():
            if isinstance(module, Block):
                for conv in (module.conv1, module.conv2):
                    nn.init.zeros_(conv.weight)
                    if conv.bias is not None:
                        nn.init.zeros_(conv.bias)
        without_blocks = nn.Sequential(
            *(m for name, m in net.named_children() if not name.startswith("block"))
        )
        if kind == "residual":
            assert torch.equal(net(x), without_blocks(x))
        else:
            fc_bias_only = net.fc.bias.expand(5, -1)
            assert torch.allclose(net(x), fc_bias_only)


def weighted_layers(model: nn.Module) -> int:
    """Conv and linear layers: the depth as He et al. count it."""
    return sum(isinstance(m, nn.Conv2d | nn.Linear) for m in model.modules())


@pytest.mark.parametrize("depth", [4, 8, 32, 56])
def test_depth_counts_weighted_layers(depth: int) -> None:
    assert weighted_layers(depth_net("plain", depth)) == depth
    assert weighted_layers(depth_net("residual", depth)) == depth
    with pytest.raises(ValueError):
        depth_net("plain", 7)


@pytest.mark.parametrize("degrees", [30.0, -90.0, 180.0])
def test_batched_rotation_matches_torchvision(degrees: float) -> None:
    images = torch.rand(3, 1, 32, 32)
    ours = affine_batch(images, torch.full((3,), degrees))
    theirs = TF.rotate(images, degrees, interpolation=TF.InterpolationMode.BILINEAR)
    assert torch.allclose(ours, theirs, atol=1e-5)
