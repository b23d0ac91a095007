"""finetune: a few steps of each strategy on tiny data, what each strategy freezes, the
progress it reports, and a digits run that must reach a stated accuracy."""

from __future__ import annotations

import pickle

import pytest
import torch
import torchvision
from train_cases import Recorder, one_thread, tiny  # noqa: F401

from cnnviz.data import digits, stratified_split
from cnnviz.train import FinetuneConfig, FinetuneResult, estimate, finetune
from cnnviz.train.backbones import build, freeze, spec

pytestmark = pytest.mark.usefixtures("one_thread")


def _config(**kw: object) -> FinetuneConfig:
    base = {"backbone": "mobilenet_v3_small", "weights": "none", "image_size": 16, "batch_size": 4}
    return FinetuneConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["linear", "last", "full"])
def test_each_strategy_runs_and_reports(strategy: str) -> None:
    data = tiny()
    report = Recorder()
    result = finetune(data, _config(strategy=strategy, epochs=2), report=report)
    assert isinstance(result, FinetuneResult) and not result.stopped
    assert [h["epoch"] for h in result.history] == [1, 2]
    _, val = stratified_split(data.labels, 0.2, 0)
    assert result.val_indices == val.tolist()
    assert len(result.val_predictions) == len(val)
    assert sum(map(sum, result.confusion)) == len(val)
    assert result.val_accuracy == result.history[-1]["val_accuracy"]
    epochs = [m for m in report.metrics() if "batch" not in m]
    assert epochs == result.history
    batch_points = [m for m in report.metrics() if "batch" in m]
    if strategy == "linear":
        assert batch_points == []
        assert report.calls[0]["message"] == "Extracting features"
    else:
        n_batches = 3  # 10 training images in batches of 4, 4 and 2
        assert [m["batch"] for m in batch_points] == list(range(1, 2 * n_batches + 1))
        assert batch_points[-1]["epoch"] == pytest.approx(2.0)
        steps = [c for c in report.calls if "batch" in (c.get("metrics") or {})]
        assert steps[-1]["step"] == steps[-1]["total"] == 2 * n_batches
        assert steps[0]["message"] == "Epoch 1 of 2"
    pickle.loads(pickle.dumps(result))  # a result crosses process boundaries


@pytest.mark.parametrize(
    ("strategy", "last_blocks", "trainable_paths"),
    [
        ("linear", 1, ["fc"]),
        ("last", 1, ["layer4", "fc"]),
        ("last", 2, ["layer3", "layer4", "fc"]),
        ("last", 5, ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"]),
        ("full", 1, [""]),
    ],
)
def test_frozen_parameters_per_strategy(
    strategy: str, last_blocks: int, trainable_paths: list[str]
) -> None:
    # Oracle: torchvision's own resnet18 with a 3-class head, parameters counted per module.
    reference = torchvision.models.resnet18(num_classes=3)
    expected = sum(
        p.numel() for path in trainable_paths for p in reference.get_submodule(path).parameters()
    )
    model = build(spec("resnet18"), "none", 3)
    freeze(model, spec("resnet18"), strategy, last_blocks)
    counted = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counted == expected
    config = FinetuneConfig(
        backbone="resnet18",
        weights="none",
        strategy=strategy,
        last_blocks=last_blocks,
        image_size=16,
        batch_size=4,
    )
    guess = estimate(tiny(classes=3), config)
    assert guess.trainable_parameters == expected
    assert guess.total_parameters == sum(p.numel() for p in reference.parameters())
    assert guess.seconds > 0 and guess.device == "cpu"


def test_frozen_layers_do_not_change() -> None:
    data = tiny()
    result = finetune(data, _config(strategy="last", last_blocks=1, epochs=1), report=Recorder())
    start = build(spec("mobilenet_v3_small"), "none", 2).state_dict()
    after = result.state_dict
    changed = {".".join(k.split(".")[:2]) for k in start if not torch.equal(start[k], after[k])}
    # The last block of mobilenet_v3_small is classifier.0 (576 -> 1024), the head classifier.3.
    assert changed == {"classifier.0", "classifier.3"}


def test_digits_linear_probe_reaches_90_percent() -> None:
    # Random (untrained) ResNet-18 features of 16x16 digits, a linear head: 95 % here (seed 0).
    config = FinetuneConfig(
        backbone="resnet18",
        weights="none",
        strategy="linear",
        epochs=30,
        image_size=16,
        batch_size=128,
    )
    result = finetune(digits(16), config, report=Recorder())
    assert result.val_accuracy >= 0.9
    assert min(v for v in result.per_class_accuracy.values() if v is not None) >= 0.7


def test_the_estimate_of_a_probe_whose_features_are_stored_counts_no_extraction(tmp_path) -> None:
    """After one run put the features in the store, the next run's estimate says so and is
    the model's build, not a pass over the images (oracle: the run itself reads them)."""
    from cnnviz.store import Store

    data = tiny(classes=3, n_per_class=40)
    config = FinetuneConfig(
        backbone="resnet18", weights="none", strategy="linear", image_size=64, batch_size=8,
        epochs=1, device="cpu",
    )  # fmt: skip
    store = Store(tmp_path / "store", 2**30)  # 120 images at 64 px: a pass of about a second
    before = estimate(data, config, store)
    assert not before.features_stored
    first = finetune(data, config, report=Recorder(), store=store)
    assert "features" in first.timings
    after = estimate(data, config, store)
    assert after.features_stored and after.seconds < before.seconds
    second = finetune(data, config, report=Recorder(), store=store)
    assert "features_from_store" in second.timings
    assert (after.trainable_parameters, after.total_parameters) == (
        before.trainable_parameters, before.total_parameters)  # fmt: skip


def test_the_probe_is_timed_once_per_choice_it_depends_on(monkeypatch) -> None:
    """A class opening the page with the same choices costs one probe: a second estimate with
    another seed or learning rate builds no model and says the same; another image size or
    strategy is timed again (oracle: the builds counted, the seconds per image)."""
    import importlib
    from dataclasses import replace

    module = importlib.import_module("cnnviz.train.estimate")
    monkeypatch.setattr(module, "_timings", type(module._timings)())
    builds: list[str] = []
    real_build = module.backbones.build

    def counted(backbone, *args, **kwargs):
        builds.append(backbone.name)
        return real_build(backbone, *args, **kwargs)

    monkeypatch.setattr(module.backbones, "build", counted)
    data = tiny(classes=3, n_per_class=8)
    config = FinetuneConfig(backbone="resnet18", weights="none", strategy="full", image_size=16,
                            batch_size=4, epochs=2, device="cpu")  # fmt: skip
    first = estimate(data, config)
    again = estimate(data, replace(config, seed=3, lr=0.01))
    assert builds == ["resnet18"] and again.seconds == first.seconds
    three_epochs = estimate(data, replace(config, epochs=3))
    assert builds == ["resnet18"] and three_epochs.seconds == pytest.approx(first.seconds * 1.5)
    estimate(data, replace(config, image_size=24))
    estimate(data, replace(config, strategy="linear"))
    assert builds == ["resnet18"] * 3
