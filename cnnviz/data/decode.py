"""One image file -> S x S x 3 uint8 RGB, decoded once and resized once, or the reason to skip it.

Policy: center-crop to a square, then resize to S x S (bilinear, antialiased when shrinking), as
cnnviz.images.fit does for single uploads: objects keep their proportions.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from cnnviz.images import _rgb

# The formats the page promises. Image.open tries only these plugins: no EPS (Ghostscript), no
# exotic decoders on student files. (The JPEG plugin also opens phones' MPO files.)
FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF")
NOT_AN_IMAGE = "not an image (JPEG, PNG, BMP, WEBP, GIF or TIFF)"
DAMAGED = "damaged image: it does not decode"
_WHITE = (255, 255, 255, 255)
Image.init()  # registers every plugin: Image.open(formats=...) looks the names up directly


class Skip(Exception):
    """This file is left out of the dataset; str(err) says why (a phrase for the list)."""


def too_large(pixels: int, limit: int, width: int | None = None, height: int | None = None) -> Skip:
    size = f"{width}x{height} pixels, " if width and height else ""
    return Skip(
        f"too large ({size}{pixels / 1e6:,.1f} megapixels): the limit is "
        f"{limit / 1e6:,.1f} megapixels"
    )


def open_checked(path: Path, max_pixels: int) -> Image.Image:
    """The image, opened lazily (header only) and within the pixel limit; Skip otherwise."""
    try:
        with warnings.catch_warnings():
            # PIL warns from 89 M pixels and raises from 179 M; our limit speaks first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path, formats=FORMATS)
    except Image.DecompressionBombError as err:  # beyond PIL's own limit: it says the count
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise too_large(int(found.group(1)) if found else max_pixels + 1, max_pixels) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise Skip(NOT_AN_IMAGE) from None
    if img.width * img.height > max_pixels:
        img.close()
        raise too_large(img.width * img.height, max_pixels, img.width, img.height)
    return img


def to_rgb(img: Image.Image) -> np.ndarray:
    """H x W x 3 uint8: alpha composited on white, 16-bit and float scaled (cnnviz.images)."""
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, _WHITE)
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return _rgb(img)


def square_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The centered square crop of a width x height image, as a PIL box."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


class OverBudget(Exception):
    """Decoding this file would pass the dataset's budget of decoded pixels."""


def pixel_digest(rgb: np.ndarray) -> bytes:
    """A fingerprint of decoded pixels (H x W x 3 uint8) and their size: equal for two files
    exactly when they decode to the same image (SHA-256: no accidental collision; with the
    CPU's SHA instructions it is faster than BLAKE2b, measured).

    Taken before the crop and the resize: two different photos that shrink to the same few
    pixels are not called copies. (A JPEG's pixels are those of the scale it is decoded at, 1/8
    at most for a small side: a byte-for-byte copy always matches; two JPEGs whose 8x8 blocks
    differ but keep the same averages may match too at 1/8, and those are near-copies anyway.)
    """
    digest = hashlib.sha256()
    digest.update(np.asarray(rgb.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.digest()


def decode_image(
    path: Path, size: int, max_pixels: int, budget: int | None = None
) -> tuple[Image.Image, int, bytes]:
    """The file as a size x size RGB image (center square, resized once), the number of
    pixels decoded for it and their digest (pixel_digest); Skip for a file left out,
    OverBudget past `budget` pixels."""
    img = open_checked(path, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # JPEG decodes at 1/2, 1/4 or 1/8 scale directly when that still covers size x size.
            img.draft("RGB", (size, size))
            decoded = img.width * img.height  # what decoding costs, after the draft
            if budget is not None and decoded > budget:
                raise OverBudget(path)
            rgb = to_rgb(img)
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        raise Skip(DAMAGED) from None
    finally:
        img.close()
    digest = pixel_digest(rgb)
    height, width = rgb.shape[:2]
    # Crop, then resize: resize(box=...) would blend in pixels from beyond the crop's edges.
    square = (
        Image.fromarray(rgb)
        .crop(square_box(width, height))
        .resize((size, size), Image.Resampling.BILINEAR)
    )
    return square, decoded, digest


def decode(path: Path, size: int, max_pixels: int) -> np.ndarray:
    """The file as size x size x 3 uint8 RGB (center square, resized once); Skip otherwise."""
    return np.array(decode_image(path, size, max_pixels)[0])


def decode_into(
    out: np.ndarray, path: Path, max_pixels: int, budget: int | None = None
) -> tuple[int, bytes]:
    """Decode into out, a 3 x S x S uint8 view of the dataset's batch; the pixels decoded and
    their digest (pixel_digest, to find exact duplicates).

    Band by band: contiguous copies, several times faster than transposing H x W x 3.
    """
    square, decoded, digest = decode_image(path, out.shape[-1], max_pixels, budget)
    for channel, band in enumerate(square.split()):
        out[channel] = np.asarray(band)
    return decoded, digest
