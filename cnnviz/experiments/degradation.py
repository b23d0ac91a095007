"""Experiment 4, ResNet's degradation problem (He et al. 2015, Fig. 1): plain and residual
networks of the same narrow design at a shallow and a deep depth, trained the same way on the
digits; the deep plain network's training loss stays above the shallow one's (an optimization
problem, not overfitting: it is the *training* loss), the deep residual one's does not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cnnviz.experiments import digits32
from cnnviz.experiments.fit import Progress, Schedule, init_weights, train
from cnnviz.experiments.layers import NET_KINDS, depth_net
from cnnviz.jobs import Reporter


@dataclass(frozen=True)
class DegradationConfig:
    schedule: Schedule
    seed: int = 0
    depths: tuple[int, ...] = (8, 32)
    width: int = 16
    batch_norm: bool = True
    train_per_class: int | None = None


SIZES = {
    "tiny": DegradationConfig(
        depths=(4, 8), width=4, train_per_class=20, schedule=Schedule(2, 50, 0.05, "sgd")
    ),
    "quick": DegradationConfig(Schedule(10, batch_size=64, lr=0.05, optimizer="sgd", drop_after=7)),
    "full": DegradationConfig(depths=(8, 20, 56), schedule=Schedule(20, 64, 0.05, "sgd", 0, 14)),
}


def run_degradation(config: DegradationConfig, *, report: Reporter) -> dict[str, Any]:
    """{"runs": [{"kind": "plain"|"residual", "depth", "history": [{"epoch", "train_loss",
    "train_accuracy"}]}]}"""
    data = digits32.load(config.seed, train_per_class=config.train_per_class)
    trainings = len(NET_KINDS) * len(config.depths)
    progress = Progress(report, trainings * config.schedule.steps(data.train_y.numel()))
    runs = []
    for kind in NET_KINDS:
        for depth in config.depths:
            generator = torch.Generator().manual_seed(config.seed)
            net = depth_net(kind, depth, width=config.width, batch_norm=config.batch_norm)
            model = init_weights(net, generator, he=True)
            history = train(
                model,
                data.train_x,
                data.train_y,
                schedule=config.schedule,
                generator=generator,
                progress=progress,
                name=f"{kind}-{depth}",
            )
            runs.append({"kind": kind, "depth": depth, "history": history})
    return {"runs": runs}
