"""Helpers for the cnnviz.data tests: images and archives built in the test's own tmp_path,
and a sandbox that proves nothing was written outside the temporary folder."""

from __future__ import annotations

import io
import stat
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def image_bytes(array: np.ndarray, fmt: str = "PNG", **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def solid(color: tuple[int, int, int] = (10, 200, 30), side: int = 16) -> np.ndarray:
    return np.full((side, side, 3), color, dtype=np.uint8)


def png(seed: int = 0, side: int = 16) -> bytes:
    """A small random RGB PNG (distinct per seed)."""
    rng = np.random.default_rng(seed)
    return image_bytes(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds none (a decompression bomb's
    header: all the size check may look at)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def good_entries(classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 2) -> dict:
    return {
        f"{name}/{i}.png": png(seed=10 * c + i)
        for c, name in enumerate(classes)
        for i in range(per_class)
    }


def make_zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    """A zip of name -> bytes (names written as given, even unsafe ones); symlinks are entries
    whose external_attr marks a symbolic link (their bytes are the link target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


class Sandbox:
    """tempfile's folder and the working directory moved into tmp_path; check() asserts that
    tmp_path holds exactly what it held before (the temporary folder emptied again)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path
        self.inputs = tmp_path / "in"
        self.temp = tmp_path / "temp"
        for folder in (self.inputs, self.temp, tmp_path / "cwd"):
            folder.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(self.temp))
        monkeypatch.chdir(tmp_path / "cwd")
        self.before: list[str] | None = None

    def listing(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*"))

    def write(self, name: str, data: bytes) -> Path:
        path = self.inputs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def start(self) -> None:
        """Snapshot after the test wrote its inputs."""
        self.before = self.listing()

    def check(self) -> None:
        assert self.before is not None, "call start() after writing the inputs"
        assert self.listing() == self.before
        assert not any(self.temp.iterdir())


def copies_entries(
    classes: tuple[str, ...] = ("cat", "dog", "fox"), per_class: int = 8, copied: int = 3
) -> tuple[dict[str, bytes], list[list[str]], list[list[str]]]:
    """A dataset with a student's slips, and the oracle: (entries, groups, across classes).

    Each class: per_class distinct photos, and renamed copies of the first `copied` ones (same
    bytes). The first class's first photo is also saved as a BMP (same pixels, other bytes):
    a group of three. The first class's photo 1 is also in the second class (a labeling slip).
    The last photo of the first class is edited by one pixel: a near-copy, not a duplicate.
    """
    entries: dict[str, bytes] = {}
    groups: list[list[str]] = []
    rng = np.random.default_rng(17)
    first, second = classes[0], classes[1]
    for name in classes:
        pictures = rng.integers(0, 256, (per_class, 16, 16, 3), dtype=np.uint8)
        for i, picture in enumerate(pictures):
            entries[f"{name}/IMG_{i:02d}.png"] = image_bytes(picture)
        for i in range(copied):
            copy = f"{name}/IMG_{i:02d} (copy).png"
            entries[copy] = entries[f"{name}/IMG_{i:02d}.png"]
            groups.append([f"{name}/IMG_{i:02d}.png", copy])
        if name == first:
            entries[f"{name}/IMG_00.bmp"] = image_bytes(pictures[0], "BMP")
            groups[0].append(f"{name}/IMG_00.bmp")
            edited = pictures[-1].copy()
            edited[0, 0, 0] ^= 1
            entries[f"{name}/IMG_{per_class - 1:02d} edited.png"] = image_bytes(edited)
    slip = [f"{first}/IMG_01.png", f"{second}/from {first}.png"]
    entries[slip[1]] = entries[slip[0]]
    group = next(g for g in groups if slip[0] in g)
    group.append(slip[1])
    return entries, groups, [group]


def same_groups(found: list[list[str]], expected: list[list[str]]) -> bool:
    """The same groups of paths, whatever the order of the groups and of their paths."""
    return sorted(map(sorted, found)) == sorted(map(sorted, expected))
