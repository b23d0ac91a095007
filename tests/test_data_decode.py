"""One image, decoded once and resized once: every mode to RGB (alpha on white, 16 bits scaled),
every accepted format, damaged files and decompression bombs skipped with the reason, and
non-ASCII names kept."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data_cases import (
    Sandbox,
    copies_entries,
    good_entries,
    image_bytes,
    make_zip,
    png,
    png_header,
    same_groups,
    solid,
)
from PIL import Image

from cnnviz import images
from cnnviz.data import DatasetLimits, load_dataset, load_files
from cnnviz.data.decode import DAMAGED, NOT_AN_IMAGE, Skip, decode

SIDE = 16


def decoded(tmp_path: Path, data: bytes, size: int = SIDE, max_pixels: int = 10**6) -> np.ndarray:
    path = tmp_path / "image"
    path.write_bytes(data)
    return decode(path, size, max_pixels)


def skip_reason(tmp_path: Path, data: bytes, max_pixels: int = 40_000_000) -> str:
    with pytest.raises(Skip) as caught:
        decoded(tmp_path, data, max_pixels=max_pixels)
    return str(caught.value)


def mode_image(mode: str) -> tuple[Image.Image, tuple[int, int, int]]:
    """A uniform SIDE x SIDE image in `mode` and the RGB it must become (by hand)."""
    size = (SIDE, SIDE)
    cases: dict[str, tuple[Image.Image, tuple[int, int, int]]] = {
        "1": (Image.new("1", size, 1), (255, 255, 255)),
        "L": (Image.new("L", size, 100), (100, 100, 100)),
        # Fully transparent black: composited on white, it is white.
        "LA": (Image.new("LA", size, (0, 0)), (255, 255, 255)),
        "RGB": (Image.new("RGB", size, (10, 200, 30)), (10, 200, 30)),
        # Red at alpha 128 on white: 200 a + 255 (1 - a), 0 a + 255 (1 - a), a = 128/255.
        "RGBA": (Image.new("RGBA", size, (200, 0, 0, 128)), (227, 127, 127)),
        # PIL's CMYK -> RGB is R = 255 - C - K (clipped) etc.: magenta.
        "CMYK": (Image.new("CMYK", size, (0, 255, 0, 0)), (255, 0, 255)),
        # 16 bits: 65535 -> 255 and 32896 -> 128 (scaled, not clipped to white).
        "I;16": (Image.new("I;16", size, 32896), (128, 128, 128)),
        "I": (Image.new("I", size, 65535), (255, 255, 255)),
    }
    palette = Image.new("P", size, 1)
    palette.putpalette([0, 0, 0, 40, 50, 60] + [0] * 762)
    cases["P"] = (palette, (40, 50, 60))
    transparent = palette.copy()
    transparent.info["transparency"] = 1
    cases["P+transparency"] = (transparent, (255, 255, 255))
    return cases[mode]


MODES = ["1", "L", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "P", "P+transparency"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    img, rgb = mode_image(mode)
    fmt = "TIFF" if mode in ("CMYK", "I") else "PNG"  # PNG cannot hold CMYK or 32-bit I
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    reopened = Image.open(io.BytesIO(buffer.getvalue()))
    assert reopened.mode == img.mode  # the file really holds that mode
    out = decoded(tmp_path, buffer.getvalue())
    assert out.shape == (SIDE, SIDE, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out.reshape(-1, 3), np.tile(rgb, (SIDE * SIDE, 1)), atol=1)


def test_float_images_stretch_to_the_full_range(tmp_path: Path) -> None:
    values = np.zeros((SIDE, SIDE), dtype=np.float32)
    values[:, SIDE // 2 :] = 0.25
    buffer = io.BytesIO()
    Image.fromarray(values, mode="F").save(buffer, format="TIFF")
    out = decoded(tmp_path, buffer.getvalue())
    assert (out[:, 0] == 0).all() and (out[:, -1] == 255).all()


@pytest.mark.parametrize(
    ("fmt", "save", "atol"),
    [
        ("JPEG", {"quality": 95}, 8),
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("GIF", {}, 0),
        ("TIFF", {}, 0),
    ],
)
def test_every_format(tmp_path: Path, fmt: str, save: dict, atol: int) -> None:
    out = decoded(tmp_path, image_bytes(solid((10, 200, 30)), fmt, **save))
    np.testing.assert_allclose(out.reshape(-1, 3), np.tile((10, 200, 30), (SIDE**2, 1)), atol=atol)


def test_formats_not_promised_are_not_images(tmp_path: Path) -> None:
    assert skip_reason(tmp_path, image_bytes(solid(), "PPM")) == NOT_AN_IMAGE
    assert skip_reason(tmp_path, b"just text, named .png") == NOT_AN_IMAGE


def test_truncated_png_does_not_decode(tmp_path: Path) -> None:
    whole = png(side=64)
    assert Image.open(io.BytesIO(whole[: len(whole) // 2])).size == (64, 64)  # header reads
    assert skip_reason(tmp_path, whole[: len(whole) // 2]) == DAMAGED


@pytest.mark.parametrize(
    ("width", "height", "limit", "says"),
    [
        (30000, 30000, 40_000_000, "900.0 megapixels"),  # past PIL's own bomb error
        (8000, 6000, 40_000_000, "8000x6000 pixels, 48.0 megapixels"),  # past ours only
        (40, 40, 1000, "40x40 pixels"),  # a teacher's smaller limit
    ],
)
def test_pixel_bombs_skipped_from_the_header(
    tmp_path: Path, width: int, height: int, limit: int, says: str
) -> None:
    # The file holds no pixel data: "too large" (not "damaged") proves nothing was decoded.
    reason = skip_reason(tmp_path, png_header(width, height), max_pixels=limit)
    assert says in reason and reason.startswith("too large")


def test_center_crop_then_resize(tmp_path: Path) -> None:
    # 40 wide x 20 high: red | green (the middle 20 columns) | blue. The square is all green.
    wide = np.zeros((20, 40, 3), dtype=np.uint8)
    wide[:, :10] = (255, 0, 0)
    wide[:, 10:30] = (0, 255, 0)
    wide[:, 30:] = (0, 0, 255)
    out = decoded(tmp_path, image_bytes(wide), size=10)
    assert (out == (0, 255, 0)).all()


def test_same_pixels_as_a_single_upload(tmp_path: Path) -> None:
    # cnnviz.images.fit (center crop, then bilinear) is the second method.
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ours = decoded(tmp_path, image_bytes(photo), size=24).astype(int)
    assert np.abs(ours - images.fit(photo, 24, 24).astype(int)).max() <= 1


# --- In a dataset ----------------------------------------------------------------------------


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return Sandbox(tmp_path, monkeypatch)


def test_bad_images_listed_and_the_rest_kept(box: Sandbox) -> None:
    whole = png(side=64)
    entries = {
        **good_entries(per_class=2),
        "cat/bomb.png": png_header(30000, 30000),
        "dog/truncated.png": whole[: len(whole) // 2],
        "dog/text.png": b"hello",
    }
    path = box.write("upload.zip", make_zip(entries))
    box.start()
    dataset = load_dataset(path, size=SIDE, limits=DatasetLimits(image_pixels=10**6))
    box.check()
    assert dataset.counts() == {"cat": 2, "dog": 2}
    assert [(s.path, s.reason.split(" (")[0]) for s in dataset.skipped] == [
        ("cat/bomb.png", "too large"),
        ("dog/text.png", "not an image"),
        ("dog/truncated.png", DAMAGED),
    ]


def test_a_class_left_with_one_usable_image_is_rejected(box: Sandbox) -> None:
    from cnnviz.errors import BadDataset

    entries = {**good_entries(("cat",), 2), "dog/a.png": png(5), "dog/b.png": b"not an image"}
    path = box.write("upload.zip", make_zip(entries))
    box.start()
    with pytest.raises(BadDataset, match=r"'dog' has 1 usable image \(1 skipped: not an image"):
        load_dataset(path, size=SIDE)
    box.check()


def test_non_ascii_names_kept(box: Sandbox) -> None:
    entries = {"café/ünïcode.png": png(1), "café/b.png": png(2), "猫/1.png": png(3)}
    entries["猫/2.png"] = png(4)
    data = make_zip(entries)
    assert all(i.flag_bits & 0x800 for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    box.write("data/café/ünïcode.png", png(1))
    box.write("data/café/b.png", png(2))
    box.write("data/猫/1.png", png(3))
    box.write("data/猫/2.png", png(4))
    path = box.write("upload.zip", data)
    box.start()
    from_zip, from_folder = load_dataset(path, size=SIDE), load_dataset(box.inputs / "data")
    box.check()
    assert from_zip.classes == from_folder.classes == ["café", "猫"]
    assert "café/ünïcode.png" in from_zip.paths


def test_cp437_names_as_zipfile_reads_them(box: Sandbox) -> None:
    # Old Windows zips: no UTF-8 flag, names in code page 437, where byte 0x82 is "é".
    data = make_zip({"cafX/1.png": png(1), "cafX/2.png": png(2), **good_entries(("dog",))})
    data = data.replace(b"cafX/", b"caf\x82/")
    path = box.write("upload.zip", data)
    box.start()
    dataset = load_dataset(path, size=SIDE)
    box.check()
    assert dataset.classes == ["café", "dog"]


def test_decoded_pixel_budget_for_the_whole_dataset(box: Sandbox) -> None:
    from cnnviz.errors import DatasetTooLarge

    # Four 16x16 PNGs decode 1,024 pixels: over a budget of 600, the dataset is refused.
    path = box.write("small.zip", make_zip(good_entries()))
    # Four 640x480 JPEGs are 1.2 M pixels as stored, but PIL's draft decodes them at 1/4 scale
    # for a side of 64 (160x120; 1/8 would be 80x60, under 64 high): 76,800 pixels in all.
    photos = iter(np.random.default_rng(0).integers(0, 256, (4, 480, 640, 3), dtype=np.uint8))
    jpegs = {f"{c}/{i}.jpg": image_bytes(next(photos), "JPEG") for c in ("a", "b") for i in (0, 1)}
    jpeg_path = box.write("jpegs.zip", make_zip(jpegs))
    box.start()
    with pytest.raises(DatasetTooLarge, match="more than 600 pixels in all"):
        load_dataset(path, size=SIDE, limits=DatasetLimits(total_pixels=600))
    assert len(load_dataset(path, size=SIDE, limits=DatasetLimits(total_pixels=1024))) == 4
    budget = DatasetLimits(total_pixels=76_800)
    assert len(load_dataset(jpeg_path, size=64, limits=budget)) == 4
    with pytest.raises(DatasetTooLarge):
        load_dataset(jpeg_path, size=64, limits=DatasetLimits(total_pixels=76_799))
    box.check()


def test_exact_duplicates_are_the_same_decoded_pixels(tmp_path: Path) -> None:
    entries, groups, across = copies_entries()
    for data in (
        load_dataset(make_zip(entries), size=SIDE),
        load_files(entries.items(), size=SIDE),  # a folder uploaded file by file
    ):
        found = [[data.paths[i] for i in g] for g in data.duplicates]
        assert same_groups(found, groups)
        assert same_groups([[data.paths[i] for i in g] for g in data.across_classes()], across)
        for group in data.duplicates:
            assert all(data.images[i].equal(data.images[group[0]]) for i in group)


def test_duplicates_are_judged_before_the_resize(tmp_path: Path) -> None:
    """Two photos one pixel apart shrink to the same 8x8 pixels: not copies. The same pixels
    as RGB, as opaque RGBA and as a JPEG's byte-for-byte copy: copies."""
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    nudged = photo.copy()
    nudged[31, 31, 0] ^= 1
    opaque = np.dstack([photo, np.full((64, 64), 255, np.uint8)])
    jpeg = image_bytes(photo, "JPEG", quality=90)
    entries = {
        "a/photo.png": image_bytes(photo),
        "a/nudged.png": image_bytes(nudged),
        "a/opaque.png": image_bytes(opaque),
        "b/photo.jpg": jpeg,
        "b/photo copy.jpg": jpeg,
        "b/other.png": png(5, side=64),
    }
    data = load_dataset(make_zip(entries), size=8)
    index = {p: i for i, p in enumerate(data.paths)}
    assert data.images[index["a/photo.png"]].equal(data.images[index["a/nudged.png"]])
    found = [[data.paths[i] for i in g] for g in data.duplicates]
    assert same_groups(
        found, [["a/photo.png", "a/opaque.png"], ["b/photo.jpg", "b/photo copy.jpg"]]
    )
    assert data.across_classes() == []
