"""A dataset in memory: N x 3 x S x S uint8 images, integer labels, class names, and the files
that were skipped with the reason. Augmentation and normalization run later on batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torchvision.transforms import v2

from cnnviz.data import limits
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
    """What one upload may cost; the defaults are the classroom's (cnnviz.data.limits)."""

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
    # Exact duplicates: groups of 2 or more indices whose files decode to the same pixels, each
    # group in index order, the groups in the order of their first image. stratified_split keeps
    # every group on one side.
    duplicates: list[list[int]] = field(default_factory=list)

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

    def name(self, index: int) -> str:
        """Image `index` as the student knows it: its path in the upload ('#index' if none)."""
        return self.paths[index] if index < len(self.paths) else f"#{index}"

    def across_classes(self) -> list[list[int]]:
        """The duplicate groups whose copies carry different labels (a labeling slip)."""
        labels = self.labels.tolist()
        return [g for g in self.duplicates if len({labels[i] for i in g}) > 1]

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 (hex) of what a run learns from: the pixels (with their shape), the labels,
        the class names and the duplicate groups (the split keeps them together); not the file
        names. Equal for two datasets exactly when those are equal, whoever uploaded them.
        Computed once per object (the tensors are taken as never changed in place)."""
        images = self.images.detach().cpu().contiguous()
        labels = self.labels.detach().cpu().to(torch.int64).contiguous()
        head = {
            "format": "cnnviz-dataset/1",
            "images": [str(images.dtype), list(images.shape)],
            "labels": labels.numel(),
            "classes": list(self.classes),
            "duplicates": [[int(i) for i in g] for g in self.duplicates],
        }
        digest = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
        digest.update(images.view(torch.uint8).reshape(-1).numpy() if images.numel() else b"")
        digest.update(labels.numpy().tobytes())
        return digest.hexdigest()

    def to_json(self) -> dict[str, object]:
        """The `check-dataset --json` document: images per class, the files skipped, the groups
        of exact duplicates (paths), and those of them that sit in two classes or more."""
        return {
            "classes": self.counts(),
            "skipped": [s.to_json() for s in self.skipped],
            "duplicates": [[self.name(i) for i in g] for g in self.duplicates],
            "duplicates_across_classes": [[self.name(i) for i in g] for g in self.across_classes()],
        }


_NORMALIZE = v2.Compose(
    [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
)


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """A B x 3 x H x W batch, ImageNet-normalized as torchvision's pretrained weights expect.

    uint8 batches are scaled to [0, 1] first; float batches must already be in [0, 1].
    """
    return _NORMALIZE(batch)


def _group_of(n: int, groups: Iterable[Sequence[int]]) -> list[int]:
    """Each image's group: the first index of its duplicate group, or its own index."""
    group = list(range(n))
    for members in groups:
        members = sorted(int(i) for i in members)
        for i in members:
            if not 0 <= i < n:
                raise ValueError(f"duplicate group index {i} is not in 0..{n - 1}")
            if group[i] != i:
                raise ValueError(f"image {i} is in two duplicate groups")
            group[i] = members[0]
    return group


def stratified_split(
    labels: torch.Tensor,
    val_fraction: float,
    seed: int = 0,
    groups: Iterable[Sequence[int]] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices: each class split in the same proportion, seeded.

    Every class keeps at least one training image, and one validation image when it has two or
    more and val_fraction > 0 (a class absent from validation would have no accuracy).

    `groups` are exact duplicates (ImageDataset.duplicates): a group is never split, so no
    validation image has a twin in training. A class's groups are drawn as units, a class
    taking as many validation images as it would without them, or fewer where a whole group
    does not fit. A group whose copies have different labels stays in training: scored in
    validation, one of its copies would be wrong whatever the model says. (A class made only of
    such copies, or of one group, then has no validation image: load_dataset refuses those.)
    Without groups the split is the plain stratified split, index for index.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), not {val_fraction}")
    group = _group_of(labels.numel(), groups)
    listed = labels.tolist()
    mixed = {g for g, label in zip(group, listed, strict=True) if listed[g] != label}
    generator = torch.Generator().manual_seed(seed)
    train: list[int] = []
    val: list[int] = []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten().tolist()
        n = len(members)
        take = int(n * val_fraction + 0.5)  # half up: 2.5 -> 3 (round() would give 2)
        if val_fraction > 0 and n >= 2:
            take = min(max(take, 1), n - 1)
        units: dict[int, list[int]] = {}  # an image alone, or this class's copies of a group
        for i in members:
            units.setdefault(group[i], []).append(i)
        drawn = [u for g, u in units.items() if g not in mixed]
        train += [i for g, u in units.items() if g in mixed for i in u]
        chosen: set[int] = set()
        count = 0
        for k in torch.randperm(len(drawn), generator=generator).tolist():
            if count + len(drawn[k]) <= take:
                chosen.add(k)
                count += len(drawn[k])
        if count == 0 and take > 0 and drawn:  # every group larger than `take`: the smallest
            smallest = min(range(len(drawn)), key=lambda k: len(drawn[k]))
            if len(drawn[smallest]) < n:  # if training keeps an image of the class
                chosen.add(smallest)
        for k, unit in enumerate(drawn):
            (val if k in chosen else train).extend(unit)
    as_tensor = lambda idx: torch.tensor(sorted(idx), dtype=torch.int64)  # noqa: E731
    return as_tensor(train), as_tensor(val)
