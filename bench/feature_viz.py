"""Benchmark: seconds per channel of feature visualization (cnnviz.explain.feature_viz) on the
CPU: the default LeNet-5 at 32 px (256 steps, the tab's default) and ResNet-18 (seeded random
weights: the cost does not depend on the weights) at the tab's 128 px and at 224 px (128
steps, the tab's default for ImageNet models). One channel alone, and a batch of channels
optimized together (the tab's default is four), per channel. Medians of `--repeats` after a
warm-up. Prints figures; asserts nothing.

    python bench/feature_viz.py [--repeats 3] [--threads 2] [--skip-224]

Target (issue 19): under 5 s per channel for LeNet-5 at 32 px.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from cnnviz.explain import feature_viz, models
from cnnviz.explain.feature_viz import Settings


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-224", action="store_true", help="only ResNet-18 at 128 px")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), medians of {args.repeats}")
    cases = [
        ("LeNet-5 (digits)", models.default(), "c3", 32, 256),
        ("ResNet-18 (random)", models.imagenet("resnet18", pretrained=False), "layer3", 128, 128),
    ]
    if not args.skip_224:
        resnet = models.imagenet("resnet18", pretrained=False)
        cases.append(("ResNet-18 (random)", resnet, "layer4", 224, 128))
    print(f"{'model':<20} {'layer':<7} {'side':>5} {'steps':>6} {'channels':>9} "
          f"{'s total':>8} {'s/channel':>10}")  # fmt: skip
    for title, model, layer, side, steps in cases:
        for n in (1, 4):
            settings = Settings(steps=steps, side=side, seed=0)

            def run(model=model, layer=layer, n=n, settings=settings) -> None:
                feature_viz.visualize(model, layer, list(range(n)), settings)

            t = median_seconds(run, args.repeats)
            print(f"{title:<20} {layer:<7} {side:>5} {steps:>6} {n:>9} {t:>8.2f} {t / n:>10.2f}")


if __name__ == "__main__":
    main()
