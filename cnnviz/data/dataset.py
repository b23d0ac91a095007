"""A dataset in memory: N x 3 x S x S uint8 images, integer labels, class names, and the files
that were skipped with the reason. Augmentation and normalization run later on batches."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torchvision.transforms import v2

from cnnviz import limits
from cnnviz.images import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class Skipped:
    """A file left out of the dataset (its path inside the upload) and why."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class DatasetLimits:
    """What one upload may cost; the defaults are the classroom's (cnnviz.limits)."""

    archive_bytes: int = limits.DATASET_ARCHIVE_BYTES.high
    files: int = limits.DATASET_FILES.high
    total_bytes: int = limits.DATASET_BYTES.high
    image_pixels: int = limits.DATASET_IMAGE_PIXELS.high
    # All images together, as decoded (JPEGs at PIL's reduced draft scale): many large, highly
    # compressible PNGs pass the byte limits yet take minutes of CPU to decode.
    total_pixels: int = limits.DATASET_PIXELS.high


@dataclass
class ImageDataset:
    """Decoded once, resized once: images[i] (3 x S x S uint8) belongs to classes[labels[i]]."""

    images: torch.Tensor  # N x 3 x S x S, uint8
    labels: torch.Tensor  # N, int64
    classes: list[str]
    skipped: list[Skipped] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # where each image came from, if a file

    def __len__(self) -> int:
        return int(self.labels.numel())

    @property
    def size(self) -> int:
        """The side S of every image."""
        return int(self.images.shape[-1])

    def counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        per_class = torch.bincount(self.labels, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, per_class, strict=True))

    def to_json(self) -> dict[str, object]:
        """The `check-dataset --json` document."""
        return {"classes": self.counts(), "skipped": [s.to_json() for s in self.skipped]}


_NORMALIZE = v2.Compose(
    [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
)


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """A B x 3 x H x W batch, ImageNet-normalized as torchvision's pretrained weights expect.

    uint8 batches are scaled to [0, 1] first; float batches must already be in [0, 1].
    """
    return _NORMALIZE(batch)


def stratified_split(
    labels: torch.Tensor, val_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices: each class split in the same proportion, seeded.

    Every class keeps at least one training image, and one validation image when it has two or
    more and val_fraction > 0 (a class absent from validation would have no accuracy).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), not {val_fraction}")
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n = members.numel()
        take = int(n * val_fraction + 0.5)  # half up: 2.5 -> 3 (round() would give 2)
        if val_fraction > 0 and n >= 2:
            take = min(max(take, 1), n - 1)
        val.append(members[:take])
        train.append(members[take:])
    return torch.sort(torch.cat(train)).values, torch.sort(torch.cat(val)).values
