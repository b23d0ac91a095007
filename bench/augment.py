"""Benchmark: the augmentation pipeline's throughput on a batch vs image by image, and the
explorer's grid (cnnviz.augment.draws.draw) for the page's pipelines.

1. Images per second of a pipeline on digits at 32x32 (the live experiments' input): one call
   on a B x 3 x 32 x 32 batch, against B calls on single images. A v2 transform called on a
   batch draws ONE set of random parameters for the whole batch (same angle, same crop box);
   image by image, every image gets its own, which is what augmentation means. The figure
   says what per-image randomness costs.
2. Seconds for the page's grid: N draws (6 and 24) of each pipeline on a 224x224 photo and on
   a 32x32 digit, median of --repeats, each on one torch thread as the page runs it.

Asserts nothing.

    python bench/augment.py [--batch 256] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `python bench/augment.py` from anywhere, even without `pip -e`

from cnnviz.augment import build, make_step  # noqa: E402
from cnnviz.augment.draws import draw  # noqa: E402
from cnnviz.augment.sources import digit, photo  # noqa: E402
from cnnviz.data.builtin import digits  # noqa: E402

PIPELINES = {
    "page default (crop, flip, jitter)": [
        ("Random resized crop", {"size": 32}),
        ("Horizontal flip", {}),
        ("Color jitter", {}),
    ],
    "rotation 45 + noise 0.1": [("Rotation", {"degrees": 45}), ("Gaussian noise", {})],
    "affine + elastic": [("Affine (rotate, shift, scale, shear)", {}), ("Elastic", {"sigma": 3})],
    "RandAugment": [("RandAugment", {})],
    "AugMix": [("AugMix", {})],
}


def median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(batch: int, repeats: int) -> None:
    images = digits(32).images[:batch]
    print(f"\n1. Pipeline on {batch} digits at 32x32 (images per second, median of {repeats})")
    print(f"{'pipeline':36} {'one batch call':>15} {'image by image':>15} {'ratio':>7}")
    for name, steps in PIPELINES.items():
        pipeline = build([make_step(n, v) for n, v in steps])
        whole = median_s(lambda p=pipeline: p(images), repeats)
        single = median_s(lambda p=pipeline: [p(x) for x in images], repeats)
        print(f"{name:36} {batch / whole:15,.0f} {batch / single:15,.0f} {single / whole:6.1f}x")


def grid(repeats: int) -> None:
    print(f"\n2. The page's grid: seconds for N draws (median of {repeats})")
    print(f"{'pipeline':36} {'photo N=6':>10} {'photo N=24':>11} {'digit N=6':>10}")
    pictures = {"photo": photo("Astronaut"), "digit": digit(6)}
    for name, steps in PIPELINES.items():
        row = []
        for picture, n in (("photo", 6), ("photo", 24), ("digit", 6)):
            image = pictures[picture]
            side = image.shape[-1]
            made = [make_step(s, {**v, "size": side} if "size" in v else v) for s, v in steps]
            row.append(median_s(lambda i=image, m=made, k=n: draw(i, m, k, 0), repeats))
        print(f"{name:36} {row[0]:10.3f} {row[1]:11.3f} {row[2]:10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load {load:.1f}")
    throughput(args.batch, args.repeats)
    grid(args.repeats)


if __name__ == "__main__":
    main()
