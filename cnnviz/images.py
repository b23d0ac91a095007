"""Input images: built-in photos (scikit-image), uploads decoded in memory, and network inputs."""

from __future__ import annotations

import base64
import functools
import io
import re
import warnings
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from skimage import data

from cnnviz import limits
from cnnviz.errors import CnnvizError, NotAnImage

PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "Astronaut": data.astronaut,
    "Cat (Chelsea)": data.chelsea,
    "Coffee": data.coffee,
    "Rocket": data.rocket,
}
# torchvision's ImageNet normalization, which its pretrained weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_PIXELS = limits.UPLOAD_PIXELS.high  # larger uploads are refused, not decoded


@functools.lru_cache(maxsize=len(PHOTOS))
def _photo(name: str) -> np.ndarray:
    return np.ascontiguousarray(PHOTOS[name]())


def photo(name: str) -> np.ndarray:
    """A built-in photo as an H x W x 3 uint8 array (a copy: callers may draw on it)."""
    if name not in PHOTOS:
        raise KeyError(f"no built-in photo {name!r}; photos: {', '.join(PHOTOS)}")
    return _photo(name).copy()


def decode_upload(raw: bytes) -> np.ndarray:
    """The uploaded bytes as an H x W x 3 uint8 RGB array.

    OutOfBounds for an image over `limits.UPLOAD_PIXELS` (read from its header, before any
    decoding), NotAnImage for anything PIL cannot read.
    """
    try:
        with warnings.catch_warnings():
            # PIL's own decompression-bomb check warns from 89 M pixels and raises from 179 M;
            # ours (40 M) comes first and says what the limit is.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                limits.check_upload(img.width, img.height)
                return _rgb(img)
    except Image.DecompressionBombError as err:  # beyond PIL's hard limit: no size but its count
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        limits.check_upload(None, None, int(pixels.group(1)) if pixels else 2**62)
        raise NotAnImage(str(err)) from None
    except (OSError, ValueError, SyntaxError) as err:
        if isinstance(err, CnnvizError):
            raise
        raise NotAnImage("This file is not an image PIL can read: upload a PNG or JPEG.") from None


# 16-bit grayscale (PNG, TIFF): PIL's convert("RGB") clips every value above 255 to white.
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def _rgb(img: Image.Image) -> np.ndarray:
    """Any PIL image as H x W x 3 uint8, 16-bit grayscale scaled (65535 -> 255), not clipped."""
    if img.mode in _SIXTEEN_BIT:
        values = np.asarray(img, dtype=np.float64)
        # Mode I also holds 32-bit images: scale by their own maximum where it exceeds 16 bits.
        top = max(65535.0, float(values.max(initial=0)))
        gray = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        low, high = float(values.min(initial=0)), float(values.max(initial=0))
        gray = np.rint((values - low) * (255.0 / (high - low or 1.0))).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


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


def jpeg_data_uri(image: np.ndarray, quality: int = 90) -> str:
    """An H x W x 3 or H x W uint8 photo as a JPEG data URI, for a figure's `go.Image(source=)`.

    For natural images only (lossy: edges of synthetic images ring). Plotly would otherwise send
    the pixels as an array the browser paints one by one; a photo as JPEG is a fraction of the
    bytes of the same photo as PNG, for every redraw, with its pixels a few levels of 255 off
    (tests/test_images.py checks both).
    """
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


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
