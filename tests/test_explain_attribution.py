"""captum's attributions against oracles: autograd for Saliency, completeness for Integrated
Gradients, the layer's grid and a hand-made Grad-CAM, a model blind to half the image for
Occlusion; and every method leaves the shared model exactly as found."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz.errors import OutOfBounds, UnknownLayer
from cnnviz.explain import attribution, feature_maps, models
from cnnviz.explain.attribution import METHODS, Params
from tests.explain_cases import (
    RESNET_SIDE,
    assert_same,
    default_net,
    digit_input,
    resnet,
    shared_resnet,
    state,
)

FAST = Params(steps=8, samples=4, window=16, stride=16)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_lenet_digits_has_the_right_shape_and_leaves_the_model_as_found(method):
    model, x, _ = digit_input()
    before = state(default_net())
    a = attribution.attribute(model, x, method, params=Params(steps=8, samples=4))
    assert_same(before, state(default_net()))
    if method == "gradcam":  # the layer's own grid, before upsampling: s4 is 16 x 5 x 5
        assert a.layer == "s4" and a.map.shape == (1, 1, 5, 5)
    else:
        assert a.map.shape == tuple(x.shape) == (1, 1, 32, 32)
    assert np.isfinite(a.map).all() and np.abs(a.map).sum() > 0
    assert attribution.heatmap(a, 32).shape == (32, 32)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_resnet18_leaves_the_shared_model_as_found(method):
    model, x = resnet()
    net = shared_resnet()
    before = state(net)
    a = attribution.attribute(model, x, method, target=3, params=FAST)
    assert_same(before, state(net))
    assert shared_resnet() is net  # still the one shared model: not copied, not dropped
    layer_grid = (1, 1, math.ceil(RESNET_SIDE / 32), math.ceil(RESNET_SIDE / 32))
    assert a.map.shape == (layer_grid if method == "gradcam" else (1, 3, RESNET_SIDE, RESNET_SIDE))
    assert a.target == 3


def test_saliency_is_the_absolute_input_gradient():
    model, x, label = digit_input()
    a = attribution.attribute(model, x, "saliency", target=label)
    inp = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(default_net()(inp)[0, label], inp)
    np.testing.assert_allclose(a.map, grad.abs().numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("baseline", attribution.BASELINES)
def test_integrated_gradients_are_complete(baseline):
    """Sum of attributions = f(x) - f(baseline), within captum's convergence delta."""
    model, x, label = digit_input()
    a = attribution.attribute(
        model, x, "integrated_gradients", label, Params(steps=64, baseline=baseline)
    )
    base = attribution.baseline_of(model, x, baseline)
    with torch.no_grad():
        gap = float(default_net()(x)[0, label] - default_net()(base)[0, label])
    assert abs(gap) > 1  # the test means something: the class score really moves
    assert a.delta is not None and a.delta < 0.01 * abs(gap)
    assert abs(a.map.sum() - gap) <= a.delta + 1e-4


def test_gradcam_is_the_gradient_weighted_sum_of_the_layers_maps():
    """Selvaraju et al.: ReLU(sum_k mean(d y / d A_k) A_k), at the layer's own grid."""
    model, x, label = digit_input()
    a = attribution.attribute(model, x, "gradcam", label, Params(layer="c3"))
    net = default_net()
    acts = net[:4](x).detach().requires_grad_(True)  # c1 tanh1 s2 c3: c3's output
    (grad,) = torch.autograd.grad(net[4:](acts)[0, label], acts)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * acts).sum(1, keepdim=True))
    assert a.map.shape == (1, 1, 10, 10) == tuple(cam.shape)
    np.testing.assert_allclose(a.map, cam.detach().numpy(), rtol=1e-4, atol=1e-6)


class LeftHalf(nn.Module):
    """Scores from the left half of the image only: the right half matters not at all."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = x[..., : x.shape[-1] // 2].sum(dim=(1, 2, 3))
        return torch.stack([left, -left], dim=1)


def test_occlusion_gives_zero_where_nothing_matters():
    net = LeftHalf()
    model = models._private(models.default(), net, ["a", "b"], lambda b: b.float(), "left")
    x = torch.rand(1, 1, 32, 32) + 0.5
    a = attribution.attribute(model, x, "occlusion", 0, Params(window=4, stride=4))
    assert np.all(a.map[..., 16:] == 0)
    # Each 4x4 patch on the left (windows do not overlap) drops the score by its own sum,
    # which each of its pixels gets.
    sums = x[0, 0, :, :16].reshape(8, 4, 4, 4).sum(dim=(1, 3))
    expected = sums.repeat_interleave(4, 0).repeat_interleave(4, 1)
    np.testing.assert_allclose(a.map[0, 0, :, :16], expected.numpy(), rtol=1e-5)


def test_bad_target_layer_and_settings_are_refused():
    model, x, _ = digit_input()
    with pytest.raises(OutOfBounds, match="outside"):
        attribution.attribute(model, x, "saliency", target=10)
    with pytest.raises(OutOfBounds, match="no class"):
        attribution.attribute(model, x, "saliency", target="ten")
    with pytest.raises(UnknownLayer):
        attribution.attribute(model, x, "gradcam", params=Params(layer="c9"))
    with pytest.raises(OutOfBounds, match="steps"):
        attribution.attribute(model, x, "integrated_gradients", params=Params(steps=10_000))
    big, photo = resnet()  # 64 x 64: a 1-pixel window every pixel is 4,096 passes
    with pytest.raises(OutOfBounds, match="occlusion windows"):
        attribution.attribute(big, photo, "occlusion", params=Params(window=1, stride=1))


def test_default_gradcam_layer_is_the_last_spatial_one():
    model, x = resnet()
    layers = feature_maps.spatial_layers(model, x)
    assert feature_maps.default_layer(layers) == "layer4"
    assert layers["layer4"] == (512, 2, 2) and layers["conv1"] == (64, 32, 32)


def test_smoothgrad_with_a_seed_is_captums_noise_tunnel_under_that_torch_seed():
    """The page's SmoothGrad draws from its own generator: the same map as captum's
    NoiseTunnel(Saliency) after torch.manual_seed(seed), the same twice, another with another
    seed, and the global RNG left alone."""
    from captum.attr import NoiseTunnel, Saliency

    model, x, label = digit_input()
    p = Params(samples=20, noise=15, seed=7)  # 20: a batch of 16, then 4
    rng = torch.get_rng_state()
    one = attribution.attribute(model, x, "smoothgrad", label, p)
    assert torch.equal(rng, torch.get_rng_state())
    two = attribution.attribute(model, x, "smoothgrad", label, p)
    assert np.array_equal(one.map, two.map)
    other = attribution.attribute(model, x, "smoothgrad", label, Params(samples=20, seed=8))
    assert not np.allclose(one.map, other.map)
    stdev = 0.15 * float(x.max() - x.min())
    with model.borrow() as net:
        torch.manual_seed(7)
        ref = NoiseTunnel(Saliency(net)).attribute(
            x.clone().requires_grad_(True), nt_type="smoothgrad", nt_samples=20,
            nt_samples_batch_size=16, stdevs=stdev, target=label,
        )  # fmt: skip
        for q in net.parameters():
            q.grad = None
    np.testing.assert_allclose(one.map, ref.detach().numpy(), rtol=1e-5, atol=1e-8)


def test_a_seed_out_of_range_is_refused():
    model, x, _ = digit_input()
    with pytest.raises(OutOfBounds, match="seed"):
        attribution.attribute(model, x, "smoothgrad", params=Params(seed=-1))
