"""Experiment 1, only the desired invariance: LeNet-5 trained on digits randomly rotated by up
to 0, 45, 90 or 180 degrees, validated on upright digits. A 6 turned half a turn is a 9: the
wider the rotation range, the more the network confuses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cnnviz import registry
from cnnviz.experiments import digits32
from cnnviz.experiments.affine import random_rotation
from cnnviz.experiments.fit import (
    Progress,
    Schedule,
    accuracy,
    init_weights,
    predict,
    train,
)
from cnnviz.jobs import Reporter


@dataclass(frozen=True)
class RotationConfig:
    schedule: Schedule
    seed: int = 0
    degrees: tuple[int, ...] = (0, 45, 90, 180)
    train_per_class: int | None = None  # None: the whole training split (about 126 a class)


SIZES = {
    "tiny": RotationConfig(degrees=(0, 180), train_per_class=30, schedule=Schedule(4, 32, 3e-3)),
    "quick": RotationConfig(schedule=Schedule(epochs=10, batch_size=32, lr=3e-3)),
    "full": RotationConfig(degrees=(0, 30, 45, 90, 135, 180), schedule=Schedule(25, 32, 1e-3)),
}


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """counts[true][predicted]."""
    flat = labels * classes + predicted
    return torch.bincount(flat, minlength=classes * classes).view(classes, classes)


def six_nine(confusion: list[list[int]]) -> float:
    """Share of the validation 6s and 9s taken for the other one."""
    swapped = confusion[6][9] + confusion[9][6]
    return swapped / max(sum(confusion[6]) + sum(confusion[9]), 1)


def run_name(degrees: int) -> str:
    return f"up to {degrees} degrees"


def run_rotation(config: RotationConfig, *, report: Reporter) -> dict[str, Any]:
    """{"runs": [{"max_degrees", "val_accuracy", "per_class_accuracy": {"0": ..}, "confusion"}]}"""
    data = digits32.load(config.seed, train_per_class=config.train_per_class)
    progress = Progress(report, len(config.degrees) * config.schedule.steps(data.train_y.numel()))
    runs = []
    for degrees in config.degrees:
        generator = torch.Generator().manual_seed(config.seed)  # same start for every range
        model = init_weights(registry.build("lenet5", input_size=(1, 32, 32)), generator)
        train(
            model,
            data.train_x,
            data.train_y,
            schedule=config.schedule,
            generator=generator,
            progress=progress,
            name=run_name(degrees),
            transform=random_rotation(degrees) if degrees else None,
            measure=lambda m: {"val_accuracy": accuracy(m, data.val_x, data.val_y)},
        )
        confusion = confusion_matrix(data.val_y, predict(model, data.val_x), 10)
        per_class = confusion.diagonal() / confusion.sum(1).clamp(min=1)
        run = {
            "max_degrees": degrees,
            "val_accuracy": float(confusion.diagonal().sum() / confusion.sum()),
            "per_class_accuracy": dict(zip(digits32.CLASSES, per_class.tolist(), strict=True)),
            "confusion": confusion.tolist(),
        }
        runs.append(run)
        progress.metrics(**run, six_nine=six_nine(run["confusion"]))
    return {"runs": runs}
