"""Experiment 2, noise-injection magnitude: LeNet-5 on about 200 training digits with Gaussian
noise on the inputs, Gaussian noise on the hidden units, or dropout, each at several
magnitudes. Too little noise overfits (training accuracy far above validation), too much
destroys the signal and underfits (both fall)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from cnnviz.experiments import digits32
from cnnviz.experiments.fit import Progress, Schedule, accuracy, init_weights, train
from cnnviz.experiments.layers import noisy_lenet, seed
from cnnviz.jobs import Reporter

# Magnitudes per kind: a Gaussian's standard deviation (images are in [0, 1], hidden units of
# LeNet-5 in [-1, 1] after tanh), dropout's probability of dropping a unit.
# Measured at seed 0: magnitude 0 overfits (train 100%, validation 93%), the middle ones help
# a little, the largest destroy the signal (both accuracies fall).
MAGNITUDES: dict[str, tuple[float, ...]] = {
    "input": (0.0, 0.5, 1.5, 5.0),
    "hidden": (0.0, 1.0, 3.0, 10.0),
    "dropout": (0.0, 0.5, 0.8, 0.95),
}
FULL_MAGNITUDES: dict[str, tuple[float, ...]] = {
    "input": (0.0, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0),
    "hidden": (0.0, 0.3, 1.0, 2.0, 3.0, 5.0, 10.0),
    "dropout": (0.0, 0.2, 0.5, 0.7, 0.8, 0.9, 0.95),
}


@dataclass(frozen=True)
class NoiseConfig:
    schedule: Schedule
    seed: int = 0
    magnitudes: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(MAGNITUDES))
    train_per_class: int = 20  # 200 training digits: little data, so the network overfits


SIZES = {
    "tiny": NoiseConfig(
        magnitudes={"input": (0.0, 3.0), "dropout": (0.5,)},
        train_per_class=5,
        schedule=Schedule(epochs=3, batch_size=25, lr=2e-3),
    ),
    "quick": NoiseConfig(Schedule(epochs=30, batch_size=20, lr=2e-3)),
    "full": NoiseConfig(magnitudes=FULL_MAGNITUDES, schedule=Schedule(60, 20, 1e-3)),
}


def run_noise(config: NoiseConfig, *, report: Reporter) -> dict[str, Any]:
    """{"runs": [{"kind", "magnitude", "train_accuracy", "val_accuracy"}]}: accuracies of the
    trained network in eval mode (no noise) on its clean training digits and on validation."""
    data = digits32.load(config.seed, train_per_class=config.train_per_class)
    trainings = sum(m != 0 for ms in config.magnitudes.values() for m in ms) + any(
        m == 0 for ms in config.magnitudes.values() for m in ms
    )
    progress = Progress(report, trainings * config.schedule.steps(data.train_y.numel()))
    runs = []
    clean: dict[str, float] | None = None  # magnitude 0 is the same network for every kind
    for kind, magnitudes in config.magnitudes.items():
        for magnitude in magnitudes:
            if magnitude == 0 and clean is not None:
                runs.append({"kind": kind, "magnitude": magnitude, **clean})
                progress.metrics(run=f"{kind} 0", **runs[-1])
                continue
            generator = torch.Generator().manual_seed(config.seed)
            model = seed(init_weights(noisy_lenet(kind, magnitude), generator), generator)
            name = f"{kind} {magnitude:g}"
            train(
                model,
                data.train_x,
                data.train_y,
                schedule=config.schedule,
                generator=generator,
                progress=progress,
                name=name,
                measure=lambda m: {"val_accuracy": accuracy(m, data.val_x, data.val_y)},
            )
            run = {
                "kind": kind,
                "magnitude": magnitude,
                "train_accuracy": accuracy(model, data.train_x, data.train_y),
                "val_accuracy": accuracy(model, data.val_x, data.val_y),
            }
            runs.append(run)
            progress.metrics(run=name, **run)
            if magnitude == 0:
                clean = {k: run[k] for k in ("train_accuracy", "val_accuracy")}
    return {"runs": runs}
