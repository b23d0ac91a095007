"""Built-in datasets that need no upload and no internet (both ship inside their packages):
scikit-learn's handwritten digits and scikit-image's faces-vs-not-faces subset of LFW."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from cnnviz import limits as bounds
from cnnviz.data.dataset import ImageDataset


def _gray_batch(values: np.ndarray, top: float, size: int) -> torch.Tensor:
    """N x H x W grayscale in [0, top] as N x 3 x size x size uint8, upscaled bilinearly."""
    gray = torch.from_numpy(np.rint(values * (255.0 / top)).astype(np.uint8)).unsqueeze(1)
    resized = F.resize(gray, [size, size], interpolation=F.InterpolationMode.BILINEAR)
    return resized.expand(-1, 3, -1, -1).contiguous()


def digits(size: int = 64) -> ImageDataset:
    """load_digits: 1,797 8x8 handwritten digits (values 0 to 16), 10 classes '0' to '9'."""
    from sklearn.datasets import load_digits  # scikit-learn imports slowly: only when used

    size = bounds.DATASET_IMAGE_SIZE.check(size)
    data = load_digits()
    return ImageDataset(
        images=_gray_batch(data.images, 16.0, size),
        labels=torch.from_numpy(data.target.astype(np.int64)),
        classes=[str(d) for d in range(10)],
    )


def lfw(size: int = 64) -> ImageDataset:
    """lfw_subset: 200 25x25 grayscale crops, the first 100 faces, the next 100 not faces."""
    from skimage.data import lfw_subset

    size = bounds.DATASET_IMAGE_SIZE.check(size)
    faces = lfw_subset()
    return ImageDataset(
        images=_gray_batch(faces, 1.0, size),
        labels=torch.repeat_interleave(torch.tensor([0, 1]), 100),
        classes=["face", "not face"],
    )


BUILTIN: dict[str, Callable[[int], ImageDataset]] = {"digits": digits, "lfw": lfw}
