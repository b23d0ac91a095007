"""A fine-tuned model's validation images, to explain the model on the images it was scored on:
grouped by true class, its mistakes first, each with its true and predicted class.

The transfer-learning run (cnnviz.train.FinetuneResult) keeps only indices into its dataset
and the predictions of its last epoch; `same_run` checks that a dataset is the one those
indices point into, by counting the run's confusion matrix again from its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import torch


@dataclass(frozen=True)
class ValidationImage:
    """One validation image: where it is in the dataset, its true and predicted class."""

    index: int
    true: int
    predicted: int
    name: str  # its file name (never a folder on the server), or "#index"

    @property
    def wrong(self) -> bool:
        return self.true != self.predicted


@dataclass(frozen=True, eq=False)
class ValidationSet:
    """The run's validation images per true class, misclassified first (then in dataset order)."""

    images: torch.Tensor  # the whole dataset, N x 3 x S x S uint8: indexed by ValidationImage
    classes: tuple[str, ...]
    by_class: tuple[tuple[ValidationImage, ...], ...]

    def picture(self, item: ValidationImage) -> np.ndarray:
        """The image as H x W x 3 uint8."""
        return self.images[item.index].permute(1, 2, 0).contiguous().numpy()

    def mistakes(self, true: int) -> int:
        return sum(item.wrong for item in self.by_class[true])

    def label(self, item: ValidationImage) -> str:
        """'✗ 12.png: predicted dog' (a mistake) or '✓ 3.png: predicted cat'."""
        mark = "✗" if item.wrong else "✓"
        return f"{mark} {item.name}: predicted {self.classes[item.predicted]}"


def same_run(
    labels: Sequence[int],
    val_indices: Sequence[int],
    predictions: Sequence[int],
    confusion: Sequence[Sequence[int]],
) -> bool:
    """Whether a dataset with these labels is the run's: the indices fit, and the labels at
    them with the run's predictions count exactly the run's confusion matrix."""
    n = len(confusion)
    if len(val_indices) != len(predictions) or not val_indices:
        return False
    if max(val_indices) >= len(labels) or min(val_indices) < 0:
        return False
    counted = [[0] * n for _ in range(n)]
    for i, p in zip(val_indices, predictions, strict=True):
        true = int(labels[i])
        if not (0 <= true < n and 0 <= p < n):
            return False
        counted[true][p] += 1
    return counted == [list(row) for row in confusion]


def validation_set(
    images: torch.Tensor,
    labels: Sequence[int],
    paths: Sequence[str] | None,
    classes: Sequence[str],
    val_indices: Sequence[int],
    predictions: Sequence[int],
) -> ValidationSet:
    """The validation images grouped by true class, each class's mistakes first."""
    groups: list[list[ValidationImage]] = [[] for _ in classes]
    for i, p in zip(val_indices, predictions, strict=True):
        name = PurePosixPath(paths[i]).name if paths else f"#{i}"
        groups[int(labels[i])].append(ValidationImage(int(i), int(labels[i]), int(p), name))
    ordered = tuple(tuple(sorted(g, key=lambda item: (not item.wrong, item.index))) for g in groups)
    return ValidationSet(images=images, classes=tuple(classes), by_class=ordered)
