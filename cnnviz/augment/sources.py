"""The sources the explorer augments, as C x H x W uint8 tensors: scikit-image's bundled photos,
scikit-learn's handwritten digits, or an upload (checked by cnnviz.images.decode_upload).

Built on `cnnviz.images` (the app's input images), at the explorer's own sides."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from cnnviz import images
from cnnviz.augment import limits as augment_limits
from cnnviz.data import limits as data_limits
from cnnviz.data.builtin import digits

PHOTO_SIDE = 224  # ImageNet's training crop: the lecture's networks see photos at this side
DIGIT_SIDE = 32  # LeNet-5's input, as in the live experiments
DIGIT = "Handwritten digit"
SOURCES: tuple[str, ...] = (*images.PHOTOS, DIGIT)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def photo(name: str, side: int = PHOTO_SIDE) -> torch.Tensor:
    """A built-in photo, center-cropped to a square and resized to side x side."""
    side = augment_limits.AUGMENT_SIDE.check(side)
    return _tensor(images.fit(images.photo(name), side, side))


@functools.lru_cache(maxsize=4)
def _digits(side: int):
    return digits(side)


def digit(label: int, index: int = 0, side: int = DIGIT_SIDE) -> torch.Tensor:
    """The index-th handwritten `label` of load_digits (8x8, upscaled bilinearly to side)."""
    if not 0 <= label <= 9:
        raise ValueError(f"a digit is 0 to 9, not {label}")
    data = _digits(data_limits.DATASET_IMAGE_SIZE.check(side))
    rows = torch.nonzero(data.labels == label).flatten()
    return data.images[int(rows[index % len(rows)])].clone()


def upload(raw: bytes, side: int = PHOTO_SIDE) -> torch.Tensor:
    """An uploaded PNG/JPEG/WEBP as a side x side square; NotAnImage or OutOfBounds (too many
    pixels, refused from the header before decoding) otherwise."""
    side = augment_limits.AUGMENT_SIDE.check(side)
    return _tensor(images.fit(images.decode_upload(raw), side, side))


def source(name: str, label: int = 6) -> torch.Tensor:
    """An image by its name in SOURCES (the digit's label for the handwritten digit)."""
    if name == DIGIT:
        return digit(label)
    return photo(name)


def six_and_nine(index: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A handwritten 6, the same 6 rotated by 180 degrees, and a real 9: the rotation a
    digit classifier must not be invariant to (lecture section 1)."""
    six = digit(6, index)
    return six, F.rotate(six, 180.0), digit(9, index)
