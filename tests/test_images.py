"""Uploads: the app's own pixel limit comes before PIL's, and 16-bit grayscale keeps its tones."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnviz import images, limits
from cnnviz.errors import NotAnImage, OutOfBounds


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds none: what PIL reads before
    decoding is all the size check may look at."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("width", "height", "says"),
    [
        (12000, 12000, "12000x12000 pixels, 144 megapixels"),  # PIL would only warn: 89 M+
        (14000, 14000, "196 megapixels"),  # PIL raises its DecompressionBombError: 179 M+
        (8000, 5001, "8000x5001 pixels, 40 megapixels"),  # just above ours, below PIL's
    ],
)
def test_too_many_pixels_is_the_apps_own_message(width: int, height: int, says: str) -> None:
    with pytest.raises(OutOfBounds) as err:
        images.decode_upload(png_header(width, height))
    assert says in str(err.value) and "limited to 40 megapixels" in str(err.value)
    assert "not an image" not in str(err.value) and "40 megapixels" in err.value.hint


def test_a_real_file_just_above_the_limit_is_refused() -> None:
    side = int(limits.UPLOAD_PIXELS.high**0.5)  # 6324: 6324 x 6334 is just over 40 M
    with pytest.raises(OutOfBounds, match=f"{side + 10}x{side} pixels"):
        images.decode_upload(png(np.zeros((side, side + 10), np.uint8)))


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.array([[0, 257, 32896, 65535], [1000, 20000, 40000, 60000]], np.uint16)
    raw = png(values)
    assert Image.open(io.BytesIO(raw)).mode.startswith("I")  # PIL reads it as 16-bit
    rgb = images.decode_upload(raw)
    assert rgb.shape == (2, 4, 3) and (rgb[..., 0] == rgb[..., 2]).all()
    # Oracle: 16 to 8 bits is value * 255 / 65535 = value / 257, rounded.
    assert (rgb[..., 0] == np.rint(values / 257)).all()
    assert rgb[0].tolist() == [[0] * 3, [1] * 3, [128] * 3, [255] * 3]


def test_garbage_is_still_not_an_image() -> None:
    with pytest.raises(NotAnImage, match="not an image"):
        images.decode_upload(b"\x89PNG\r\n\x1a\n but nothing after the signature")


def test_jpeg_data_uri_is_close_to_the_photo_and_smaller_than_png() -> None:
    picture = images.fit(images.photo("Astronaut"), 224, 224)
    uri = images.jpeg_data_uri(picture)
    head, data = uri.split(",", 1)
    assert head == "data:image/jpeg;base64"
    got = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
    assert got.shape == picture.shape
    error = np.abs(got.astype(np.int16) - picture.astype(np.int16))
    assert error.mean() < 4  # levels of 255: the photo, barely touched
    png = io.BytesIO()
    Image.fromarray(picture).save(png, format="PNG", compress_level=1)
    assert len(data) < len(base64.b64encode(png.getvalue())) / 3  # a third of the PNG's bytes
    gray = picture.mean(axis=2).astype(np.uint8)  # the grayed photo under a heatmap
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(images.jpeg_data_uri(gray)[23:]))))
    assert back.shape == gray.shape and np.abs(back.astype(np.int16) - gray).mean() < 4
