"""Built-in datasets that need no upload and no internet (all ship inside their packages):
scikit-learn's handwritten digits, scikit-image's faces-vs-not-faces subset of LFW, and four
textures cut from scikit-image's photos."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from cnnviz.data import limits as bounds
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


# scikit-image's grayscale 512 x 512 texture photos, one class each.
TEXTURE_PHOTOS = ("brick", "grass", "gravel", "moon")
TEXTURE_TILE = 64  # 8 x 8 tiles a photo: 64 images a class, no pixel in two images


def _standardized(tile: np.ndarray) -> np.ndarray:
    """A tile at mean 128 and standard deviation 40: brightness and contrast tell no class."""
    t = tile.astype(np.float64)
    t = (t - t.mean()) / max(t.std(), 1e-6) * 40.0 + 128.0
    return np.clip(np.rint(t), 0, 255).astype(np.uint8)


def textures(size: int = 64) -> ImageDataset:
    """Brick, grass, gravel and the moon's surface: each 512 x 512 photo cut into 64 tiles of
    64 x 64 that share no pixel, each tile brought to the same mean and contrast, so that only
    texture tells the classes apart (no color, no brightness). 256 images, 4 classes."""
    from skimage import data as photos

    size = bounds.DATASET_IMAGE_SIZE.check(size)
    tiles, labels = [], []
    for label, name in enumerate(TEXTURE_PHOTOS):
        photo = getattr(photos, name)()
        n = photo.shape[0] // TEXTURE_TILE
        for i in range(n):
            for j in range(n):
                tile = photo[
                    i * TEXTURE_TILE : (i + 1) * TEXTURE_TILE,
                    j * TEXTURE_TILE : (j + 1) * TEXTURE_TILE,
                ]
                tiles.append(_standardized(tile))
                labels.append(label)
    return ImageDataset(
        images=_gray_batch(np.stack(tiles), 255.0, size),
        labels=torch.tensor(labels),
        classes=list(TEXTURE_PHOTOS),
    )


BUILTIN: dict[str, Callable[[int], ImageDataset]] = {
    "digits": digits,
    "lfw": lfw,
    "textures": textures,
}
