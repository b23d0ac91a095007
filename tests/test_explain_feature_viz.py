"""cnnviz.explain.feature_viz against plain forward passes: each optimized image excites its
channel more than any validation digit does, a class visualization is classified as that
class, the same seed gives the same image, the shared model is left exactly as found, the
limits are refused and a stop lands."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from cnnviz.errors import DoesNotFit, OutOfBounds, UnknownLayer
from cnnviz.explain import feature_viz, limits, models, reference_images
from cnnviz.explain.feature_viz import LOGITS, Settings
from cnnviz.jobs import Stopped


@pytest.fixture(scope="module")
def lenet() -> models.Explained:
    return models.default()


@pytest.fixture(scope="module")
def digits_val() -> np.ndarray:
    return reference_images.digit_validation()[0]


def forward(model: models.Explained, pictures: np.ndarray, layer: str) -> torch.Tensor:
    """The oracle: model.preprocess and the network, a hook on `layer`, mean over the map."""
    rows = []  # one picture at a time: no batching shortcut
    with model.borrow() as net:
        for p in pictures:
            x = model.preprocess(torch.from_numpy(np.ascontiguousarray(p)))
            kept: list[torch.Tensor] = []
            if layer == LOGITS:
                with torch.no_grad():
                    out = net(x)
            else:
                sub = dict(net.named_modules())[layer]
                h = sub.register_forward_hook(lambda _m, _i, o, kept=kept: kept.append(o))
                with torch.no_grad():
                    net(x)
                h.remove()
                out = kept[0]
            rows.append(out.flatten(2).mean(2)[0] if out.ndim == 4 else out[0])
    return torch.stack(rows)


@pytest.mark.parametrize(("layer", "channels"), [("c3", [0, 5, 11]), ("c5", [3, 60])])
def test_optimized_image_beats_every_validation_digit(lenet, digits_val, layer, channels):
    viz = feature_viz.visualize(lenet, layer, channels, Settings(steps=192, seed=1))
    assert viz.images.shape == (len(channels), 32, 32, 3) and viz.images.dtype == np.uint8
    mine = forward(lenet, viz.images, layer)
    theirs = forward(lenet, digits_val, layer)
    for i, c in enumerate(channels):
        assert viz.activations[i] == pytest.approx(float(mine[i, c]), abs=1e-5)
        assert float(mine[i, c]) > float(theirs[:, c].max()), (c, mine[i, c], theirs[:, c].max())
    top = feature_viz.top_images(lenet, layer, channels, digits_val, 5)
    for j, c in enumerate(channels):
        order = torch.argsort(theirs[:, c], descending=True)[:5].tolist()
        assert top.indices[j] == order
        assert top.activations[j] == pytest.approx(theirs[order, c].tolist(), abs=1e-5)
        assert top.maximum[j] == pytest.approx(float(theirs[:, c].max()), abs=1e-5)


def test_class_visualization_is_classified_as_that_class(lenet):
    classes = [0, 3, 7, 9]
    viz = feature_viz.visualize(lenet, LOGITS, classes, Settings(steps=192, seed=0))
    with lenet.borrow() as net, torch.no_grad():
        x = torch.cat([lenet.preprocess(torch.from_numpy(p)) for p in viz.images])
        probs = torch.softmax(net(x), dim=1)
    for i, c in enumerate(classes):
        assert int(probs[i].argmax()) == c
        assert float(probs[i, c]) > 0.9


def test_same_seed_same_image_other_seed_another(lenet):
    one = feature_viz.visualize(lenet, "c3", [2], Settings(steps=20, seed=7))
    two = feature_viz.visualize(lenet, "c3", [2], Settings(steps=20, seed=7))
    three = feature_viz.visualize(lenet, "c3", [2], Settings(steps=20, seed=8))
    assert np.array_equal(one.images, two.images)
    assert one.activations == two.activations
    assert not np.array_equal(one.images, three.images)


def test_the_global_random_state_is_untouched(lenet):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    feature_viz.visualize(lenet, "c1", [0], Settings(steps=5, seed=0))
    assert torch.equal(torch.rand(3), expected)


def test_the_shared_model_is_left_exactly_as_found(lenet, digits_val):
    raw = models._default()[0]  # the one LeNet-5 every session borrows
    raw.c3.train()  # a mode the visualization changes (it runs in eval) must come back
    try:
        state = {k: v.clone() for k, v in raw.state_dict().items()}
        flags = [p.requires_grad for p in raw.parameters()]
        modes = [m.training for m in raw.modules()]
        feature_viz.visualize(lenet, "c3", [1, 2], Settings(steps=10))
        feature_viz.top_images(lenet, "c3", [1, 2], digits_val[:20], 3)
        assert [p.requires_grad for p in raw.parameters()] == flags
        assert [m.training for m in raw.modules()] == modes
        assert all(p.grad is None for p in raw.parameters())
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in raw.modules())
        after = raw.state_dict()
        assert all(torch.equal(after[k], v) for k, v in state.items())
    finally:
        raw.c3.eval()


def test_a_stop_lands_within_a_step_and_leaves_no_hook(lenet):
    calls = []

    def report(*, step=None, total=None, message=None, metrics=None):
        calls.append(step)
        if step == 3:
            raise Stopped

    with pytest.raises(Stopped):
        feature_viz.visualize(lenet, "c5", [0], Settings(steps=50), report=report)
    assert calls == [0, 1, 2, 3]
    raw = models._default()[0]
    assert all(not m._forward_hooks for m in raw.modules())


def test_progress_is_reported_every_step(lenet):
    seen = []
    feature_viz.visualize(lenet, "c1", [0], Settings(steps=7), report=lambda **kw: seen.append(kw))
    assert [kw["step"] for kw in seen] == list(range(8))
    assert all(kw["total"] == 7 for kw in seen)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channels": [0], "settings": Settings(steps=limits.FEATURE_VIZ_STEPS.high + 1)},
         OutOfBounds),
        ({"channels": [0], "settings": Settings(steps=0)}, OutOfBounds),
        ({"channels": list(range(limits.FEATURE_VIZ_CHANNELS.high + 1))}, OutOfBounds),
        ({"channels": []}, OutOfBounds),
        ({"channels": [16]}, OutOfBounds),  # c3 has 16 channels
        ({"channels": [0], "settings": Settings(side=64)}, DoesNotFit),  # LeNet: 32 px only
        ({"channels": [0], "settings": Settings(seed=-1)}, OutOfBounds),
    ],
)  # fmt: skip
def test_limits_are_refused(lenet, kwargs, error):
    with pytest.raises(error):
        feature_viz.visualize(lenet, "c3", **kwargs)


def test_unknown_layer_and_top_k_limit(lenet, digits_val):
    with pytest.raises(UnknownLayer):
        feature_viz.visualize(lenet, "c9", [0], Settings(steps=2))
    with pytest.raises(OutOfBounds):
        feature_viz.top_images(lenet, "c3", [0], digits_val, limits.FEATURE_VIZ_TOP.high + 1)
    with pytest.raises(OutOfBounds):  # class 10 of 10
        feature_viz.visualize(lenet, LOGITS, [10], Settings(steps=2))


def test_side_of_an_imagenet_network_is_bounded_and_used():
    resnet = models.imagenet("resnet18", pretrained=False)
    with pytest.raises(OutOfBounds):
        feature_viz.visualize(resnet, "layer1", [0], Settings(steps=1, side=8))
    viz = feature_viz.visualize(resnet, "layer2.0", [0, 1], Settings(steps=3, side=48))
    assert viz.images.shape == (2, 48, 48, 3)
    pictures, names = reference_images.photo_crops(48)
    assert pictures.shape == (40, 48, 48, 3) and len(names) == 40
    top = feature_viz.top_images(resnet, "layer2.0", [0, 1], pictures, 3)
    assert len(top.indices) == 2 and all(len(i) == 3 for i in top.indices)


def test_the_differentiable_input_matches_the_models_normalization(lenet):
    """The probed affine map equals LeNet-5's preprocessing on its 32 px images (gray, then
    standardized), and torchvision's ImageNet normalization for ResNet-18 (its weights' own
    mean and std)."""
    rng = np.random.default_rng(0)
    pic = torch.from_numpy(rng.integers(0, 256, (3, 32, 32), dtype=np.uint8))
    got = feature_viz.input_map(lenet)(pic.float().unsqueeze(0) / 255)
    assert torch.allclose(got, lenet.preprocess(pic), atol=1e-5)
    resnet = models.imagenet("resnet18", pretrained=False, image_size=64)
    t = models._imagenet_weights("resnet18").transforms()
    mean, std = torch.tensor(t.mean).view(1, 3, 1, 1), torch.tensor(t.std).view(1, 3, 1, 1)
    x = pic.float().unsqueeze(0) / 255
    assert torch.allclose(feature_viz.input_map(resnet)(x), (x - mean) / std, atol=1e-5)


# --- the Explain page's tab (AppTest) ---------------------------------------------------------
PAGE = "pages/explain.py"


def run_job(at, done: str, tries: int = 240):
    at.button(key="explain_fv_job_start").click().run()
    for _ in range(tries):
        if any(done in c.value for c in at.caption):
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def image_captions(at) -> list[str]:
    """The captions of the tab's images (the page's own image of the input comes first)."""
    captions = [i.caption for el in at.get("image") for i in el.proto.imgs]
    first = next(k for k, c in enumerate(captions) if c.startswith("optimized: "))
    return captions[first:]


def test_the_tab_optimizes_lenet_channels_as_a_job(open_page):
    at = open_page(PAGE)
    at.selectbox(key="explain_fv_layer_lenet5_digits").set_value("c3").run()
    at.multiselect(key="explain_fv_channels_lenet5_digits_c3").set_value([2, 9]).run()
    at.number_input(key="explain_fv_steps").set_value(120).run()
    at.number_input(key="explain_fv_top").set_value(3).run()
    assert not at.exception
    assert at.button(key="explain_fv_job_start").label == "Optimize the images (2 channels)"
    run_job(at, "measured on the 8-bit image")
    titles = [m.value for m in at.markdown]
    assert "**c3 channel 2**" in titles and "**c3 channel 9**" in titles
    captions = image_captions(at)
    assert len(captions) == 2 * (1 + 3)
    # Per channel: the optimized image's activation beats the best validation digit's.
    for row in (captions[:4], captions[4:]):
        assert row[0].startswith("optimized: ")
        mine = float(row[0].split(": ")[1])
        best = max(float(c.rsplit(": ", 1)[1]) for c in row[1:])
        assert mine > best, row


def test_the_tab_on_an_imagenet_network_with_random_weights(open_page):
    at = open_page(PAGE)
    at.radio(key="explain_source").set_value("imagenet").run()
    at.toggle(key="explain_random").set_value(True).run()
    key = "resnet18:seed0"
    at.number_input(key=f"explain_fv_side_{key}").set_value(32).run()
    at.selectbox(key=f"explain_fv_layer_{key}").set_value("logits").run()
    at.multiselect(key=f"explain_fv_channels_{key}_logits").set_value([1]).run()
    at.number_input(key="explain_fv_steps").set_value(2).run()
    at.number_input(key="explain_fv_top").set_value(2).run()
    assert not at.exception
    run_job(at, "crops of the built-in photos")
    assert any(m.value.startswith("**class 1 (") for m in at.markdown)
    assert len(image_captions(at)) == 3
