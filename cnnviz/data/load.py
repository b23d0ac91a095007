"""From an upload to an ImageDataset: unpack (zip) or list (folder), then decode every image
once, resize it once, and keep the result as one uint8 tensor."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from cnnviz.data import limits as bounds
from cnnviz.data.archive import Listing, extract_zip, list_folder, unpack_files
from cnnviz.data.dataset import DatasetLimits, ImageDataset, Skipped
from cnnviz.data.decode import OverBudget, Skip, decode_into
from cnnviz.data.workspace import Workspace
from cnnviz.errors import BadDataset, DatasetTooLarge

Source = str | os.PathLike[str] | bytes | bytearray | BinaryIO
Progress = Callable[[int, int], None]  # (files decoded so far, files to decode)


def load_dataset(
    source: Source,
    *,
    size: int = 224,
    limits: DatasetLimits | None = None,
    workspace: Workspace | None = None,
    progress: Progress | None = None,
) -> ImageDataset:
    """A zip (path, bytes or binary file) or a folder path as an ImageDataset at size x size.

    A zip is unpacked into a fresh folder of the workspace (a temporary one if none is given),
    removed as soon as the images are decoded. BadDataset for an upload that cannot be used.
    """
    size = bounds.DATASET_IMAGE_SIZE.check(size)
    limits = limits or DatasetLimits()
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        return decode_listing(list_folder(Path(source), limits), size, limits, (), progress)
    with _opened(source) as stream, _session(workspace) as space:
        folder = space.folder("zip")
        try:
            unpacked = extract_zip(stream, folder, limits)
            return decode_listing(list_folder(folder, limits), size, limits, unpacked, progress)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def load_files(
    files: Iterable[tuple[str, bytes]],
    *,
    size: int = 224,
    limits: DatasetLimits | None = None,
    workspace: Workspace | None = None,
    progress: Progress | None = None,
) -> ImageDataset:
    """A folder uploaded file by file, (path inside the folder, bytes), as an ImageDataset."""
    size = bounds.DATASET_IMAGE_SIZE.check(size)
    limits = limits or DatasetLimits()
    with _session(workspace) as space:
        folder = space.folder("files")
        try:
            unpacked = unpack_files(files, folder, limits)
            return decode_listing(list_folder(folder, limits), size, limits, unpacked, progress)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class _session:
    """The caller's workspace, or a temporary one closed on the way out."""

    def __init__(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.own = workspace is None

    def __enter__(self) -> Workspace:
        if self.workspace is None:
            self.workspace = Workspace()
        return self.workspace

    def __exit__(self, *exc: object) -> None:
        if self.own and self.workspace is not None:
            self.workspace.close()


class _opened:
    """A binary stream over a path, bytes or a file object (closed only if opened here)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.stream: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if isinstance(self.source, (bytes, bytearray)):
            return io.BytesIO(self.source)
        if isinstance(self.source, (str, os.PathLike)):
            path = Path(self.source)
            if not path.exists():
                raise BadDataset(f"There is no file or folder {str(path)!r}.", "Check the path.")
            self.stream = open(path, "rb")
            return self.stream
        self.source.seek(0)
        return self.source

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None:
            self.stream.close()


def _check_classes(counts: dict[str, int], skipped: list[Skipped], decoded: bool) -> None:
    """BadDataset unless there are 2 classes or more with 2 images or more each."""
    if len(counts) < 2:
        found = f"only one class folder ({next(iter(counts))!r})" if counts else "no class folder"
        raise BadDataset(
            f"The dataset has {found}: a classifier needs at least 2 classes.",
            "Put each class's images in its own folder, named after the class.",
        )
    for name, count in counts.items():
        if count < 2:
            noun = "usable image" if decoded else "file"
            dropped = [s for s in skipped if name in s.path.split("/")[:-1]]
            why = f" ({len(dropped)} skipped: {dropped[0].reason})" if dropped else ""
            raise BadDataset(
                f"The class {name!r} has {count} {noun}{'s' if count != 1 else ''}{why}: each "
                "class needs at least 2 images.",
                f"Add images to {name!r} or remove that folder.",
            )


def decode_listing(
    listing: Listing,
    size: int,
    limits: DatasetLimits,
    skipped: Iterable[Skipped] = (),
    progress: Progress | None = None,
) -> ImageDataset:
    """Decode every listed file once into a preallocated N x 3 x size x size uint8 tensor, and
    group the files that decode to the same pixels (ImageDataset.duplicates)."""
    skipped = [*skipped, *listing.skipped]
    _check_classes({c: len(f) for c, f in listing.classes.items()}, skipped, decoded=False)
    total = sum(len(files) for files in listing.classes.values())
    # numpy, not torch: per-image torch copies of this size go multi-threaded, and on a busy
    # 2-core server each one then waits for its threads (many times slower, measured).
    images = np.empty((total, 3, size, size), dtype=np.uint8)
    labels: list[int] = []
    paths: list[str] = []
    copies: dict[bytes, list[int]] = {}  # pixel digest -> the images that decode to it
    done = decoded = 0
    for label, files in enumerate(listing.classes.values()):
        for rel, path in files:
            if progress is not None:
                progress(done, total)
            done += 1
            try:
                budget = limits.total_pixels - decoded
                pixels, digest = decode_into(images[len(labels)], path, limits.image_pixels, budget)
                decoded += pixels
            except OverBudget:
                raise DatasetTooLarge(
                    f"The images hold more than {limits.total_pixels:,} pixels in all (many "
                    "large images): that is the limit, to keep decoding short."
                ) from None
            except Skip as why:
                skipped.append(Skipped(rel, str(why)))
                continue
            copies.setdefault(digest, []).append(len(labels))
            labels.append(label)
            paths.append(rel)
    if progress is not None:
        progress(total, total)
    classes = list(listing.classes)
    counts = dict.fromkeys(classes, 0)
    for label in labels:
        counts[classes[label]] += 1
    skipped.sort(key=lambda s: s.path)
    _check_classes(counts, skipped, decoded=True)
    dataset = ImageDataset(
        images=torch.from_numpy(images[: len(labels)].copy() if len(labels) < total else images),
        labels=torch.tensor(labels, dtype=torch.int64),
        classes=classes,
        skipped=skipped,
        paths=paths,
        duplicates=[group for group in copies.values() if len(group) > 1],
    )
    _check_copies(dataset)
    return dataset


def _check_copies(data: ImageDataset) -> None:
    """BadDataset for a class that the split could not validate without a twin in training:
    one image copied, or only images that are also in another class."""
    labels = data.labels.tolist()
    group_of = {i: k for k, group in enumerate(data.duplicates) for i in group}
    across = {i for group in data.across_classes() for i in group}
    for label, name in enumerate(data.classes):
        mine = [i for i, x in enumerate(labels) if x == label]
        if all(i in across for i in mine):
            twins = {j for i in mine for j in data.duplicates[group_of[i]]}
            others = sorted({data.classes[labels[j]] for j in twins} - {name})
            raise BadDataset(
                f"Every image of the class {name!r} is also in another class folder "
                f"({', '.join(map(repr, others))}): the same picture cannot teach two classes.",
                f"Keep each image in the one folder of its class, and add images of {name!r}.",
            )
        if len({group_of.get(i, -1 - i) for i in mine}) == 1:
            raise BadDataset(
                f"The class {name!r} holds one image only, in {len(mine)} copies (the same "
                "pixels): a classifier needs at least 2 different images per class.",
                f"Add other images of {name!r}, or remove that folder.",
            )
