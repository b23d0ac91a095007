"""Experiment 3, augmentation vs none on a small subset: the same LeNet-5 from the same start,
trained on the same few digits with and without random small rotations, shifts and scalings;
the training and validation curves side by side (the gap between them is the overfitting that
augmentation reduces)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cnnviz import registry
from cnnviz.experiments import digits32
from cnnviz.experiments.affine import random_affine
from cnnviz.experiments.fit import Progress, Schedule, accuracy, init_weights, train
from cnnviz.jobs import Reporter


@dataclass(frozen=True)
class AugmentConfig:
    schedule: Schedule
    seed: int = 0
    train_per_class: int = 10
    # Only the desired invariances for digits: a little rotation, shift and scale.
    degrees: float = 15.0
    translate: float = 0.1
    scale: tuple[float, float] = (0.9, 1.1)


SIZES = {
    "tiny": AugmentConfig(train_per_class=5, schedule=Schedule(3, 25, 2e-3)),
    "quick": AugmentConfig(Schedule(epochs=60, batch_size=20, lr=1e-3)),
    "full": AugmentConfig(train_per_class=20, schedule=Schedule(100, 20, 1e-3)),
}


def run_augment(config: AugmentConfig, *, report: Reporter) -> dict[str, Any]:
    """{"runs": [{"augment": bool, "history": [{"epoch", "val_accuracy", "train_accuracy"}]}]}

    Training accuracy is measured like validation accuracy, at the end of each epoch in eval
    mode on the training images as they are (not augmented): what the network learned of its
    training set, comparable with the validation figure."""
    data = digits32.load(config.seed, train_per_class=config.train_per_class)
    progress = Progress(report, 2 * config.schedule.steps(data.train_y.numel()))
    transform = random_affine(config.degrees, config.translate, config.scale)
    runs = []
    for augment in (False, True):
        generator = torch.Generator().manual_seed(config.seed)
        model = init_weights(registry.build("lenet5", input_size=(1, 32, 32)), generator)
        history = train(
            model,
            data.train_x,
            data.train_y,
            schedule=config.schedule,
            generator=generator,
            progress=progress,
            name="augmented" if augment else "not augmented",
            transform=transform if augment else None,
            measure=lambda m: {
                "train_accuracy": accuracy(m, data.train_x, data.train_y),
                "val_accuracy": accuracy(m, data.val_x, data.val_y),
            },
        )
        runs.append(
            {
                "augment": augment,
                "history": [
                    {
                        "epoch": row["epoch"],
                        "val_accuracy": row["val_accuracy"],
                        "train_accuracy": row["train_accuracy"],
                    }
                    for row in history
                ],
            }
        )
    return {"runs": runs}
