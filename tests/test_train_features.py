"""The linear probe: features extracted once equal the backbone's penultimate output, and the
head trained on cached features equals the head trained with the backbone's forward every
batch (the naive loop, a second method)."""

from __future__ import annotations

import pytest
import torch
from train_cases import Recorder, one_thread, tiny  # noqa: F401

from cnnviz.data import normalize, stratified_split
from cnnviz.train.backbones import build, freeze, spec
from cnnviz.train.features import extract, linear_probe, without_head
from cnnviz.train.steps import Epochs

pytestmark = pytest.mark.usefixtures("one_thread")


def test_extracted_features_are_the_heads_input() -> None:
    model = build(spec("resnet18"), "none", 2).eval()
    images = tiny(n_per_class=3, side=32).images
    with without_head(model, spec("resnet18")) as body:
        features = extract(body, images, torch.device("cpu"), batch_size=4)
    assert model.fc.out_features == 2  # the head is back
    # Oracle: torchvision's ResNet forward written out, up to the average pool.
    x = normalize(images)
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
        expected = torch.flatten(model.avgpool(x), 1)
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5)


def _probe(cached: bool) -> tuple[torch.Tensor, list[dict[str, float]]]:
    data = tiny(n_per_class=5, classes=3, side=16)
    model = build(spec("mobilenet_v3_small"), "none", 3, seed=4)
    freeze(model, spec("mobilenet_v3_small"), "linear")
    train, val = stratified_split(data.labels, 0.2, 0)
    report = Recorder()
    tracker = Epochs(report, 4)
    linear_probe(
        model, spec("mobilenet_v3_small"), data.images, data.labels, train, val,
        device=torch.device("cpu"), epochs=4, batch_size=4, lr=0.01, seed=0,
        report=report, tracker=tracker, cached=cached,
    )  # fmt: skip
    return model.classifier[3].weight.detach().clone(), tracker.history


def test_cached_features_train_the_same_head_as_the_naive_loop() -> None:
    cached, cached_history = _probe(cached=True)
    naive, naive_history = _probe(cached=False)
    start = build(spec("mobilenet_v3_small"), "none", 3, seed=4).classifier[3].weight
    assert not torch.allclose(cached, start)  # the head did learn
    torch.testing.assert_close(cached, naive, rtol=1e-4, atol=1e-5)
    for a, b in zip(cached_history, naive_history, strict=True):
        assert a["val_accuracy"] == b["val_accuracy"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
