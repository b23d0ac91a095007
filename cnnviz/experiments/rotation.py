"""Experiment 1, only the desired invariance: LeNet-5 trained on digits randomly rotated by up
to 0, 45, 90, 120, 150, 165 or 180 degrees, validated on upright digits. A 6 turned half a turn
is a 9: the network starts confusing them only when the range comes near a half turn (measured:
none up to 90 degrees, then a jump), and the ranges in between show where."""

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
from cnnviz.experiments.seeds import document, over_seeds, seeds_from, spread, workers
from cnnviz.jobs import Reporter

QUICK_EPOCHS = 6


@dataclass(frozen=True)
class RotationConfig:
    schedule: Schedule
    seed: int = 0  # the first seed; the others follow it
    degrees: tuple[int, ...] = (0, 45, 90, 120, 150, 165, 180)
    train_per_class: int | None = None  # None: the whole training split (about 126 a class)
    seeds: int = 1


SIZES = {
    "tiny": RotationConfig(degrees=(0, 180), train_per_class=30, schedule=Schedule(4, 32, 3e-3)),
    "quick": RotationConfig(schedule=Schedule(epochs=QUICK_EPOCHS, batch_size=32, lr=3e-3)),
    "full": RotationConfig(
        degrees=(0, 30, 45, 90, 120, 135, 150, 165, 180),
        schedule=Schedule(25, 32, 1e-3),
        seeds=3,
    ),
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
    """{"runs": [{"max_degrees", "val_accuracy", "per_class_accuracy": {"0": ..},
    "confusion"}], "seeds": [..], "per_seed": [{"seed", "runs"}], "spread": {"180":
    {"six_nine_mean", "six_nine_min", "six_nine_max", "six_nine_std", "val_mean", ..}}}:
    "runs" are the first seed's (a confusion matrix counts one validation set), "spread" the
    6 <-> 9 confusion and the validation accuracy of each range across the seeds."""
    seeds = seeds_from(config.seed, config.seeds)
    n_train = digits32.load(config.seed, train_per_class=config.train_per_class).train_y.numel()
    progress = Progress(report, len(seeds) * len(config.degrees) * config.schedule.steps(n_train))
    per_seed = over_seeds(
        lambda s: _one_seed(config, s, progress, several=len(seeds) > 1),
        seeds,
        parallel=workers(len(seeds)),
    )
    spreads = {}
    for i, degrees in enumerate(config.degrees):
        stats = {}
        for short, values in (
            ("six_nine", [six_nine(runs[i]["confusion"]) for runs in per_seed]),
            ("val", [runs[i]["val_accuracy"] for runs in per_seed]),
        ):
            stats.update({f"{short}_{k}": v for k, v in spread(values).items()})
        spreads[str(degrees)] = stats
    return document(per_seed[0], seeds, per_seed, spreads)


def _one_seed(
    config: RotationConfig, seed: int, progress: Progress, *, several: bool
) -> list[dict[str, Any]]:
    data = digits32.load(seed, train_per_class=config.train_per_class)
    runs = []
    for degrees in config.degrees:
        generator = torch.Generator().manual_seed(seed)  # same start for every range
        model = init_weights(registry.build("lenet5", input_size=(1, 32, 32)), generator)
        name = run_name(degrees) + (f", seed {seed}" if several else "")
        train(
            model,
            data.train_x,
            data.train_y,
            schedule=config.schedule,
            generator=generator,
            progress=progress,
            name=name,
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
        progress.metrics(**run, run=name, six_nine=six_nine(run["confusion"]))
    return runs


def onset(doc: dict[str, Any], threshold: float = 0.02) -> int | None:
    """The smallest rotation range whose mean 6 <-> 9 confusion across the seeds reaches
    `threshold` (2%: two of the about 110 validation 6s and 9s, more than a stray mistake),
    None when no range does."""
    for degrees, stats in doc["spread"].items():
        if stats["six_nine_mean"] >= threshold:
            return int(degrees)
    return None
