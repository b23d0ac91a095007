"""Benchmark: decode + resize throughput of cnnviz.data, 200 images at 224 (and smaller sides).

Cases, each a zip built in memory from scikit-image's photos (random crops, so no two files
are the same): small PNGs (64x64, the issue's "200 small images"), phone-like JPEGs (640x480,
decoded at reduced scale by PIL's draft mode) and PNGs of the same size (no such shortcut).
Prints the seconds for load_dataset (unzip into the workspace + decode + resize) and images
per second, median of --repeats runs after a warm-up. Asserts nothing.

    python bench/data.py [--images 200] [--size 224] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python bench/data.py` from anywhere, even without `pip -e`

from cnnviz import images  # noqa: E402
from cnnviz.data import load_dataset  # noqa: E402

CASES = {  # name: (width, height, format)
    "png 64x64": (64, 64, "PNG"),
    "jpeg 640x480": (640, 480, "JPEG"),
    "png 640x480": (640, 480, "PNG"),
}


def build_zip(count: int, width: int, height: int, fmt: str, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    photos = [images.photo(name) for name in images.PHOTOS]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            photo = photos[i % len(photos)]
            crop = Image.fromarray(photo).resize((max(width, 300), max(height, 300)))
            left = int(rng.integers(0, crop.width - width + 1))
            top = int(rng.integers(0, crop.height - height + 1))
            tile = crop.crop((left, top, left + width, top + height))
            out = io.BytesIO()
            tile.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            archive.writestr(f"class{i % 2}/{i:04d}.{fmt.lower()}", out.getvalue())
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}; {args.images} images at {args.size}")
    print(f"{'case':<14} {'zip MB':>7} {'seconds':>8} {'images/s':>9}")
    for name, (width, height, fmt) in CASES.items():
        data = build_zip(args.images, width, height, fmt)
        load_dataset(data, size=args.size)  # warm-up: plugin imports, first allocations
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            dataset = load_dataset(data, size=args.size)
            times.append(time.perf_counter() - start)
        assert len(dataset) == args.images
        seconds = statistics.median(times)
        print(f"{name:<14} {len(data) / 1e6:>7.1f} {seconds:>8.3f} {args.images / seconds:>9,.0f}")


if __name__ == "__main__":
    main()
