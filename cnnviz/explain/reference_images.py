"""Reference images for feature visualization (cnnviz.explain.feature_viz): the images a
channel's optimized input is compared with, those of them that excite it most shown beside it.
A job takes them by name (ReferenceImages), not as pixels: the default LeNet-5's validation
digits, crops of the built-in photos (ImageNet's validation set is not on the server), or a
session's images (a fine-tuned run's validation images) written to the store by content hash.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import numpy as np
import torch

from cnnviz.errors import DoesNotFit
from cnnviz.explain.models import Explained
from cnnviz.store.files import store_file


def digit_validation() -> tuple[np.ndarray, list[str]]:
    """The default LeNet-5's validation digits (never trained on), N x 32 x 32 x 3 uint8."""
    from cnnviz.data import digits
    from cnnviz.explain import default_model

    data = digits(default_model.SIDE)
    val = default_model.split()[1].tolist()
    pictures = data.images[val].permute(0, 2, 3, 1).contiguous().numpy()
    return pictures, [f"digit #{k} ({int(data.labels[k])})" for k in val]


def photo_crops(side: int, grid: int = 3) -> tuple[np.ndarray, list[str]]:
    """The built-in photos, each resized to grid x side and cut into grid x grid crops of
    side x side, plus the whole photo: a stand-in for ImageNet's validation images, which
    are not on the server."""
    from torchvision.transforms.v2 import functional as TF

    from cnnviz import images

    pictures, names = [], []
    for name in images.PHOTOS:
        t = torch.from_numpy(images.photo(name)).permute(2, 0, 1)
        whole = TF.center_crop(TF.resize(t, [side], antialias=True), [side, side])
        pictures.append(whole)
        names.append(name)
        big = TF.center_crop(TF.resize(t, [grid * side], antialias=True), [grid * side] * 2)
        for r in range(grid):
            for c in range(grid):
                pictures.append(big[:, r * side : (r + 1) * side, c * side : (c + 1) * side])
                names.append(f"{name}, crop {r * grid + c + 1} of {grid * grid}")
    return torch.stack(pictures).permute(0, 2, 3, 1).contiguous().numpy(), names


REFERENCE_KINDS = ("digits", "photos", "stored")


@dataclass(frozen=True)
class ReferenceImages:
    """Reference images by name, what a job takes instead of the images: "digits" (the
    default LeNet-5's validation digits), "photos" (photo_crops at `side`) or "stored" (images
    of a session, such as a fine-tuned run's validation images, written to the model store
    by `by_reference` as an N x H x W x 3 uint8 .npy file named by its content hash)."""

    kind: str
    side: int = 0
    file: str | None = None

    def load(self) -> tuple[np.ndarray, list[str]]:
        """The images (N x H x W x 3 uint8, shared: not to be changed) and their names
        (stored images: "#i", their place in the file)."""
        if self.kind not in REFERENCE_KINDS:
            raise ValueError(f"unknown reference images {self.kind!r}; kinds: {REFERENCE_KINDS}")
        return _loaded(self.kind, self.side, self.file)


def by_reference(pictures: ReferenceImages | np.ndarray) -> ReferenceImages:
    """Images as a job takes them: a ReferenceImages as it is, an N x H x W x 3 uint8 array
    written to the model store (once per content) and named by its file."""
    if isinstance(pictures, ReferenceImages):
        return pictures
    arr = np.ascontiguousarray(pictures)
    if arr.ndim != 4 or arr.dtype != np.uint8 or arr.shape[-1] != 3:
        raise DoesNotFit("Reference images must be N x H x W x 3 uint8.")
    buffer = io.BytesIO()
    np.save(buffer, arr, allow_pickle=False)
    _, path = store_file("images", ".npy", buffer.getvalue())
    return ReferenceImages("stored", int(arr.shape[1]), str(path))


def _loaded(kind: str, side: int, file: str | None) -> tuple[np.ndarray, list[str]]:
    if kind != "stored":
        return _built_in(kind, side)
    if file is None:
        raise ValueError("stored reference images name no file")
    return _stored(file)


@functools.lru_cache(maxsize=8)
def _built_in(kind: str, side: int) -> tuple[np.ndarray, list[str]]:
    return digit_validation() if kind == "digits" else photo_crops(side)


@functools.lru_cache(maxsize=2)  # a run's validation images may be large: the last two
def _stored(file: str) -> tuple[np.ndarray, list[str]]:
    arr = np.load(file, allow_pickle=False)  # a file of this store: plain uint8, no objects
    return arr, [f"#{i}" for i in range(len(arr))]


def reference_set(model: Explained) -> ReferenceImages:
    """The images a channel's visualization is compared with, by name: the default model's
    validation digits, else crops of the built-in photos at the model's side."""
    if model.source == "default":
        return ReferenceImages("digits")
    return ReferenceImages("photos", model.image_size)


def reference_images(model: Explained) -> tuple[np.ndarray, list[str]]:
    """The images of `reference_set(model)` and their names."""
    return reference_set(model).load()
