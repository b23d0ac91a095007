"""Input images: built-in photos (scikit-image), uploads decoded in memory, and network inputs."""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from skimage import data

from cnnviz.errors import NotAnImage

PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "Astronaut": data.astronaut,
    "Cat (Chelsea)": data.chelsea,
    "Coffee": data.coffee,
    "Rocket": data.rocket,
}
# torchvision's ImageNet normalization, which its pretrained weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_PIXELS = 40_000_000  # larger uploads are refused, not decoded


@functools.lru_cache(maxsize=len(PHOTOS))
def _photo(name: str) -> np.ndarray:
    return np.ascontiguousarray(PHOTOS[name]())


def photo(name: str) -> np.ndarray:
    """A built-in photo as an H x W x 3 uint8 array (a copy: callers may draw on it)."""
    if name not in PHOTOS:
        raise KeyError(f"no built-in photo {name!r}; photos: {', '.join(PHOTOS)}")
    return _photo(name).copy()


def decode_upload(raw: bytes) -> np.ndarray:
    """The uploaded bytes as an H x W x 3 uint8 RGB array; NotAnImage otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise NotAnImage(
                        f"the image is {img.width}x{img.height} pixels; "
                        f"upload one under {MAX_PIXELS // 1_000_000} megapixels"
                    )
                return np.asarray(img.convert("RGB"))
    except NotAnImage:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAnImage("This file is not an image PIL can read: upload a PNG or JPEG.") from None


def fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Center-crop to the aspect ratio of height x width, then resize to it (RGB uint8)."""
    h, w = image.shape[:2]
    if h * width > w * height:  # too tall: crop rows
        keep = max(1, round(w * height / width))
        top = (h - keep) // 2
        image = image[top : top + keep]
    else:
        keep = max(1, round(h * width / height))
        left = (w - keep) // 2
        image = image[:, left : left + keep]
    rgb = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    return np.asarray(rgb.resize((width, height), Image.Resampling.BILINEAR))


def to_input(image: np.ndarray, channels: int = 3) -> torch.Tensor:
    """A 1 x C x H x W float tensor: ImageNet-normalized RGB for 3 channels, else standardized
    grayscale repeated over the channels (LeNet's 1 channel, a block's 256)."""
    x = torch.from_numpy(np.array(image, dtype=np.float32) / 255).permute(2, 0, 1)
    if channels == 3:
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        return ((x - mean) / std).unsqueeze(0)
    gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
    gray = (gray - gray.mean()) / gray.std().clamp_min(1e-6)
    return gray.expand(channels, -1, -1).unsqueeze(0).contiguous()
