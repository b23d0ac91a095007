"""The experiments' data: scikit-learn's 1,797 digits upsampled to 32x32 (LeNet-5's input), one
gray channel as floats in [0, 1], split per class with a seed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from cnnviz.data import digits, stratified_split

SIDE = 32  # LeNet-5's input is 32x32x1
CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Split:
    """Training and validation digits: images N x 1 x 32 x 32 float in [0, 1], labels N int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


@lru_cache(maxsize=1)
def _all() -> tuple[torch.Tensor, torch.Tensor]:
    # Decoded once per process: every experiment and every student reuses the same tensors.
    data = digits(SIDE)
    images = data.images[:, :1].float().div_(255.0)  # the three channels are equal: keep one
    return images, data.labels


def per_class_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Sorted indices of `per_class` items of each class (all of a smaller class), seeded."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        chosen.append(members[torch.randperm(members.numel(), generator=generator)][:per_class])
    return torch.sort(torch.cat(chosen)).values


def load(
    seed: int,
    *,
    val_fraction: float = 0.3,
    train_per_class: int | None = None,
    val_per_class: int | None = None,
) -> Split:
    """A stratified split of the digits; optionally only `train_per_class` training and
    `val_per_class` validation digits of each class (the small-data experiments)."""
    images, labels = _all()
    train, val = stratified_split(labels, val_fraction, seed)
    if train_per_class is not None:
        train = train[per_class_subset(labels[train], train_per_class, seed)]
    if val_per_class is not None:
        val = val[per_class_subset(labels[val], val_per_class, seed + 1)]
    return Split(images[train], labels[train], images[val], labels[val])
