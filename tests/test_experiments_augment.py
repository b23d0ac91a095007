"""Augmentation vs none records training accuracy beside validation accuracy, and its figure
shows both (training dashed, validation solid) on a 0-100 % axis: the overfitting that
augmentation prevents is the gap between a setting's two lines."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from cnnviz.experiments import EXPERIMENTS, augment_vs_none, digits32
from cnnviz.experiments.fit import no_report
from cnnviz.plots.experiments import augment_figure


@pytest.fixture(scope="module")
def trained() -> tuple[dict, list[torch.nn.Module], augment_vs_none.AugmentConfig]:
    """The tiny run, and the two networks it trained (caught as the registry builds them)."""
    config = replace(EXPERIMENTS["augment"].configure("tiny", 0))
    models: list[torch.nn.Module] = []
    build = augment_vs_none.registry.build

    def catching(*args, **kwargs):
        model = build(*args, **kwargs)
        models.append(model)
        return model

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(augment_vs_none.registry, "build", catching)
        doc = augment_vs_none.run_augment(config, report=no_report)
    return doc, models, config


def test_training_accuracy_is_the_trained_networks_own(trained) -> None:
    """The last epoch's training accuracy is the final network's accuracy on the training
    images as they are (not augmented), counted here with torch directly."""
    doc, models, config = trained
    data = digits32.load(config.seed, train_per_class=config.train_per_class)
    assert len(models) == len(doc["runs"]) == 2
    for run, model in zip(doc["runs"], models, strict=True):
        model.eval()
        with torch.no_grad():
            predicted = model(data.train_x).argmax(1)
        correct = int((predicted == data.train_y).sum())
        expected = correct / data.train_y.numel()
        assert run["history"][-1]["train_accuracy"] == pytest.approx(expected, abs=1e-6)
        # Counts of whole images: a multiple of 1/n, not a running average over batches.
        n = data.train_y.numel()
        for row in run["history"]:
            assert row["train_accuracy"] * n == pytest.approx(round(row["train_accuracy"] * n))


def test_figure_has_training_and_validation_per_setting(trained) -> None:
    doc, _, _ = trained
    fig = augment_figure(doc["runs"])
    names = [t.name for t in fig.data]
    assert names == [
        "not augmented: training",
        "not augmented: validation",
        "augmented: training",
        "augmented: validation",
    ]
    dashes = {t.name.split(": ")[1]: t.line.dash for t in fig.data}
    assert dashes == {"training": "dash", "validation": "solid"}
    for trace, (run, metric) in zip(
        fig.data,
        [(r, m) for r in doc["runs"] for m in ("train_accuracy", "val_accuracy")],
        strict=True,
    ):
        assert list(trace.y) == [h[metric] for h in run["history"]]
    low, high = fig.layout.yaxis.range
    assert low == 0 and 1 <= high <= 1.05
    assert fig.layout.yaxis.tickformat == ".0%"


def test_figure_of_an_older_document_shows_validation_only() -> None:
    history = [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.6}]
    fig = augment_figure([{"augment": False, "history": history}])
    assert [t.name for t in fig.data] == ["not augmented: validation"]
