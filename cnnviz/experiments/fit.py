"""A small seeded training loop on the CPU for the live experiments: every random draw (weights,
shuffling, augmentation, noise) comes from one torch.Generator, never from torch's global one,
so a job gives the same numbers whatever else the server's threads draw meanwhile."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.jobs import Reporter
from cnnviz.jobs.devices import cpu_threads

# A batch transform draws its randomness from the generator it is given: (images, g) -> images.
BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
EVAL_BATCH = 512
# Intra-op threads of the thread that trains. One: these nets are small (little to gain from a
# second thread), and on the class's 2-core server the other core stays free for the pages.
# Measured on a busy machine: two threads took longer than one (OpenMP threads spin-wait for
# a core). torch's OpenMP setting is per thread: the server's threads keep theirs.
TRAIN_THREADS = 1


@dataclass(frozen=True)
class Schedule:
    """How one network is trained: epochs of shuffled mini-batches, SGD with momentum or Adam."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"  # "adam" or "sgd" (momentum 0.9)
    weight_decay: float = 0.0
    drop_after: int | None = None  # lr / 10 after this many epochs (He et al.'s schedule)

    def steps(self, n_train: int) -> int:
        """Batch steps for `n_train` training images."""
        return self.epochs * math.ceil(n_train / self.batch_size)

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                model.parameters(), lr=self.lr, momentum=0.9, weight_decay=self.weight_decay
            )
        if self.optimizer == "adam":
            return torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        raise ValueError(f"unknown optimizer {self.optimizer!r}")


class Progress:
    """The batch steps of all runs of one experiment, reported as one progress bar (safe from
    the threads that train several seeds at once)."""

    def __init__(self, report: Reporter, total: int) -> None:
        self.report = report
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        report(step=0, total=total, message="Starting")

    def step(self, message: str) -> None:
        """One batch done (raises Stopped here when a stop was asked for)."""
        with self._lock:
            self.done += 1
            done = self.done
        self.report(step=done, total=self.total, message=message)

    def metrics(self, **values: Any) -> None:
        """One point of the live curves: the run's name, its epoch and what was measured."""
        self.report(metrics=values)


def no_report(
    *,
    step: int | None = None,
    total: int | None = None,
    metrics: dict[str, Any] | None = None,
    message: str | None = None,
) -> None:
    """A `report` that records nothing (a caller with no progress to show)."""


def init_weights(model: nn.Module, generator: torch.Generator, *, he: bool = False) -> nn.Module:
    """Seeded weights for every conv and linear layer: PyTorch's own default (uniform, Kaiming
    with a=sqrt(5)), or He et al.'s normal init (fan-out, ReLU) for the ResNet experiment;
    biases uniform in +-1/sqrt(fan_in) (zero under He init), BatchNorm at weight 1, bias 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            if he and isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
                continue
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Predicted classes in eval mode (noise and dropout off, BatchNorm on running stats)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(b).argmax(1) for b in images.split(EVAL_BATCH)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of `images` classified as `labels`, in eval mode."""
    return float((predict(model, images) == labels).float().mean())


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    schedule: Schedule,
    generator: torch.Generator,
    progress: Progress,
    name: str,
    transform: BatchTransform | None = None,
    measure: Callable[[nn.Module], dict[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """Train `model` in place; per epoch one history row {"epoch", "train_loss",
    "train_accuracy"} (the running figures over the epoch's batches, as the model trained)
    plus whatever `measure(model)` adds (validation accuracy), also reported as live metrics."""
    with cpu_threads(TRAIN_THREADS):
        return _epochs(
            model, images, labels, schedule, generator, progress, name, transform, measure
        )


def _epochs(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    schedule: Schedule,
    generator: torch.Generator,
    progress: Progress,
    name: str,
    transform: BatchTransform | None,
    measure: Callable[[nn.Module], dict[str, float]] | None,
) -> list[dict[str, Any]]:
    optimizer = schedule.make_optimizer(model)
    history = []
    n = labels.numel()
    for epoch in range(1, schedule.epochs + 1):
        if epoch - 1 == schedule.drop_after:
            for group in optimizer.param_groups:
                group["lr"] /= 10
        model.train()
        order = torch.randperm(n, generator=generator)
        loss_sum, correct = 0.0, 0
        for batch in order.split(schedule.batch_size):
            x, y = images[batch], labels[batch]
            if transform is not None:
                x = transform(x, generator)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * y.numel()
            correct += int((logits.argmax(1) == y).sum())
            progress.step(f"{name}, epoch {epoch} of {schedule.epochs}")
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": _finite(loss_sum / n),
            "train_accuracy": correct / n,
        }
        if measure is not None:
            row.update(measure(model))
        history.append(row)
        progress.metrics(run=name, **row)
    return history


def _finite(value: float) -> float | None:
    # JSON has no NaN or infinity: a diverged run's loss is null, which the charts leave out.
    return value if math.isfinite(value) else None
