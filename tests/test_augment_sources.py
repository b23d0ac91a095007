"""The explorer's images: built-in photos and digits as uint8 squares, uploads checked."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from cnnviz.augment import sources
from cnnviz.errors import NotAnImage, OutOfBounds
from cnnviz.plots.augment import grid_columns, tile, view_format
from tests.test_images import png_header


@pytest.mark.parametrize("name", sources.SOURCES)
def test_every_source_is_a_square_uint8_image(name):
    image = sources.source(name)
    side = sources.DIGIT_SIDE if name == sources.DIGIT else sources.PHOTO_SIDE
    assert image.dtype == torch.uint8 and image.shape == (3, side, side)
    assert image.float().std() > 10  # a picture, not a blank


def test_the_digit_is_scikit_learns_digit_upscaled():
    data = load_digits()
    first_six = data.images[list(data.target).index(6)]  # 8x8, values 0..16
    six = sources.digit(6)
    # Shrunk back to 8x8 (mean of each 4x4 block), it is the original digit, scaled to 0..255.
    blocks = six[0].float().reshape(8, 4, 8, 4).mean(dim=(1, 3)) / 255 * 16
    assert np.corrcoef(blocks.flatten(), first_six.flatten())[0, 1] > 0.95


def test_the_six_turned_over_looks_like_a_nine_more_than_like_a_six():
    six, turned, nine = sources.six_and_nine()
    assert torch.equal(turned, torch.flip(six, dims=(-2, -1)))  # 180 degrees: both axes

    def distance(a, b):
        return float((a.float() - b.float()).abs().mean())

    assert distance(turned, nine) < distance(turned, six)


def encoded(fmt: str, side: int = 50) -> bytes:
    buffer = io.BytesIO()
    rgb = np.random.default_rng(0).integers(0, 256, (side, side + 20, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_uploads_become_square_images(fmt):
    image = sources.upload(encoded(fmt))
    assert image.shape == (3, sources.PHOTO_SIDE, sources.PHOTO_SIDE) and image.dtype == torch.uint8


def test_bad_uploads_are_clear_errors():
    with pytest.raises(NotAnImage):
        sources.upload(b"this is not an image")
    with pytest.raises(OutOfBounds, match="megapixels"):
        sources.upload(png_header(9000, 9000))


def test_tiles_are_crisp_nearest_neighbour_enlargements():
    digit = sources.digit(3)
    big = tile(digit)
    assert big.shape == (384, 384, 3)
    # every 12x12 block is one original pixel
    assert np.array_equal(big[::12, ::12], digit.permute(1, 2, 0).numpy())
    assert np.array_equal(big[11::12, 11::12], digit.permute(1, 2, 0).numpy())
    assert view_format(digit) == "PNG" and view_format(sources.photo("Coffee")) == "JPEG"
    photo = sources.photo("Coffee")
    assert np.array_equal(tile(photo), photo.permute(1, 2, 0).numpy())  # large enough already
    assert [grid_columns(n) for n in (1, 3, 6, 8, 9, 24)] == [1, 3, 3, 4, 3, 4]
