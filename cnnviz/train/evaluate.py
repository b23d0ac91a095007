"""How well a classifier does on the validation images: accuracy per class and the confusion
matrix (rows: true class, columns: predicted), from labels and predictions alone."""

from __future__ import annotations

import torch


def confusion(labels: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> list[list[int]]:
    """counts[t][p]: validation images of class t predicted as p."""
    flat = labels.long() * n_classes + predictions.long()
    counts = torch.bincount(flat, minlength=n_classes * n_classes)
    return counts.view(n_classes, n_classes).tolist()


def per_class_accuracy(
    labels: torch.Tensor, predictions: torch.Tensor, classes: list[str]
) -> dict[str, float | None]:
    """Each class's share of its validation images predicted right (None: no such image)."""
    out: dict[str, float | None] = {}
    for k, name in enumerate(classes):
        mine = labels == k
        n = int(mine.sum())
        out[name] = float((predictions[mine] == k).sum()) / n if n else None
    return out


def accuracy(labels: torch.Tensor, predictions: torch.Tensor) -> float:
    return float((labels == predictions).float().mean()) if labels.numel() else 0.0
