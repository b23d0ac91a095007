"""Pieces every training path shares: batches, stop checks inside a forward pass, the device,
and the bookkeeping of finished epochs (history, reports, last validation predictions)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnviz.jobs import Reporter, Stopped, devices
from cnnviz.train import backbones


def batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """`order` cut into batches; a last batch of one image joins the one before (batch norm
    cannot normalize a single image whose feature maps are 1x1)."""
    parts = list(order.split(batch_size))
    if len(parts) > 1 and parts[-1].numel() == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts


def resolve_device(wanted: str | None, report: Any) -> devices.Device:
    """The config's device, else the one the job runner gave the job, else the default."""
    return devices.resolve(wanted or getattr(report, "device", None))


@contextlib.contextmanager
def stop_checks(model: nn.Module, backbone: backbones.BackboneSpec, report: Any) -> Iterator[None]:
    """Check for a stop request before every block's forward, not only between batches: one
    batch of a big backbone at 224 on a CPU takes seconds, a block a fraction of that."""
    if not hasattr(report, "stop_requested"):
        yield
        return

    def check(*_: object) -> None:
        if report.stop_requested:
            raise Stopped

    handles = [
        model.get_submodule(path).register_forward_pre_hook(check)
        for block in backbone.blocks
        for path in block
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class Epochs:
    """Finished epochs: the history the result keeps and the epoch points the page draws."""

    report: Reporter
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    val_predictions: torch.Tensor | None = None

    def finished(
        self,
        epoch: int,
        train: tuple[float, float],
        val: tuple[float, float],
        predictions: torch.Tensor,
    ) -> None:
        """Record epoch `epoch` (1-based): (loss, accuracy) on the training and validation
        images, and the validation predictions; report it as an epoch point."""
        point = {
            "epoch": epoch,
            "train_loss": train[0],
            "train_accuracy": train[1],
            "val_loss": val[0],
            "val_accuracy": val[1],
        }
        self.history.append(point)
        self.val_predictions = predictions.cpu()
        self.report(metrics=dict(point))


def loss_and_accuracy(
    logits: torch.Tensor, labels: torch.Tensor
) -> tuple[float, float, torch.Tensor]:
    """Mean cross-entropy, accuracy and the predictions of one pass."""
    loss = nn.functional.cross_entropy(logits.float(), labels)
    predictions = logits.argmax(dim=1)
    return float(loss), float((predictions == labels).float().mean()), predictions
